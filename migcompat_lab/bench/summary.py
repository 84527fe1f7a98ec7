"""The benchmark's figures as text: reStructuredText grid tables.

The same text goes to the terminal and, pasted, into the docs.
"""

import prettytable


def _grid(headers, rows):
    table = prettytable.PrettyTable(headers)
    table.align = 'r'
    # A grid table needs a rule between rows (else they form one cell).
    table.hrules = prettytable.HRuleStyle.ALL
    for row in rows:
        table.add_row(row)
    lines = table.get_string().splitlines()
    # A reStructuredText grid table marks the header's end with '='.
    lines[2] = lines[2].replace('-', '=')
    return '\n'.join(lines)


def _ms(value):
    return '%.1f' % value


def _ratio(value, baseline):
    return '%.2f' % (value / baseline) if baseline else '-'


def _mib(value):
    return '%.1f' % value


def filter_tables(rows):
    def live(r, name):
        return r['live_migration'][name]

    def to_chain(r, name):
        """A run's time, as a ratio to the default chain's."""
        return _ratio(live(r, name)['ms'], live(r, 'default_chain')['ms'])

    def added(r):
        """What the filter adds to the chain, as a ratio to the chain."""
        chain = live(r, 'default_chain')['ms']
        return _ratio(live(r, 'with_filter')['ms'] - chain, chain)

    cost = _grid(
        ['Hosts', 'Fleet', 'Default chain (ms)', 'No-op filter (ms)',
         'Filter warm (ms)', 'Warm / chain', 'Chain + filter (ms)',
         'Added / chain', 'Filter, new migration (ms)',
         'Filter cold (ms)', 'Cold / chain',
         'Placement requests warm / new migration / cold'],
        [[r['hosts'], r['fleet'], _ms(live(r, 'default_chain')['ms']),
          _ms(live(r, 'noop_alone')['ms']),
          _ms(live(r, 'filter_alone')['ms']), to_chain(r, 'filter_alone'),
          _ms(live(r, 'with_filter')['ms']), added(r),
          _ms(live(r, 'filter_new_migration')['ms']),
          _ms(live(r, 'filter_cold')['ms']), to_chain(r, 'filter_cold'),
          '%d / %d / %d' % (
              live(r, 'filter_alone')['placement_requests'],
              live(r, 'filter_new_migration')['placement_requests'],
              live(r, 'filter_cold')['placement_requests'])]
         for r in rows])
    kept = _grid(
        ['Hosts', 'Fleet', 'Hosts kept', 'Candidates kept',
         'Accepting providers', "Placement's answer (MiB)",
         'Filter memory peak (MiB)', 'Filter memory kept (MiB)'],
        [[r['hosts'], r['fleet'],
          '%d of %d' % (live(r, 'with_filter')['kept'], r['hosts']),
          '%d of %d' % (live(r, 'with_filter')['candidates_kept'],
                        2 * r['hosts']),
          r['listing']['providers'], _mib(r['listing']['bytes'] / 2 ** 20),
          _mib(live(r, 'memory')['peak_mib']),
          _mib(live(r, 'memory')['kept_mib'])]
         for r in rows])
    other = _grid(
        ['Hosts', 'Fleet', 'Request', 'Default chain (ms)',
         'No-op filter (ms)', 'Filter alone (ms)', 'Filter / chain',
         'Placement requests', 'Hosts kept'],
        [[r['hosts'], r['fleet'], kind.replace('_', ' '),
          _ms(r[kind]['default_chain']['ms']),
          _ms(r[kind]['noop_alone']['ms']),
          _ms(r[kind]['filter_alone']['ms']),
          _ratio(r[kind]['filter_alone']['ms'],
                 r[kind]['default_chain']['ms']),
          r[kind]['filter_alone']['placement_requests'],
          '%d of %d' % (r[kind]['with_filter']['kept'], r['hosts'])]
         for r in rows for kind in ('cold_migration', 'boot')])
    return cost, kept, other


def burst_table(rows):
    """A host's evacuation: the burst's runs, per fleet."""
    names = {'cached': 'cache (epoch)',
             'cached_withdrawal': 'cache, 1 withdrawal halfway',
             'no_cache': 'no cache'}
    return _grid(
        ['Hosts', 'Fleet', 'Live migrations', 'Acceptance list',
         'Total (ms)', 'Median per request (ms)', 'Placement requests',
         'Lists read'],
        [[r['hosts'], r['fleet'], r['burst'][run]['migrations'], names[run],
          '%.0f' % r['burst'][run]['total_ms'],
          _ms(r['burst'][run]['median_ms']),
          r['burst'][run]['placement_requests'],
          r['burst'][run]['listings']]
         for r in rows if 'burst' in r for run in names])


