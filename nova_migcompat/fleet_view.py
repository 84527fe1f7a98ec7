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


def _summary(text):
    try:
        return formats.parse(text).summary()
    except exception.MigCompatError:
        return 'malformed string'


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
        row = {'string': text, 'summary': _summary(text), 'token': token,
               'produced_by': hosts_with(name),
               'accepted_by': hosts_with(codec.trait(codec.ACC, token))}
        hosts.update(row['produced_by'], row['accepted_by'])
        rows.append(row)
    return sorted(hosts), rows


def explain(client, server_uuid, host_level=False):
    """Which hosts would accept the live migration of a server, and why.

    :param host_level: the server has flavor PCI devices (their strings,
        on the source root provider, must be accepted too).
    :returns: ``(source_host, requirements, hosts)`` where hosts maps a
        host name to ``{'accepts': bool, 'missing': [summaries]}``.
    """
    allocations = client.allocations(server_uuid)
    if not allocations:
        raise exception.NotFound('server %s has no allocations in placement'
                                 % server_uuid)
    names, roots = _index(client)
    source_root = roots[next(iter(allocations))]
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
                if requirements.check_host_providers(
                        root, [one], found.accepting, roots):
                    missing.append(_summary(found.strings[token]))
        hosts[names[root]] = {'accepts': not missing, 'missing': missing}
    return names[source_root], [
        {'strings': [found.strings[t] for t in sorted(r.tokens)],
         'host_level': r.host_level} for r in reqs], hosts
