"""What a live migration requires of its destination's devices.

The source side is read from placement: the migration consumer's
allocations say which providers hold the instance's devices, and their
``CUSTOM_MIGCOMPAT_SRC_*`` traits say which strings those devices produce.
A destination provider meets a requirement when it has the
``CUSTOM_MIGCOMPAT_ACC_*`` trait of every one of those strings.

Device requirements are per resource class: every provider that a
destination allocation candidate allocates those classes from must accept
every string of the source providers of the same classes (a two-vGPU
instance needs both strings accepted), and be in the destination's own
provider tree: the state moves into a device of the destination host, so
a provider of another tree (a sharing provider) never accepts for it.  PCI
functions are tracked at host granularity (see
:mod:`nova_migcompat.agent.provider_names`): the destination's root
provider must accept every string of the source's root provider.

Some sources are refused before any destination is judged
(:func:`read_source`): a device the source's agent manages but has no
string for (its provider's ``CUSTOM_MIGCOMPAT_NOSRC_<reason>`` trait),
and a SRC trait this release cannot decode (corrupt, or of a newer
release).  A source host without an agent (no
``CUSTOM_MIGCOMPAT_REPORTED`` trait on its root provider) has nothing to
judge: the caller decides (``[migcompat]unmanaged_sources``).
"""

import dataclasses
import typing

from nova_migcompat import codec
from nova_migcompat import placement


@dataclasses.dataclass(frozen=True)
class Requirement:
    """Strings a destination must accept, and where.

    One per source device provider of the instance (its devices of the
    resource classes it allocates there), or the host-level requirement of
    its PCI functions (the source root's strings, on the destination's
    root provider).
    """

    #: Resource classes whose destination providers must accept the
    #: strings; None for the host-level (root provider) requirement.
    resource_classes: typing.Optional[frozenset]
    tokens: frozenset
    #: The source providers the strings come from.
    sources: tuple
    #: ``{resource class: amount}`` the instance holds there: as many
    #: units of the destination candidate's providers must accept them.
    amounts: tuple = ()
    #: The instance's own strings decided (its VM markers), not every
    #: string of the source provider.
    own: bool = False
    #: The source provider has VM markers, none of the instance: every
    #: string of the provider decided (the instance's device may predate
    #: its markers, or they were removed).
    fallback: bool = False

    @property
    def host_level(self):
        return self.resource_classes is None


def src_tokens(traits):
    """The ids of the whole, intact strings of the SRC traits given.

    Single tokens that decode, and long strings whose parts are all there
    and match their digest (:func:`codec.assemble`).  Anything else is a
    refusal, never a requirement: see :func:`read_source`.
    """
    return set(_assembled(traits).strings)


def _assembled(traits):
    tokens = []
    for name in traits:
        parsed = codec.parse_trait(name)
        if parsed and parsed[0] == codec.SRC:
            tokens.append(parsed[1])
    return codec.assemble(tokens)


#: :class:`Refusal` kinds: a managed device without a string (its NOSRC
#: trait), a SRC trait this release cannot decode, a source host that
#: runs no agent (a refusal only where the operator asks for it).
UNJUDGED = 'unjudged'
UNDECODABLE = 'undecodable'
UNMANAGED = 'unmanaged'


@dataclasses.dataclass(frozen=True)
class Refusal:
    """Why no destination may take an instance, whatever it accepts."""

    kind: str
    #: The source provider (uuid) it is about.
    provider: str
    #: What is wrong, in words (the trait's reason, the token's problem).
    detail: str


@dataclasses.dataclass
class Source:
    """What an instance's source devices say, from their traits."""

    #: :class:`Requirement` list: the strings destinations must accept.
    requirements: list
    #: :class:`Refusal` list: reasons to refuse every destination.
    refusals: list
    #: Whether the source host runs an agent, when it had to be asked (no
    #: trait of ours on the instance's device providers): None when not
    #: asked.
    managed: typing.Optional[bool] = None
    #: id -> the exact string, of every string required.
    strings: dict = dataclasses.field(default_factory=dict)

    @property
    def untracked(self):
        """Nothing to judge and nothing to refuse (stock Nova)."""
        return not self.requirements and not self.refusals


