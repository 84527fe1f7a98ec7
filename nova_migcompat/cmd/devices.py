"""``nova-migcompat device list|check``: this host's devices.

Joins what the device sources found with what the formats understand of
each string and the trait it publishes as, and optionally runs every
source's target-side check of every local string against every local
device.
"""

import dataclasses
import typing

from oslo_log import log as logging

from nova_migcompat.agent import device as device_mod
from nova_migcompat.agent import device_process
from nova_migcompat.agent import reporter
from nova_migcompat.agent import source as sources_mod
from nova_migcompat.agent import sysfs as sysfs_mod
from nova_migcompat import codec
from nova_migcompat import exception
from nova_migcompat import formats
from nova_migcompat.osc.v1 import base

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Row:
    """One device, and what can be said of its string."""

    source: typing.Any
    device: typing.Any
    format: typing.Optional[str] = None
    summary: typing.Optional[str] = None
    token: typing.Optional[str] = None
    problem: typing.Optional[str] = None
    #: The tokens of its SRC traits (a long string's parts).
    parts: tuple = ()

    @property
    def src_trait(self):
        """Its SRC trait; a long string's id and the count of its parts."""
        if not self.token:
            return None
        if len(self.parts) > 1:
            return '%s (%d parts)' % (codec.trait(codec.SRC, self.token),
                                      len(self.parts))
        return codec.trait(codec.SRC, self.token)

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
            'src_traits': [codec.trait(codec.SRC, part)
                           for part in self.parts],
            'instance': dev.instance,
            'facts': dict(dev.facts),
            'problem': self.problem,
        }


def describe(source, device):
    """Parse and encode one device's string; problems are recorded."""
    row = Row(source=source, device=device, problem=device.error)
    if device.unmigratable is not None:
        row.problem = 'not migratable: %s' % device.unmigratable
        return row
    if not device.tracked:
        if row.problem is None:
            row.problem = ('no migration_version and no descriptor '
                           '([migcompat]synthesize_descriptors)')
        return row
    try:
        parsed = formats.parse(device.string, where=device.name)
        row.format = parsed.format
        row.summary = parsed.summary()
    except exception.ParseError as e:
        row.format = 'malformed'
        row.problem = str(e)
    try:
        encoded = codec.encode_string(device.string)
        row.token, row.parts = encoded.id, encoded.parts
    except exception.UnpublishableString as e:
        row.problem = 'unpublishable: %s' % e
    return row


def check_matrix(rows):
    """Every distinct local string checked against every local device.

    Each device is asked through the source that found it.
    """
    producers, seen = [], set()
    for row in rows:
        if row.token and row.device.string not in seen:
            seen.add(row.device.string)
            producers.append(row)
    matrix = []
    for target in rows:
        if not target.device.tracked:
            continue
        results = {}
        for producer in producers:
            verdict = target.source.check(target.device,
                                          producer.device.string)
            results[producer.device.name] = {'result': verdict.result,
                                             'reason': verdict.reason}
        matrix.append({'target': target.device.name, 'results': results})
    return matrix


def _sources(conf, parsed_args):
    """The configured sources, in their device process (close them)."""
    if parsed_args.sysfs_root:
        conf.set_override('sysfs_root', parsed_args.sysfs_root, 'migcompat')
    try:
        return device_process.load(conf)
    except device_process.SourcesNotLoaded as e:
        raise base.CommandError(str(e))


def _rows(sources):
    rows = [describe(source, dev)
            for source, dev in sources_mod.discover(sources)]
    # The budget of SRC traits per provider, as the agent keeps it: a
    # pGPU's mdev types and instances, the host's PCI functions.
    providers = {}
    for row in rows:
        if row.parts and not row.problem and \
                row.device.kind in reporter.PRODUCERS:
            key = (None if row.device.kind == device_mod.PCI
                   else row.device.parent)
            providers.setdefault(key, []).append(row)
    for key, found in providers.items():
        over = set(reporter.over_budget((r.device, r.parts) for r in found))
        for row in found:
            if row.device.name in over:
                row.problem = 'unpublishable: %s' % reporter.budget_words(
                    'the provider of pGPU %s' % key if key else
                    "the host's root provider")
    return rows


class _LocalCommand(base.Lister):

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--sysfs-root', metavar='DIR',
            help='Read the devices under DIR instead of '
                 '[migcompat]sysfs_root')
        return parser


class ListDevices(_LocalCommand):
    """List this host's migratable devices, their strings and traits.

    The devices the configured sources ([migcompat]device_sources) find:
    mdev types, mdev instances and PCI functions with a migration_version
    attribute or a synthesized descriptor.  Format and Summary say what
    the string is; SRC trait is the trait it publishes as; Problem says why
    a device cannot be reported.  Nothing is written and placement is not
    asked.
    """

    examples = (
        ('', "the host's devices (/sys)"),
        ('--long -f json', 'with paths, strings and driver facts, as JSON'),
    )

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--long', action='store_true',
                            help='Also show each path, string and the '
                                 "driver's facts")
        return parser

    def take_action(self, parsed_args):
        sources = _sources(self.app.conf, parsed_args)
        try:
            rows = _rows(sources)
        finally:
            device_process.close(sources)
        sysfs = sysfs_mod.Sysfs(self.app.conf.migcompat.sysfs_root)
        if not rows:
            LOG.warning('No migratable device under %s: the device sources '
                        'found no mdev type, mdev or PCI function',
                        sysfs.root)
        columns = ('Device', 'Kind', 'Origin', 'Format', 'Summary',
                   'SRC trait', 'Problem')
        if parsed_args.long:
            columns += ('Path', 'Parent', 'mdev type', 'Instance', 'String',
                        'Facts')
        data = []
        for r in rows:
            row = (r.device.name, r.device.kind, r.device.origin, r.format,
                   r.summary, r.src_trait, r.problem)
            if parsed_args.long:
                dev = r.device
                row += (sysfs.relative(dev.path), dev.parent, dev.mdev_type,
                        dev.instance, dev.string, base.DictColumn(dev.facts))
            data.append(row)
        return columns, data


class CheckDevices(_LocalCommand):
    """Run the target-side check of every local string on every device.

    Each device with a string is asked, through the source that found it,
    whether it accepts the string of every other local device: for a
    writable migration_version, the kernel's write check; otherwise the
    policy of the string's format.  Result is accepts, refuses or unknown
    (the device could not tell); Reason says why.  Only migration_version
    attributes are written, and placement is not asked.
    """

    examples = (
        ('', 'every local string against every local device'),
        ('-f csv', 'the same, as CSV'),
    )

    def take_action(self, parsed_args):
        sources = _sources(self.app.conf, parsed_args)
        try:
            # A device that hangs is unknown after [migcompat]
            # device_timeout; the command does not wait for it to end.
            matrix = check_matrix(_rows(sources))
        finally:
            device_process.close(sources)
        data = []
        for row in matrix:
            for producer, verdict in row['results'].items():
                data.append((row['target'], producer, verdict['result'],
                             verdict['reason']))
        return ('Target', 'String of', 'Result', 'Reason'), data
