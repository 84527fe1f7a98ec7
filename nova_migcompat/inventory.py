"""A host's devices as the operator tool and the agent present them.

Joins what the device sources found with what the formats understand of
each string and the token it publishes as.
"""

import dataclasses
import typing

from nova_migcompat import codec
from nova_migcompat import exception
from nova_migcompat import formats


@dataclasses.dataclass
class Entry:
    device: typing.Any
    format: typing.Optional[str] = None
    summary: typing.Optional[str] = None
    token: typing.Optional[str] = None
    problem: typing.Optional[str] = None

    @property
    def src_trait(self):
        return codec.trait(codec.SRC, self.token) if self.token else None

    def as_dict(self, sysfs):
        dev = self.device
        return {
            'name': dev.name,
            'kind': dev.kind,
            'path': sysfs.relative(dev.path),
            'parent': dev.parent,
            'mdev_type': dev.mdev_type,
            'origin': dev.origin,
            'string': dev.string,
            'format': self.format,
            'summary': self.summary,
            'token': self.token,
            'src_trait': self.src_trait,
            'facts': dict(dev.facts),
            'problem': self.problem,
        }


def describe(device):
    """Parse and encode one device's string; problems are recorded."""
    entry = Entry(device=device, problem=device.error)
    if not device.tracked:
        if entry.problem is None:
            entry.problem = 'no migration_version and no descriptor'
        return entry
    try:
        parsed = formats.parse(device.string, where=device.name)
        entry.format = parsed.format
        entry.summary = parsed.summary()
    except exception.ParseError as e:
        entry.format = 'malformed'
        entry.problem = str(e)
    try:
        entry.token = codec.encode(device.string)
    except exception.UnpublishableString as e:
        entry.problem = 'unpublishable: %s' % e
    return entry