def _read_provider(rp_uuid, traits, instance, source):
    """The ids one source provider requires of its destination.

    Its refusals go to ``source``: a NOSRC trait, a string that is not
    whole (a SRC trait that does not decode, a long string with a part
    missing, extra, duplicated or corrupt), a marker of the instance whose
    string is not there.  ``(ids, own, fallback)``: the instance's own
    strings when the provider has markers of it, else every string of the
    provider (``fallback`` when it has markers of other instances only).
    """
    refusals = source.refusals
    for name in sorted(traits):
        parsed = codec.parse_trait(name)
        if parsed is not None and parsed[0] == codec.NOSRC:
            refusals.append(Refusal(
                UNJUDGED, rp_uuid, 'the nova-migcompat agent manages a '
                'device of it that has no compatibility string: %s'
                % codec.reason_words(parsed[1])))
    assembled = _assembled(traits)
    for id_, why in sorted(assembled.problems.items()):
        refusals.append(Refusal(
            UNDECODABLE, rp_uuid, 'its trait %s... is %s'
            % (codec.trait(codec.SRC, id_)[:48], why)))
    source.strings.update(assembled.strings)
    ids = set(assembled.strings)
    if instance is None:
        return ids, False, False
    refs = codec.markers(traits, instance)
    if not refs:
        return ids, False, bool(codec.markers(traits))
    by_ref = {codec.ref(id_): id_ for id_ in ids}
    for gone in sorted(refs - set(by_ref)):
        refusals.append(Refusal(
            UNDECODABLE, rp_uuid, "its marker of the instance's own string "
            '(%s) names no whole string of the provider' % gone))
    return {by_ref[r] for r in refs if r in by_ref}, True, False


def read_source(allocations, traits_of, source_root, host_level=False,
                instance=None):
    """What a live migration of an instance allocated so requires.

    One requirement per source device provider (the resource classes and
    amounts the instance holds there): its strings, or, where the
    provider has markers of ``instance`` (``CUSTOM_MIGCOMPAT_VM_*``), the
    instance's own strings only; and the host-level requirement of the
    source root's strings when the instance has PCI devices.  A NOSRC
    trait, a string that is not whole, or a marker naming no string, on
    one of those providers, is a :class:`Refusal`.  When none of them
    carries a trait of ours but the instance holds a device (an allocation
    outside the root, or PCI devices), the root is asked whether an agent
    reports the host (its REPORTED trait): ``managed``.

    :param allocations: ``{provider uuid: {'resources': {class: n}}}`` of
        the migration consumer (the instance's source allocations).
    :param traits_of: a callable returning a provider's trait names.
    :param source_root: the uuid of the source compute node's root
        provider.
    :param host_level: True when the instance has PCI devices: the source
        root provider's strings are then required too.
    :param instance: the instance's uuid (its markers decide, where there
        are some).
    """
    source = Source([], [])
    devices = False
    for rp_uuid in sorted(allocations):
        if rp_uuid == source_root:
            continue
        devices = True
        ids, own, fallback = _read_provider(rp_uuid, traits_of(rp_uuid),
                                            instance, source)
        if not ids:
            continue
        resources = allocations[rp_uuid].get('resources', {})
        source.requirements.append(Requirement(
            frozenset(resources), frozenset(ids), (rp_uuid,),
            tuple(sorted(resources.items())), own, fallback))
    root_traits = None
    if host_level and source_root in allocations:
        root_traits = traits_of(source_root)
        ids, own, fallback = _read_provider(source_root, root_traits,
                                            instance, source)
        if ids:
            source.requirements.append(Requirement(
                None, frozenset(ids), (source_root,), (), own, fallback))
    if source.untracked and (devices or host_level) and source_root:
        if root_traits is None:
            root_traits = traits_of(source_root)
        source.managed = codec.REPORTED_TRAIT in root_traits
    return source


