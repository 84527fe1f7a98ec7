"""The fleet as placement sees it: which host produces and accepts what.

Read from placement alone: the SRC traits are the fleet's catalog of
strings, the ACC traits who accepts each.  A host without the ACC trait of
a string refuses it, or could not tell (placement does not keep the
difference).
"""

from nova_migcompat import codec
from nova_migcompat import exception
from nova_migcompat import formats
from nova_migcompat import requirements


def _index(client):
    """``(names, roots)``: provider uuid -> name, and -> root uuid."""
    providers = client.providers()
    names = {rp['uuid']: rp['name'] for rp in providers}
    roots = {rp['uuid']: rp.get('root_provider_uuid') or rp['uuid']
             for rp in providers}
    return names, roots


def matrix(client):
    """``(hosts, rows)``: every fleet string against every host.

    Each row: ``{'string', 'summary', 'token', 'produced_by': [hosts],
    'accepted_by': [hosts]}``; hosts are root provider names.
    """
    names, roots = _index(client)

    def hosts_with(trait):
        return sorted({names[roots[rp['uuid']]]
                       for rp in client.providers_with_trait(trait)
                       if rp['uuid'] in roots})

    rows, hosts = [], set()
    for name in sorted(client.traits(codec.SRC_PREFIX, associated=True)):
        try:
            _, token, text = codec.decode_trait(name)
        except exception.InvalidToken:
            continue
        row = {'string': text, 'summary': formats.summary(text),
               'token': token,
               'produced_by': hosts_with(name),
               'accepted_by': hosts_with(codec.trait(codec.ACC, token))}
        hosts.update(row['produced_by'], row['accepted_by'])
        rows.append(row)
    return sorted(hosts), rows


def _root_named(names, roots, nodename):
    for uuid, name in names.items():
        if name == nodename and roots[uuid] == uuid:
            return uuid
    raise exception.NotFound(
        'no root resource provider named %r in placement (the compute '
        'node of the server)' % nodename)


def _accepting_devices(root, reqs, found):
    """The providers of a host that accept what one requirement needs."""
    devices = set()
    for req in reqs:
        ready = set.intersection(*(set(found.on_host(token, root))
                                   for token in req.tokens))
        # Host-level strings are the root's; device strings its children's.
        ready = ready & {root} if req.host_level else ready - {root}
        devices |= ready
    return devices


def explain(client, server_uuid, source_node=None, host_level=False):
    """Which hosts would accept the live migration of a server, and why.

    :param source_node: the server's compute node (its hypervisor
        hostname, from the Nova API), whose root provider is the source.
        None guesses it from placement alone: the tree of the provider of
        the server's first allocation.
    :param host_level: the server has flavor PCI devices (their strings,
        on the source root provider, must be accepted too).
    :returns: a dict: ``server``, ``source_host``, ``source_devices``
        (provider names), ``requirements`` (``[{'strings', 'host_level'}]``)
        and ``hosts``: host name -> ``{'accepts': bool, 'missing':
        [summaries of the strings it does not accept], 'devices': [names of
        its providers that accept a requirement's strings]}``.
    """
    allocations = client.allocations(server_uuid)
    names, roots = _index(client)
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
    elif allocations:
        first = next(iter(allocations))
        if first not in roots:
            raise exception.NotFound('provider %s of the allocations of '
                                     'server %s is gone' % (first,
                                                            server_uuid))
        source_root = roots[first]
    else:
        raise exception.NotFound('server %s has no allocations in placement'
                                 % server_uuid)
    reqs = requirements.source_requirements(
        allocations, lambda rp: client.provider_traits(rp)[0], source_root,
        host_level)
    found = requirements.find_accepting(client, reqs)
    hosts = {}
    for root in sorted(set(roots.values()) - {source_root},
                       key=lambda r: names[r]):
        # Every shortfall of the host, as the filter judges one (the first).
        missing = []
        for req in reqs:
            for token in sorted(req.tokens):
                one = requirements.Requirement(req.resource_classes,
                                               frozenset([token]),
                                               req.sources)
                if requirements.check_host_providers(root, [one], found):
                    missing.append(formats.summary(found.strings[token]))
        devices = _accepting_devices(root, reqs, found)
        hosts[names[root]] = {'accepts': not missing, 'missing': missing,
                              'devices': sorted(names[rp] for rp in devices)}
    return {
        'server': server_uuid,
        'source_host': names[source_root],
        'source_devices': sorted({names[rp] for r in reqs
                                  for rp in r.sources}),
        'requirements': [
            {'strings': [found.strings[t] for t in sorted(r.tokens)],
             'host_level': r.host_level} for r in reqs],
        'hosts': hosts}
