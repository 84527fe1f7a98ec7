"""What the demo prints."""

import prettytable

from nova_migcompat import formats


def header(fleet):
    print('The demo: live-migrating a vGPU server from host %s '
          'across a fleet of %d hosts' % (fleet.source, len(fleet.hosts)))
    print('(in-process Nova 34 + Placement, fakelibvirt computes, a '
          'FUSE-emulated sysfs and the real agent per host)\n')


def body(fleet, outcomes, logdir):
    first = outcomes[0]
    print('Source device string (host %s): %s\n  %s\n' % (
        fleet.source, formats.parse(first.source_string).summary(),
        first.source_string))
    table = prettytable.PrettyTable(
        ['Host', 'pGPU drivers', 'Weight', 'Accepts the source state?'])
    table.align = 'l'
    for row in first.hosts:
        answer = row.accepts if not row.reason else '%s: %s' % (
            row.accepts, row.reason)
        table.add_row([row.name, ', '.join(row.pgpus), row.weight, answer])
    print(table.get_string())
    verdicts = {row.name: row.accepts for row in first.hosts}
    for outcome in outcomes:
        title = ('With MigrationCompatibilityFilter' if outcome.filter_enabled
                 else 'Stock Nova (filter off)')
        status = outcome.migration_status
        if status == 'completed':
            ok = verdicts.get(outcome.final_host) == 'yes'
            where = 'the server is now on %s: %s' % (
                outcome.final_host,
                'compatible' if ok else
                'INCOMPATIBLE: its driver refuses the source state, a real '
                'migration would fail mid-flight')
        else:
            where = ('the live migration was refused (%s) and the server '
                     'stayed on %s' % (status, outcome.final_host))
        print('\n%s: %s.' % (title, where))
        detail = ('  %d scheduling attempt(s), %d destination precheck(s), '
                  '%.1f s from the request to the migration\'s end'
                  % (outcome.scheduling_attempts,
                     outcome.destination_prechecks,
                     outcome.migration_seconds))
        if outcome.kept_line:
            detail += '\n  filter: %s' % outcome.kept_line
        print(detail)
    print('\nNova logs: %s' % logdir)