@dataclasses.dataclass
class Acceptance:
    """Who accepts the strings of a set of requirements (from placement)."""

    #: token -> the exact string.
    strings: dict
    #: token -> the providers with its ACC trait: a
    #: :class:`~nova_migcompat.placement.ProviderRoots` (any mapping of
    #: provider uuid to root uuid is made one).
    accepting: dict
    #: frozenset of tokens -> root uuid -> the providers of that tree
    #: accepting every one of them.
    _trees: dict = dataclasses.field(default_factory=dict, init=False,
                                     repr=False)

    def __post_init__(self):
        for token, listing in self.accepting.items():
            if not isinstance(listing, placement.ProviderRoots):
                self.accepting[token] = placement.ProviderRoots(listing)

    def on_host(self, token, host_uuid):
        """The providers of one host with the ACC trait of ``token``."""
        return self._tree_index(token).get(host_uuid, ())

    def _tree_index(self, token):
        listing = self.accepting.get(token)
        return {} if listing is None else listing.by_root()

    def trees(self, tokens):
        """``root uuid -> its providers accepting every one of tokens``.

        Something with ``get(root, default)``: for one token, the
        listing's own index (kept with the listing, so shared by the
        requests that read it from the scheduler's cache); for several,
        their intersection host by host, as each host is asked for.
        """
        found = self._trees.get(tokens)
        if found is None:
            indexes = sorted((self._tree_index(t) for t in tokens), key=len)
            if not indexes:
                found = {}
            elif len(indexes) == 1:
                found = indexes[0]
            else:
                found = _Intersection(indexes)
            self._trees[tokens] = found
        return found


class _Intersection(object):
    """Several by-host indexes' common providers, host by host."""

    def __init__(self, indexes):
        self._first, self._rest = indexes[0], indexes[1:]

    def get(self, root, default=None):
        common = tuple(rp for rp in self._first.get(root, ())
                       if all(rp in index.get(root, ())
                              for index in self._rest))
        return common or default


def find_accepting(client, reqs, listing=None, known=None):
    """Who accepts the requirements' strings: one listing per string.

    :param listing: a callable ``(client, token) -> {uuid: root}``; by
        default placement's listing of the string's ACC trait.
    :param known: id -> string, where the caller has the strings (a long
        string's id does not decode alone: :attr:`Source.strings`).
    """
    strings, accepting = {}, {}
    tokens = set()
    for req in reqs:
        tokens |= req.tokens
    for token in sorted(tokens):
        strings[token] = (known or {}).get(token) or codec.describe(token)
        if listing is None:
            accepting[token] = client.providers_with_trait(
                codec.trait(codec.ACC, token))
        else:
            accepting[token] = listing(client, token)
    return Acceptance(strings, accepting)


@dataclasses.dataclass(frozen=True)
class Shortfall:
    """Why a destination does not meet one requirement."""

    requirement: Requirement
    #: The destination provider that falls short: the one of an allocation
    #: candidate that does not accept, the host's provider that accepts the
    #: most of the strings, or None when the host has no such provider.
    provider: typing.Optional[str]
    #: The strings (tokens) that provider does not accept.
    tokens: frozenset


@dataclasses.dataclass(frozen=True)
class Judgement:
    """What one destination host offers a live migration."""

    #: Why not: one per requirement the host does not meet; empty when it
    #: accepts.
    shortfalls: tuple
    #: The allocation candidates that meet every requirement, or None when
    #: the host was judged without candidates.
    candidates: typing.Optional[list]
    #: The host's providers that accept every string of a requirement.
    devices: frozenset

    @property
    def accepts(self):
        return not self.shortfalls


def _missing(provider, tokens, acceptance, host_uuid):
    """The tokens ``provider`` of host ``host_uuid`` does not accept."""
    return frozenset(t for t in tokens
                     if provider not in acceptance.on_host(t, host_uuid))


