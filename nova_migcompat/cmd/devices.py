"""``nova-migcompat devices``: a host's devices as the operator sees them.

Joins what the device sources found with what the formats understand of
each string and the trait it publishes as, and optionally runs every
source's target-side check of every local string against every local
device.
"""

import dataclasses
import typing

from nova_migcompat.agent import source as sources_mod
from nova_migcompat.agent import sysfs as sysfs_mod
from nova_migcompat import codec
from nova_migcompat import exception
from nova_migcompat import formats


@dataclasses.dataclass
class Row:
    """One device, and what can be said of its string."""

    source: typing.Any
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


def describe(source, device):
    """Parse and encode one device's string; problems are recorded."""
    row = Row(source=source, device=device, problem=device.error)
    if not device.tracked:
        if row.problem is None:
            row.problem = 'no migration_version and no descriptor'
        return row
    try:
        parsed = formats.parse(device.string, where=device.name)
        row.format = parsed.format
        row.summary = parsed.summary()
    except exception.ParseError as e:
        row.format = 'malformed'
        row.problem = str(e)
    try:
        row.token = codec.encode(device.string)
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


def show(conf, fmt, run_check, table, title=None):
    """List the devices of the configured sources.

    Returns the JSON data, or None when the table was printed.
    """
    sysfs = sysfs_mod.Sysfs(conf.migcompat.sysfs_root)
    rows = [describe(source, dev) for source, dev in
            sources_mod.discover(sources_mod.load_sources(conf))]
    matrix = check_matrix(rows) if run_check else None
    if fmt == 'json':
        data = {'sysfs_root': sysfs.root,
                'devices': [row.as_dict(sysfs) for row in rows]}
        if title:
            data['host'] = title
        if matrix is not None:
            data['check'] = matrix
        return data
    if title:
        print('== %s (%s)' % (title, sysfs.root))
    if not rows:
        print('No migratable devices found under %s.' % sysfs.root)
        return None
    print(table(
        ['Device', 'Kind', 'Origin', 'Format', 'Described as', 'Problem'],
        [(r.device.name, r.device.kind, r.device.origin, r.format,
          r.summary, r.problem) for r in rows]))
    for r in rows:
        if r.device.string is None:
            continue
        print('\n%s (%s)' % (r.device.name, sysfs.relative(r.device.path)))
        print('  string: %s' % r.device.string.replace('\n', '\n          '))
        print('  trait:  %s' % (r.src_trait or '-'))
    if matrix:
        names = list(matrix[0]['results'])
        print('\nTarget-side check (rows: targets; columns: the string of '
              'the device named):')
        print(table(['Target'] + names,
                    [[row['target']] + [row['results'][n]['result']
                                        for n in names]
                     for row in matrix]))
    print()
    return None
