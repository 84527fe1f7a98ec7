"""The fleet as placement sees it: which host produces and accepts what.

Read from placement alone: the SRC traits are the fleet's catalog of
strings, the ACC traits who accepts each.  A host without the ACC trait of
a string refuses it, or could not tell (placement does not keep the
difference).
"""

from nova_migcompat import codec
from nova_migcompat import exception
from nova_migcompat import formats


def _summary(text):
    try:
        return formats.parse(text).summary()
    except exception.MigCompatError:
        return 'malformed string'


def matrix(client):
    """``(hosts, rows)``: every fleet string against every host.

    Each row: ``{'string', 'summary', 'token', 'produced_by': [hosts],
    'accepted_by': [hosts]}``; hosts are root provider names.
    """
    providers = client.providers()
    names = {rp['uuid']: rp['name'] for rp in providers}
    roots = {rp['uuid']: rp.get('root_provider_uuid') or rp['uuid']
             for rp in providers}

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
