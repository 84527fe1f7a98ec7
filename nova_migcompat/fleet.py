"""The fleet as placement sees it, for operators: ``matrix`` and ``explain``.

Read from placement alone: the SRC traits are the fleet's catalog of
strings, the ACC traits who accepts each.  Hosts are judged by
:func:`nova_migcompat.requirements.judge_host`, the rule the scheduler
filter applies, so that what an operator is shown is what the filter
does.  A host without the ACC trait of a string refuses it, or could not
tell (placement does not keep the difference).

Both command lines (``nova-migcompat`` and ``openstack migcompat``) render
the rows built here; cells that hold several values are lists (each
command line joins them its own way).
"""

from nova_migcompat import codec
from nova_migcompat import epoch
from nova_migcompat import exception
from nova_migcompat import formats
from nova_migcompat import requirements

MATRIX_ACCEPTS = 'accepts'
MATRIX_NOT = '-'
EXPLAIN_COLUMNS = ('Host', 'Live Migration', 'Devices', 'Detail')
SOURCE = 'source'
ACCEPTED = 'accepted'
REFUSED = 'refused'


def index(client):
    """``(names, roots)``: provider uuid -> name, and -> root uuid.

    Every provider but the withdrawal epoch's (nova-migcompat's own, on
    no host).
    """
    providers = [rp for rp in client.providers()
                 if rp.get('uuid') != epoch.EPOCH_UUID]
    names = {rp['uuid']: rp['name'] for rp in providers}
    roots = {rp['uuid']: rp.get('root_provider_uuid') or rp['uuid']
             for rp in providers}
    return names, roots


def _hosts(names, roots):
    """Root provider uuids, by name."""
    return sorted({root for root in roots.values() if root in names},
                  key=lambda root: names[root])


def matrix(client, provider_index=None):
    """``(hosts, rows)``: every fleet string against every host.

    Each row: ``{'string', 'summary', 'token', 'produced_by': [hosts],
    'accepted_by': [hosts]}``; hosts are root provider names.  A string
    that only root providers produce (PCI functions) is judged at host
    level, any other at device level, as the filter would judge a server
    whose device produces it.  ``provider_index``: :func:`index`, when the
    caller has read it already.
    """
    names, roots = provider_index or index(client)
    hosts = _hosts(names, roots)
    rows = []
    tokens = []
    for name in client.traits(codec.SRC_PREFIX, associated=True):
        parsed = codec.parse_trait(name)
        if parsed and parsed[0] == codec.SRC:
            tokens.append(parsed[1])
    # Long strings are whole or not shown (status names what is broken).
    catalog = codec.assemble(tokens)
    for token, text in sorted(catalog.strings.items()):
        name = codec.trait(codec.SRC, catalog.parts[token][0])
        producers = [rp for rp in client.providers_with_trait(name)
                     if rp in roots]
        host_level = bool(producers) and all(roots[rp] == rp
                                             for rp in producers)
        req = requirements.Requirement(
            None if host_level else frozenset(), frozenset([token]),
            tuple(producers))
        acceptance = requirements.find_accepting(client, [req],
                                                 known={token: text})
        rows.append({
            'string': text, 'summary': formats.summary(text),
            'token': token,
            'produced_by': sorted({names[roots[rp]] for rp in producers}),
            'accepted_by': [names[host] for host in hosts
                            if requirements.judge_host(
                                host, [req], acceptance).accepts]})
    shown = sorted({host for row in rows
                    for host in row['produced_by'] + row['accepted_by']})
    return shown, rows


def _root_named(names, roots, nodename):
    for uuid, name in names.items():
        if name == nodename and roots[uuid] == uuid:
            return uuid
    raise exception.NotFound(
        'no root resource provider named %r in placement (the compute '
        'node of the server)' % nodename)


def _source_allocations(client, server_uuid, names, roots, source_node):
    """``(source root uuid, the server's allocations on it)``."""
    allocations = client.allocations(server_uuid)
    if source_node is not None:
        source_root = _root_named(names, roots, source_node)
        allocations = {rp: alloc for rp, alloc in allocations.items()
                       if roots.get(rp) == source_root}
        if not allocations:
            # During a live migration the server's own allocations are on
            # the destination (the migration holds the source's).
            raise exception.NotFound(
                'server %s has no allocations on its compute node %s in '
                'placement (is it being migrated?)' % (server_uuid,
                                                       source_node))
        return source_root, allocations
    if not allocations:
        raise exception.NotFound('server %s has no allocations in placement'
                                 % server_uuid)
    first = next(iter(allocations))
    if first not in roots:
        raise exception.NotFound('provider %s of the allocations of server '
                                 '%s is gone' % (first, server_uuid))
    return roots[first], allocations