def _candidate_shortfall(host_uuid, candidate, req, acceptance):
    allocations = candidate.get('allocations', {})
    providers = [rp for rp in sorted(allocations)
                 if req.resource_classes.intersection(
                     allocations[rp].get('resources', ()))]
    if not providers:
        return Shortfall(req, None, req.tokens)
    for rp in providers:
        missing = _missing(rp, req.tokens, acceptance, host_uuid)
        if missing:
            return Shortfall(req, rp, missing)
    return None


def _meets(candidate, needs):
    """Does an allocation candidate meet every device requirement?

    ``needs``: ``(resource classes, the host's providers accepting all the
    requirement's strings, {class: amount})`` per device requirement.
    One requirement: every provider the candidate allocates its classes
    from accepts (membership only: this runs for every candidate of every
    host).  Several (an instance with several devices): each device's
    units go to units of the candidate's providers that accept that
    device's own strings, one unit each, as the candidate allocates them
    (:func:`_matched`).
    """
    allocations = candidate['allocations']
    if len(needs) == 1 or not all(need[2] for need in needs):
        for classes, accepting, _amounts in needs:
            allocated = False
            for rp, allocation in allocations.items():
                # .keys(): resources of another shape raise (fail closed).
                uses = not classes.isdisjoint(allocation['resources'].keys())
                if rp in accepting:
                    allocated = allocated or uses
                elif uses:
                    return False
            if not allocated:
                return False
        return True
    for resource_class in set().union(*(need[0] for need in needs)):
        units = [i for i, need in enumerate(needs)
                 for _unit in range(need[2].get(resource_class, 0))]
        slots = [rp for rp, allocation in sorted(allocations.items())
                 for _unit in range(allocation['resources'].get(
                     resource_class, 0))]
        if len(units) != len(slots) or not _matched(
                units, slots, [need[1] for need in needs]):
            return False
    return True


def _matched(units, slots, accepting):
    """Can every unit take a slot of a provider that accepts it?

    ``units``: the requirement index of each device unit; ``slots``: the
    provider of each unit the candidate allocates; ``accepting``: per
    requirement, its accepting providers.  Kuhn's augmenting paths: the
    few units of one instance.
    """
    taken = [None] * len(slots)

    def place(unit, seen):
        for slot, rp in enumerate(slots):
            if slot in seen or rp not in accepting[units[unit]]:
                continue
            seen.add(slot)
            if taken[slot] is None or place(taken[slot], seen):
                taken[slot] = unit
                return True
        return False

    return all(place(unit, set()) for unit in range(len(units)))


def _host_shortfall(host_uuid, req, acceptance, devices):
    """Does one provider of the host accept every string of ``req``?"""
    if req.host_level:
        missing = _missing(host_uuid, req.tokens, acceptance, host_uuid)
        if missing:
            return Shortfall(req, host_uuid, missing)
        devices.add(host_uuid)
        return None
    offered = set()
    for token in req.tokens:
        offered.update(acceptance.on_host(token, host_uuid))
    offered.discard(host_uuid)
    best = None
    for rp in sorted(offered):
        missing = _missing(rp, req.tokens, acceptance, host_uuid)
        if not missing:
            devices.add(rp)
        elif best is None or len(missing) < len(best.tokens):
            best = Shortfall(req, rp, missing)
    if any(rp in devices for rp in offered):
        return None
    return best or Shortfall(req, None, req.tokens)


