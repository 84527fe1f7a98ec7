"""Benchmark part (d): one live migration end to end, stock vs. filter.

An in-process fleet (:mod:`migcompat_lab.cloud`: Nova's API,
conductor and scheduler, fakelibvirt vGPU computes, real Placement, a
FUSE-emulated sysfs and the real agent per host) of a source, one
compatible destination and N incompatible same-type destinations that the
weigher prefers.  The same live migration through the Nova API, with stock
Nova and with MigrationCompatibilityFilter: scheduling attempts,
destination prechecks, the time from the request to the migration's end,
and whether the final host can accept the device state.
"""

from migcompat_lab.demo import fleet as fleet_mod
from migcompat_lab.demo import scenario

#: Incompatible drivers for the 2.1 source: an older minor, another major.
_INCOMPATIBLE = (('2.0', '2.0'), ('3.1', '3.1'))


def fleet(incompatible):
    """src (2.1), good (2.3, weighed last) and N incompatible hosts."""
    hosts = [fleet_mod.Host('src', ('2.1', '2.1'), 0),
             fleet_mod.Host('good', ('2.3', '2.3'), 1)]
    hosts += [fleet_mod.Host('bad-%d' % (i + 1),
                             _INCOMPATIBLE[i % len(_INCOMPATIBLE)],
                             100 - i)
              for i in range(incompatible)]
    return fleet_mod.Fleet('src', tuple(hosts))


def run(counts=(1, 4, 8), log=print):
    results = []
    for count in counts:
        row = {'incompatible': count}
        for name, enabled in (('stock', False), ('filter', True)):
            outcome = scenario.run(fleet(count), enabled)
            row[name] = {
                'scheduling_attempts': outcome.scheduling_attempts,
                'destination_prechecks': outcome.destination_prechecks,
                'migration_seconds': outcome.migration_seconds,
                'final_host': outcome.final_host,
                'migration_status': outcome.migration_status,
                'compatible': outcome.final_host == 'good',
                'run_seconds': outcome.seconds,
            }
        results.append(row)
        log('  1 compatible + %d incompatible: stock Nova -> %s (%s), '
            'with the filter -> %s (%s)'
            % (count, row['stock']['final_host'],
               'compatible' if row['stock']['compatible'] else
               'INCOMPATIBLE', row['filter']['final_host'],
               'compatible' if row['filter']['compatible'] else
               'INCOMPATIBLE'))
    return results