def reporter_table(rows):
    return _grid(
        ['Devices', 'Strings', 'Discovery (ms)', 'First cycles',
         'First cycles (s)',
         'First requests', 'First kernel writes', 'Reading back',
         'Steady cycle (ms)',
         'Steady reads', 'Steady writes', 'Steady checks',
         'Steady kernel writes', 'Steady / discovery'],
        [[r['devices'], r['catalog'], _ms(r['discovery_s'] * 1000),
          r['first']['cycles'], '%.2f' % r['first']['seconds'],
          r['first']['requests'],
          r['first']['kernel_writes'],
          ' + '.join(str(n) for n in r['after_publishing']['requests'])
          or '-',
          _ms(r['steady']['seconds'] * 1000),
          r['steady']['reads'], r['steady']['writes'],
          r['steady']['checks'], r['steady']['kernel_writes'],
          '%.2f' % r['steady']['ratio_to_discovery']]
         for r in rows])


def fleet_rate_table(result):
    intervals = result['intervals']
    names = {'steady': 'steady',
             'publishing': 'publishing (every host in one interval)',
             'after_publishing': 'after publishing (reading back)'}
    return _grid(
        ['State', 'Requests a cycle', 'Hosts'] +
        ['Requests/s at %d s' % i for i in intervals],
        [[names[r['state']], '%g' % r['requests_per_cycle'],
          '{:,}'.format(r['hosts'])] +
         ['%.0f' % r['per_second'][str(i)] for i in intervals]
         for r in result['rates']])


def many_types_table(rows):
    return _grid(
        ['Device types', 'Fleet strings', 'Pairs', 'Cycle (s)',
         'Agent peak (MiB)', 'Device process peak (MiB)', 'Checks',
         'Waiting'],
        [[r['types'], r['strings'], '{:,}'.format(r['pairs']),
          '%.1f' % r['seconds'], '%.0f' % r['agent_peak_mib'],
          '%.0f' % r['device_process_peak_mib'], r['checks'],
          '{:,}'.format(r['waiting'])] for r in rows])


def end_to_end_table(rows):
    return _grid(
        ['Incompatible', 'Scheduler', 'Attempts', 'Prechecks',
         'Migration (s)', 'Final host', 'Device state accepted'],
        [[r['incompatible'], name, r[name]['scheduling_attempts'],
          r[name]['destination_prechecks'],
          '%.2f' % r[name]['migration_seconds'], r[name]['final_host'],
          'yes' if r[name]['compatible'] else 'NO']
         for r in rows for name in ('stock', 'filter')])


def render(results):
    m = results['machine']
    parts = ['Machine: %s, %d cores, Python %s, %s; Nova %s, Placement %s; '
             '%s; %.0f s in all.' % (
                 m['cpu'], m['cores'], m['python'], m['system'], m['nova'],
                 m['placement'], m['date'], results['seconds'])]
    if 'filter' in results:
        cost, kept, other = filter_tables(results['filter'])
        parts += ['(a) A live-migration scheduling request (median ms of '
                  "Nova's HostManager.get_filtered_hosts):", cost,
                  '(a) What it kept, and what it read and held:', kept,
                  '(b) Requests that are not live migrations:', other]
        if any('burst' in r for r in results['filter']):
            parts += ['(a) A burst of live migrations (a host evacuation: '
                      'new migrations back to back, from a scheduler that '
                      'just started; the filter alone):',
                      burst_table(results['filter'])]
    if 'reporter' in results:
        parts += ['(c) A reporting cycle of one host:',
                  reporter_table(results['reporter'])]
    if 'end_to_end' in results:
        parts += ['(d) One live migration, 1 compatible + N incompatible '
                  'destinations preferred by the weigher:',
                  end_to_end_table(results['end_to_end'])]
    if 'fleet_rate' in results:
        r = results['fleet_rate']
        parts += ['(e) The agents\' requests to placement, fleet-wide '
                  '(hosts of %d pGPUs, %d providers; measured per cycle '
                  'in part c with %d strings; at most hosts x requests / '
                  '[migcompat]interval):'
                  % (r['devices'], r['providers'], r['catalog']),
                  fleet_rate_table(r)]
    if 'many_types' in results:
        parts += ['(f) The agent on a host with many device types (one '
                  "cycle, 'nova-migcompat-agent --once'; pairs: device "
                  'types x strings in the catalog, its own included):',
                  many_types_table(results['many_types'])]
    return '\n\n'.join(parts)
