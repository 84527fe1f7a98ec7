"""python -m migcompat_lab.bench: the benchmark (``tox -e bench``).

Runs in its own process: Nova's functional framework must monkey patch
before anything else is imported.  Prints figures and writes them (JSON)
to ``--output``; it judges nothing about time.
"""

import logging  # noqa: I100  isort:skip
import warnings  # noqa: I100  isort:skip

# Quiet before nova's import: eventlet and nova warn when patching.
warnings.simplefilter('ignore')
logging.getLogger('nova.monkey_patch').disabled = True

import nova.tests.functional  # noqa: E402,F401,I100  isort:skip

import argparse  # noqa: E402
from importlib import metadata  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from migcompat_lab.bench import fleet_rate  # noqa: E402
from migcompat_lab.bench import many_types  # noqa: E402
from migcompat_lab.bench import reporter_cost  # noqa: E402
from migcompat_lab.bench import summary  # noqa: E402

PARTS = 'abcdef'
#: Hosts of one benchmark fleet at most.
MAX_HOSTS = 100000


def _sizes(text):
    try:
        sizes = [int(v) for v in text.split(',')]
    except ValueError:
        raise argparse.ArgumentTypeError('expected numbers separated by '
                                         'commas, got %r' % text)
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError('sizes must be positive: %r'
                                         % text)
    return sizes


def _cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def machine():
    return {'cpu': _cpu_model(), 'cores': os.cpu_count() or 0,
            'python': platform.python_version(),
            'system': '%s %s' % (platform.system(), platform.release()),
            'nova': metadata.version('nova'),
            'placement': metadata.version('openstack-placement'),
            'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m migcompat_lab.bench',
        description='Measure MigrationCompatibilityFilter and the agent: '
        '(a) filter cost per live-migration scheduling request against '
        "Nova's default filter chain, (b) the same for other requests, "
        '(c) a reporting cycle, (d) one live migration end to end, stock '
        'Nova vs. the filter, (e) the agents\' request rate on placement, '
        'fleet-wide (from part c\'s counts), (f) the agent\'s peak memory '
        'and cycle time on a host with many device types.')
    parser.add_argument('--parts', default=PARTS,
                        help='Which parts to run (default: %(default)s).')
    parser.add_argument('--hosts', type=_sizes, default=[10, 100, 1000,
                                                         5000],
                        help='Fleet sizes of parts a and b (default: '
                        '10,100,1000,5000).')
    parser.add_argument('--accepting-hosts', type=_sizes, default=[10000],
                        help='Sizes of the fleets where every pGPU accepts '
                        'the source string, in parts a and b (default: '
                        '%(default)s; the largest listing for the size; '
                        'the docs\' run adds 50000).')
    parser.add_argument('--burst', type=int, default=50,
                        help='Live migrations of the burst (a host '
                        'evacuation) measured for each fleet of parts a '
                        'and b (default: %(default)s; 0: none).')
    parser.add_argument('--devices', type=_sizes, default=[8, 32],
                        help='Devices of the host in part c (default: '
                        '8,32; the docs\' run uses 8,64).')
    parser.add_argument('--catalogs', type=_sizes, default=[10, 100],
                        help='Fleet catalog sizes in part c (default: '
                        '10,100).')
    parser.add_argument('--types', type=_sizes, default=[100, 1000],
                        help='Device types of the host in part f (default: '
                        '%(default)s; the docs\' run adds 10000).')
    parser.add_argument('--type-strings', type=int,
                        default=many_types.STRINGS,
                        help='Fleet strings in part f (default: '
                        '%(default)s).')
    parser.add_argument('--incompatible', type=_sizes, default=[1],
                        help='Incompatible destinations in part d '
                        '(default: 1; the docs\' run uses 1,4,8).')
    parser.add_argument('--output', default='bench-results.json',
                        help='Where to write the figures (JSON; default: '
                        '%(default)s).')
    args = parser.parse_args(argv)
    unknown = set(args.parts) - set(PARTS)
    if unknown or not args.parts:
        parser.error('--parts: letters of %r, got %r' % (PARTS, args.parts))
    if not 0 <= args.burst <= 1000:
        parser.error('--burst: 0 to 1000, got %d' % args.burst)
    for name, most, why in (
            ('hosts', MAX_HOSTS, 'memory of one in-process placement'),
            ('accepting_hosts', MAX_HOSTS, 'memory of one in-process '
             'placement'),
            ('devices', reporter_cost.MAX_DEVICES, 'PCI addresses of the '
             'emulated host'),
            ('catalogs', len(reporter_cost.catalog_versions()),
             'distinct driver versions the benchmark makes'),
            ('types', many_types.MAX_TYPES, 'directories of one emulated '
             'device')):
        if max(getattr(args, name)) > most:
            parser.error('--%s: at most %d (%s)'
                         % (name.replace('_', '-'), most, why))

    # nova.test sets up logging at import: keep Nova's output off stdout.
    from migcompat_lab.bench import end_to_end
    from migcompat_lab.bench import filter_cost
    from migcompat_lab import cloud
    cloud.quiet_logs()

    def log(line):
        print(line, flush=True)

    results = {'machine': machine(), 'parts': args.parts,
               'part_seconds': {}}
    started = time.monotonic()
    last = [started]

    def lap(part):
        now = time.monotonic()
        results['part_seconds'][part] = now - last[0]
        last[0] = now
    if 'a' in args.parts or 'b' in args.parts:
        log('(a, b) filter cost per scheduling request')
        results['filter'] = filter_cost.run(args.hosts, args.accepting_hosts,
                                            log=log, burst=args.burst)
        lap('ab')
    if 'c' in args.parts:
        log('(c) reporting cycle')
        results['reporter'] = reporter_cost.run(args.devices, args.catalogs,
                                                log=log)
        lap('c')
    if 'd' in args.parts:
        log('(d) live migration end to end')
        results['end_to_end'] = end_to_end.run(args.incompatible, log=log)
        lap('d')
    if 'e' in args.parts:
        log('(e) fleet-wide agent request rate')
        results['fleet_rate'] = fleet_rate.run(results.get('reporter'),
                                               log=log)
        lap('e')
    if 'f' in args.parts:
        log('(f) the agent on a host with many device types')
        results['many_types'] = many_types.run(args.types,
                                               args.type_strings, log=log)
        lap('f')
    results['seconds'] = time.monotonic() - started
    with open(args.output, 'w') as f:
        json.dump(results, f, indent=2, sort_keys=True)
    print()
    print(summary.render(results))
    print('\nFigures written to %s' % args.output)
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
