"""Remove nova-migcompat's traits from placement (uninstall, rollback).

Every trait of nova-migcompat (``CUSTOM_MIGCOMPAT_*``, checked by exact
name and grammar: placement's ``startswith:`` listing is an SQL ``LIKE``,
in which ``_`` matches any character, so it may list other tools' traits,
which are never touched) is removed from every provider that has one,
keeping every other trait, with the provider's generation: a provider
that changes between the read and the write is read again (a few times)
rather than overwritten.  Then the trait definitions are deleted, and the
withdrawal epoch's provider (:mod:`nova_migcompat.epoch`).  With
``hosts``, only the providers of those compute nodes' trees are cleaned,
the definitions stay (other hosts may use them) and the epoch moves.
With ``undecodable``, only the SRC and ACC traits this release cannot
decode (corrupt, planted, or of a newer release) are removed, anywhere.

Agents that still run publish their traits again at their next cycle:
stop them first.  Once the traits are gone the filter finds no source
string and keeps every host (stock Nova); while a purge runs, a
destination may lose its acceptance traits before a source loses its own,
and be rejected: remove the filter from ``enabled_filters`` first.
"""

import collections

from oslo_log import log as logging

from nova_migcompat import codec
from nova_migcompat import epoch
from nova_migcompat import exception
from nova_migcompat import fleet

LOG = logging.getLogger(__name__)

#: Reads and writes of one provider before giving up on it.
ATTEMPTS = 5

REMOVED = 'removed'
WOULD_REMOVE = 'would remove'
CHANGING = 'changed on every attempt, not removed'
DELETED = 'deleted'
WOULD_DELETE = 'would delete'
IN_USE = 'in use again, not deleted'

Outcome = collections.namedtuple('Outcome', 'kind name traits result')


def _undecodable(traits):
    """The SRC and ACC traits among ``traits`` this release cannot decode.

    A long string's parts are judged together, on their provider: all
    of them go when one is missing, doubled or does not match the digest.
    """
    found, sources = [], {}
    for name in traits:
        parsed = codec.parse_trait(name)
        if parsed is None or parsed[0] not in codec.ROLES:
            continue
        if parsed[0] == codec.SRC:
            sources[parsed[1]] = name
        elif codec.problem(parsed[1]) is not None:
            found.append(name)
    broken = codec.assemble(sources).problems
    found.extend(name for token, name in sources.items()
                 if token in broken or codec.string_id(token) in broken)
    return sorted(found)


def _ours(traits):
    return sorted(t for t in traits if codec.is_ours(t))


def _may_be_undecodable(name):
    """Can a provider with this trait hold an undecodable one?"""
    parsed = codec.parse_trait(name)
    return (parsed is not None and parsed[0] in codec.ROLES and
            (codec.is_part(parsed[1]) or
             codec.problem(parsed[1]) is not None))


def _clean(client, uuid, dry_run, which):
    """``(removed traits, result)`` for one provider."""
    for _attempt in range(ATTEMPTS):
        try:
            traits, generation = client.provider_traits(uuid)
        except exception.NotFound:
            return [], None
        ours = which(traits)
        if not ours:
            return [], None
        if dry_run:
            return ours, WOULD_REMOVE
        try:
            client.set_provider_traits(uuid, traits - set(ours), generation)
        except exception.GenerationConflict:
            continue
        except exception.NotFound:
            return [], None
        return ours, REMOVED
    return ours, CHANGING


def purge(client, hosts=None, dry_run=False, undecodable=False):
    """Remove the traits; a list of :class:`Outcome`.

    :param hosts: compute node names (root provider names) to clean; None
        cleans every provider and deletes the trait definitions.
    :param undecodable: remove only the SRC and ACC traits this release
        cannot decode.
    :raises NotFound: a host in ``hosts`` is not a root provider.
    """
    which = _undecodable if undecodable else _ours
    listed = _may_be_undecodable if undecodable else codec.is_ours
    names, roots = fleet.index(client)
    wanted = None
    if hosts is not None:
        by_name = {names[uuid]: uuid for uuid in names
                   if roots[uuid] == uuid}
        unknown = sorted(set(hosts) - set(by_name))
        if unknown:
            raise exception.NotFound(
                'no compute node (root resource provider) named %s in '
                'placement' % ', '.join(unknown))
        wanted = {by_name[host] for host in hosts}
    carriers = set()
    for name in sorted(client.traits(codec.PREFIX, associated=True)):
        if not listed(name):
            continue
        for rp in client.providers_with_trait(name):
            if wanted is None or roots.get(rp) in wanted:
                carriers.add(rp)
    outcomes = []
    withdrew = False
    for uuid in sorted(carriers, key=lambda u: (names.get(u, u), u)):
        removed, result = _clean(client, uuid, dry_run, which)
        if result is not None:
            outcomes.append(Outcome('provider', names.get(uuid, uuid),
                                    removed, result))
            if result == REMOVED:
                withdrew = True
                LOG.info('Removed %d nova-migcompat traits from provider '
                         '%s', len(removed), names.get(uuid, uuid))
    full = hosts is None and not undecodable
    if full:
        for name in sorted(client.traits(codec.PREFIX)):
            if not codec.is_ours(name):
                # Another tool's, listed by the LIKE: not ours to delete.
                continue
            if dry_run:
                outcomes.append(Outcome('trait', name, [], WOULD_DELETE))
            elif client.delete_trait(name):
                outcomes.append(Outcome('trait', name, [], DELETED))
            else:
                outcomes.append(Outcome('trait', name, [], IN_USE))
        if client.provider(epoch.EPOCH_UUID) is not None:
            # Without it, no scheduler reuses a list of acceptances.
            if dry_run:
                outcomes.append(Outcome('provider', epoch.EPOCH_UUID, [],
                                        WOULD_DELETE))
            else:
                client.delete_provider(epoch.EPOCH_UUID)
                outcomes.append(Outcome('provider', epoch.EPOCH_UUID, [],
                                        DELETED))
    elif withdrew:
        # Schedulers must not reuse a list that shows what was removed.
        epoch.move(client)
    return outcomes


def incomplete(outcomes):
    """Outcomes that left a trait behind."""
    return [o for o in outcomes if o.result in (CHANGING, IN_USE)]