def explain(client, server_uuid, source_node=None, host_level=False,
            unmanaged=None):
    """Which hosts would accept the live migration of a server, and why.

    :param source_node: the server's compute node (its hypervisor
        hostname, from the Nova API), whose root provider is the source.
        None guesses it from placement alone: the tree of the provider of
        the server's first allocation.
    :param host_level: the server has flavor PCI devices (their strings,
        on the source root provider, must be accepted too).
    :param unmanaged: the scheduler's ``[migcompat]unmanaged_sources``
        (``pass`` or ``refuse``), or None when not known.
    :returns: a dict: ``server``, ``source_host``, ``source_devices``
        (provider names), ``requirements`` (``[{'strings', 'host_level'}]``),
        ``refusals`` (why every host is refused, whatever it accepts: a
        source device that cannot be judged), ``managed`` (False: the
        source host runs no agent; None: not asked) and ``hosts``: host
        name -> ``{'accepts': bool, 'missing': [summaries of the strings
        it does not accept], 'devices': [names of its providers that accept
        every string of a requirement]}``.
    """
    names, roots = index(client)
    source_root, allocations = _source_allocations(
        client, server_uuid, names, roots, source_node)
    source = requirements.read_source(
        allocations, lambda rp: client.provider_traits(rp)[0], source_root,
        host_level, instance=server_uuid)
    reqs = source.requirements
    refusals = ['source device provider %s: %s'
                % (names.get(r.provider, r.provider), r.detail)
                for r in source.refusals]
    unmanaged_refused = (source.untracked and source.managed is False and
                         unmanaged == 'refuse')
    if unmanaged_refused:
        refusals.append('its source host %s runs no nova-migcompat agent '
                        '([migcompat]unmanaged_sources = refuse)'
                        % names[source_root])
    acceptance = requirements.find_accepting(client, reqs,
                                             known=source.strings)
    hosts = {}
    for root in _hosts(names, roots):
        if root == source_root:
            continue
        judgement = requirements.judge_host(root, reqs, acceptance)
        missing = sorted({acceptance.strings[token]
                          for shortfall in judgement.shortfalls
                          for token in shortfall.tokens})
        hosts[names[root]] = {
            'accepts': judgement.accepts and not refusals,
            'missing': [formats.summary(text) for text in missing],
            'devices': sorted(names[rp] for rp in judgement.devices
                              if rp in names)}
    return {
        'server': server_uuid,
        'source_host': names[source_root],
        'source_devices': sorted({names[rp] for r in reqs
                                  for rp in r.sources} |
                                 {names.get(r.provider, r.provider)
                                  for r in source.refusals}),
        'requirements': [
            {'strings': [acceptance.strings[t] for t in sorted(r.tokens)],
             'host_level': r.host_level, 'own': r.own,
             'fallback': r.fallback} for r in reqs],
        'refusals': refusals,
        'managed': source.managed,
        'hosts': hosts}


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


def _decided(req):
    """Whose string it is, where VM markers say it."""
    if req.get('own'):
        return " (the instance's own string: its VM marker)"
    if req.get('fallback'):
        return (' (a string of its provider, which has VM markers of '
                'other instances only: every string of it decides)')
    return ''


def explain_rows(result):
    """Rows of :data:`EXPLAIN_COLUMNS` for an :func:`explain` result.

    The source host comes first: its devices and what they produce; then
    every other host: accepted (with its accepting devices) or refused
    (with the strings it does not accept, decoded).
    """
    source = result['source_host']
    produced = ['produces %s%s' % (formats.summary(text), _decided(req))
                for req in result['requirements'] for text in req['strings']]
    refusals = result.get('refusals') or []
    if refusals:
        detail = 'cannot be judged: %s' % '; '.join(refusals)
    elif result.get('managed') is False:
        detail = ('runs no nova-migcompat agent: its devices are not '
                  'judged, every host passes as with stock Nova (none '
                  "where the scheduler's [migcompat]unmanaged_sources is "
                  'refuse)')
    else:
        detail = ('; '.join(produced) or
                  'no device with a compatibility string: every host '
                  'passes')
    rows = [(source, SOURCE,
             [_short(source, rp) for rp in result['source_devices']],
             detail)]
    for name, host in result['hosts'].items():
        if refusals:
            why = 'the source cannot be judged (see %s)' % source
        else:
            why = '; '.join('does not accept %s' % m
                            for m in host['missing'])
        rows.append((
            name, ACCEPTED if host['accepts'] else REFUSED,
            [_short(name, rp) for rp in host['devices']], why))
    return EXPLAIN_COLUMNS, rows
