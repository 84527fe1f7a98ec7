"""What the demo prints (explained in ``doc/source/demo.rst``)."""

import prettytable

from nova_migcompat import exception
from nova_migcompat import formats

from migcompat_lab.demo import scenario

_ANSWERS = {'accepts': 'yes', 'refuses': 'no', 'unknown': 'unknown'}
_NOUNS = {'vgpu': 'vGPU', 'vf': 'VF'}

LEGEND = """\
Legend:
  Device        the emulated devices of the kinds the server has, at the
                PCI address Nova knows them by (pGPU: its vGPU type
                nvidia-11; VF: an SR-IOV VF, Nova's PCI alias)
  Its string    what its migration_version says: (attribute) a writable
                attribute, the driver answers a write; (read-only
                attribute) the acceptance policy of the string's format
                answers; (synthesized) no attribute, the agent describes
                the device from sysfs facts and the rules policy answers
  Accepts ...?  the agent's own target-side check of that device against
                the string of the server's device on the source: yes, no,
                or unknown (it could not tell); "server" marks the
                server's own device, "source host" the source's others
  Weight        the scheduler's preference (higher first): stock Nova
                takes the first host its filters pass
  filter        kept K of T hosts: T hosts reached the filter (all but
                the source, if Nova's other filters passed them), K passed
                it; each rejected host with the filter's own reason
  Nova          scheduling attempts: requests to the scheduler (a failed
                destination precheck costs another); destination
                prechecks: check_can_live_migrate_destination calls that
                reached a compute host; seconds from the live-migration
                request to the migration's final status"""


def _summary(text):
    try:
        return formats.parse(text).summary()
    except exception.MigCompatError:
        return text if len(text) <= 60 else text[:57] + '...'


def _string(text, origin):
    if text is None:
        return '(%s)' % (origin or 'no string')
    return '%s (%s)' % (_summary(text), origin)


def _device(kind, address):
    return '%s %s' % (scenario.KIND_LABELS[kind], address)


def header(fleet):
    wants = ' and '.join(
        what for count, what in ((fleet.server.vgpus, 'a vGPU'),
                                 (fleet.server.vfs, 'an SR-IOV VF'))
        if count)
    print('The demo: live-migrating a server with %s from host %s across a '
          'fleet of %d hosts' % (wants, fleet.source, len(fleet.hosts)))
    print('(in-process Nova 34 + Placement, fakelibvirt computes, a '
          'FUSE-emulated sysfs and the real agent per host)\n')


def _answer(row):
    if row.role == 'server':
        return 'server: its %s is here' % _NOUNS[row.kind]
    if row.role == 'source':
        return 'source host'
    if row.role == 'missing':
        return 'Nova has no such device'
    answer = _ANSWERS.get(row.result, row.result)
    return '%s: %s' % (answer, row.reason) if row.reason else answer


def table(fleet, outcome):
    table = prettytable.PrettyTable(
        ['Host', 'Weight', 'Device', 'Its string',
         "Accepts the server's device state?"])
    table.align = 'l'
    previous = None
    for row in outcome.hosts:
        first = row.host != previous
        previous = row.host
        table.add_row([row.host if first else '',
                       fleet.host(row.host).weight if first else '',
                       _device(row.kind, row.address),
                       _string(row.string, row.origin), _answer(row)])
    return table.get_string()


def _server(fleet, outcome):
    lines = []
    for moved in outcome.moved:
        lines.append('The server on %s: its %s (%s) has %s'
                     % (fleet.source, _NOUNS[moved.kind],
                        _device(moved.kind, moved.source_address),
                        'no string (%s)' % moved.origin
                        if moved.string is None else
                        'the string %s' % _string(moved.string,
                                                  moved.origin)))
        if moved.string is not None:
            lines.append('  %s' % moved.string.replace('\n', '\\n'))
        if not moved.published:
            lines.append('  (not published by the source\'s agent: the '
                         'filter cannot judge this device)')
    return '\n'.join(lines)


def _decision(fleet, outcome):
    decision = outcome.decision
    if decision is None:
        return []
    if not decision.summary:
        lines = ['  filter: no decision logged for this live migration '
                 '(it passed every host untouched)']
    else:
        kept = ''
        others = [h.name for h in fleet.hosts
                  if h.name != fleet.source and
                  h.name not in decision.rejected]
        if decision.kept is not None and decision.kept == len(others):
            kept = ' (%s)' % ', '.join(others) if others else ''
        lines = ['  filter: kept %s of %s hosts%s; rejected %d%s' % (
            decision.kept, decision.total, kept, len(decision.rejected),
            ' (%s)' % ', '.join(sorted(decision.rejected))
            if decision.rejected else '')]
        for host in sorted(decision.rejected):
            lines.append('    %s: %s' % (host, decision.rejected[host]))
    for problem in decision.problems:
        lines.append('  filter problem: %s' % problem)
    return lines


def _result(fleet, outcome):
    if outcome.migration_status != 'completed':
        return ('the live migration was refused (%s) and the server stayed '
                'on %s' % (outcome.migration_status, outcome.final_host))
    results = {m.result for m in outcome.moved}
    if outcome.compatible:
        verdict = 'compatible'
    elif 'refuses' in results:
        verdict = ('INCOMPATIBLE: its device refuses the source device\'s '
                   'state, a real migration would fail mid-flight')
    else:
        verdict = ('UNKNOWN: no device check could tell whether its device '
                   'accepts the source device\'s state')
    return 'the server is now on %s: %s' % (outcome.final_host, verdict)


def _moves(fleet, outcome):
    lines = []
    for moved in outcome.moved:
        if not moved.host or moved.host == outcome.final_host and \
                outcome.migration_status != 'completed':
            continue
        answer = _ANSWERS.get(moved.result, moved.result or 'not judged')
        lines.append('    %s: %s on %s -> %s on %s, which accepts it? %s%s' % (
            _NOUNS[moved.kind], _device(moved.kind, moved.source_address),
            fleet.source, _device(moved.kind, moved.address), moved.host,
            answer,
            ' (%s)' % moved.reason if moved.reason else ''))
    return lines


def body(fleet, outcomes, logdir):
    first = outcomes[0]
    print(_server(fleet, first) + '\n')
    print(table(fleet, first))
    for outcome in outcomes:
        title = ('With MigrationCompatibilityFilter' if outcome.filter_enabled
                 else 'Stock Nova (filter off)')
        print('\n%s: %s.' % (title, _result(fleet, outcome)))
        lines = []
        if [m.source_address for m in outcome.moved] != [
                m.source_address for m in first.moved]:
            lines.append('  (this time: %s)' % _server(
                fleet, outcome).replace('\n', ' '))
        lines += _moves(fleet, outcome)
        lines += _decision(fleet, outcome)
        lines.append('  Nova: %d scheduling attempt(s), %d destination '
                     'precheck(s), %.1f s from the request to the '
                     'migration\'s end'
                     % (outcome.scheduling_attempts,
                        outcome.destination_prechecks,
                        outcome.migration_seconds))
        print('\n'.join(lines))
    print('\n' + LEGEND)
    print('\nNova logs: %s' % logdir)
