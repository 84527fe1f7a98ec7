"""The fleet view as table rows, for ``nova-migcompat`` and ``openstack``.

Both command lines render the same columns and rows; cells that hold
several values are lists (each command line joins them its own way).
"""

from nova_migcompat import formats

MATRIX_ACCEPTS = 'accepts'
MATRIX_NOT = '-'
EXPLAIN_COLUMNS = ('Host', 'Live Migration', 'Devices', 'Detail')
SOURCE = 'source'
ACCEPTED = 'accepted'
REFUSED = 'refused'


def matrix_cell(row, host):
    """``accepts`` or ``-`` (refuses, or could not tell), and the source.

    Placement keeps no difference between refusing a string and being
    unable to tell.
    """
    mark = MATRIX_ACCEPTS if host in row['accepted_by'] else MATRIX_NOT
    return mark + (' (source)' if host in row['produced_by'] else '')


def matrix_rows(hosts, rows):
    """``(columns, rows)``: a row per fleet string, a column per host."""
    columns = ('Summary',) + tuple(hosts)
    return columns, [(row['summary'],) + tuple(matrix_cell(row, host)
                                               for host in hosts)
                     for row in rows]


def _short(host, provider):
    """A device provider's name without its host's prefix."""
    prefix = host + '_'
    return provider[len(prefix):] if provider.startswith(prefix) else provider


def explain_rows(result):
    """Rows of :data:`EXPLAIN_COLUMNS` for a :func:`fleet_view.explain`.

    The source host comes first: its devices and what they produce; then
    every other host: accepted (with its accepting devices) or refused
    (with the strings it does not accept, decoded).
    """
    source = result['source_host']
    produced = ['produces %s' % formats.summary(text)
                for req in result['requirements'] for text in req['strings']]
    rows = [(source, SOURCE,
             [_short(source, rp) for rp in result['source_devices']],
             '; '.join(produced) or
             'no device with a compatibility string: every host passes')]
    for name, host in result['hosts'].items():
        rows.append((
            name, ACCEPTED if host['accepts'] else REFUSED,
            [_short(name, rp) for rp in host['devices']],
            '; '.join('does not accept %s' % m for m in host['missing'])))
    return EXPLAIN_COLUMNS, rows