class Rule(object):
    """:func:`judge_host`'s rule for allocation candidates, set up once.

    The scheduler judges thousands of hosts for one request: the accepting
    providers of each requirement, by host, are worked out here once (and
    kept with the scheduler's cached listings), so that a host with no
    accepting device costs one lookup and a candidate costs membership
    tests among its own host's few devices.  It answers what
    :func:`judge_host` answers with candidates (which says why not).
    """

    def __init__(self, requirements, acceptance):
        self._host = [acceptance.trees(req.tokens)
                      for req in requirements if req.host_level]
        self._needs = [(req.resource_classes, acceptance.trees(req.tokens),
                        dict(req.amounts))
                       for req in requirements if not req.host_level]
        if not self._host and len(self._needs) == 1 and \
                len(self._needs[0][0]) == 1:
            # The common case (one device resource class, no PCI): the
            # same rule with a dictionary lookup in place of set algebra.
            (resource_class,), trees, _amounts = self._needs[0]
            self.keep = _keeper(resource_class, trees)

    def keep(self, host_uuid, candidates):
        """The candidates that meet every requirement (empty: none).

        :raises KeyError: a candidate is not in placement's format.
        """
        for trees in self._host:
            if host_uuid not in trees.get(host_uuid, ()):
                return []
        needs = []
        for classes, trees, amounts in self._needs:
            here = trees.get(host_uuid)
            if not here:
                # No device of this host accepts: no candidate can meet.
                return []
            needs.append((classes, here, amounts))
        return [candidate for candidate in candidates
                if _meets(candidate, needs)]


def _keeper(resource_class, trees):
    """:meth:`Rule.keep` for one device resource class and nothing else.

    All of a host's candidates kept are returned as the same list.
    """
    def keep(host_uuid, candidates):
        here = trees.get(host_uuid)
        if not here:
            return []
        kept = None
        for index, candidate in enumerate(candidates):
            allocated = False
            for rp, allocation in candidate['allocations'].items():
                # .keys(): resources of another shape raise (fail closed).
                if resource_class in allocation['resources'].keys():
                    if rp not in here:
                        break
                    allocated = True
            else:
                if allocated:
                    if kept is not None:
                        kept.append(candidate)
                    continue
            if kept is None:
                kept = list(candidates[:index])
        return candidates if kept is None else kept
    return keep


def judge_host(host_uuid, requirements, acceptance, candidates=None):
    """The one acceptance rule: judge a destination host (and candidates).

    A host meets a host-level requirement when its root provider accepts
    every string.  With allocation candidates, a candidate meets the
    device requirements when each device's units go to providers of the
    host's own tree that accept that device's strings, as the candidate
    allocates them (one device: every provider it allocates the device's
    classes from accepts; a two-vGPU instance whose vGPUs have different
    strings: each on a provider that accepts its own); the host passes
    when one candidate meets them all.  Without candidates (the
    operator's view), one provider of the host must accept every string
    of each device requirement.

    Used by the scheduler filter, ``explain``, ``matrix`` and the
    OpenStackClient plugin, so that they never disagree.

    :param host_uuid: the destination's root provider (compute node) uuid.
    :param acceptance: the :class:`Acceptance` of the requirements.
    :param candidates: the host's allocation candidates; None or empty
        when placement gave none (the host is then judged by its
        providers).
    :returns: a :class:`Judgement`.
    """
    candidates = candidates or None
    devices = set()
    shortfalls = []
    for req in requirements:
        if req.host_level or candidates is None:
            shortfall = _host_shortfall(host_uuid, req, acceptance, devices)
            if shortfall is not None:
                shortfalls.append(shortfall)
    kept = None
    if candidates is not None and not shortfalls:
        device_reqs = [req for req in requirements if not req.host_level]
        needs = [(req.resource_classes,
                  acceptance.trees(req.tokens).get(host_uuid, ()),
                  dict(req.amounts))
                 for req in device_reqs]
        kept = [candidate for candidate in candidates
                if _meets(candidate, needs)]
        if not kept:
            # Why, from the first candidate (the one placement preferred).
            for req in device_reqs:
                shortfall = _candidate_shortfall(host_uuid, candidates[0],
                                                 req, acceptance)
                if shortfall is not None:
                    shortfalls.append(shortfall)
                    break
            else:
                # Never "accepts" with no candidate left.
                shortfalls.append(Shortfall(device_reqs[0], None,
                                            device_reqs[0].tokens))
    return Judgement(tuple(shortfalls), kept, frozenset(devices))
