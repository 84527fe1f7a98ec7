"""Benchmark part (e): the agents' request rate on placement, fleet-wide.

Computed from part (c)'s measured placement requests per cycle of one
host with :data:`DEVICES` physical GPUs (measured here when part (c) did
not measure such a host): every host of the fleet runs one cycle per
``[migcompat]interval``, so a fleet of H hosts sends at most
``H * requests per cycle / interval`` requests a second (the 0 to 10%
jitter on the interval and the cycle's own duration only lower it).

Three states: steady (nothing changed), publishing (every host publishes
in the same interval, e.g. a new driver on the whole fleet, or the first
deployment: the first cycle's requests), and the cycles after publishing
(which read back what was written).
"""

from migcompat_lab.bench import reporter_cost

#: The physical GPUs of the host the figures are for.
DEVICES = 2
HOSTS = (1000, 10000)
#: Fleet strings when part (e) measures the host itself.
CATALOG = 10
#: Seconds: the default ``[migcompat]interval``, and longer ones.
INTERVALS = (60, 120, 300, 600)


def _host(reporter_rows, log):
    rows = [r for r in reporter_rows or () if r['devices'] == DEVICES]
    if not rows:
        log('  measuring a %d-pGPU host (part c did not)' % DEVICES)
        rows = reporter_cost.run([DEVICES], [CATALOG], log=log)
    # The largest catalog measured: the most publishing requests.
    return max(rows, key=lambda r: r['catalog'])


def run(reporter_rows=None, log=print):
    host = _host(reporter_rows, log)
    after = host['after_publishing']['requests']
    per_cycle = {
        'steady': host['steady']['requests'],
        'publishing': host['first']['requests'] / host['first']['cycles'],
        'after_publishing': max(after) if after else 0,
    }
    rates = []
    for state, requests in per_cycle.items():
        for hosts in HOSTS:
            rates.append({
                'state': state, 'hosts': hosts,
                'requests_per_cycle': requests,
                'per_second': {str(interval): hosts * requests / interval
                               for interval in INTERVALS}})
    result = {'devices': host['devices'], 'catalog': host['catalog'],
              'providers': host['providers'],
              'steady_reads': host['steady']['reads'],
              'steady_writes': host['steady']['writes'],
              'first_cycles': host['first']['cycles'],
              'first_requests': host['first']['requests'],
              'first_writes': host['first']['writes'],
              'after_publishing_cycles': len(after),
              'intervals': list(INTERVALS), 'rates': rates}
    for row in rates:
        log('  %-16s %6d hosts x %5.1f requests a cycle: %s requests/s'
            % (row['state'], row['hosts'], row['requests_per_cycle'],
               ', '.join('%.0f at %d s' % (row['per_second'][str(i)], i)
                         for i in INTERVALS)))
    return result
