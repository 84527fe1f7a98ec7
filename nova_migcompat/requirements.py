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
    """Strings a destination must accept, and where."""

    #: Resource classes whose destination providers must accept the
    #: strings; None for the host-level (root provider) requirement.
    resource_classes: typing.Optional[frozenset]
    tokens: frozenset
    #: The source providers the strings come from.
    sources: tuple

    @property
    def host_level(self):
        return self.resource_classes is None


def src_tokens(traits):
    """The tokens of the SRC traits among ``traits`` that decode.

    A SRC trait that does not decode (corrupt, or of a newer release) is a
    refusal, never a requirement: see :func:`read_source`.
    """
    return {parsed[1] for parsed in map(codec.parse_trait, traits)
            if parsed and parsed[0] == codec.SRC and
            codec.problem(parsed[1]) is None}


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

    @property
    def untracked(self):
        """Nothing to judge and nothing to refuse (stock Nova)."""
        return not self.requirements and not self.refusals


def _read_traits(rp_uuid, traits, refusals):
    """The decodable SRC tokens of one provider; its refusals are added."""
    tokens = set()
    for name in sorted(traits):
        parsed = codec.parse_trait(name)
        if parsed is None:
            continue
        kind, body = parsed
        if kind == codec.SRC:
            problem = codec.problem(body)
            if problem is None:
                tokens.add(body)
            else:
                refusals.append(Refusal(
                    UNDECODABLE, rp_uuid, 'its trait %s... is %s'
                    % (name[:48], problem[1])))
        elif kind == codec.NOSRC:
            refusals.append(Refusal(
                UNJUDGED, rp_uuid, 'the nova-migcompat agent manages a '
                'device of it that has no compatibility string: %s'
                % codec.reason_words(body)))
    return tokens


def read_source(allocations, traits_of, source_root, host_level=False):
    """What a live migration of an instance allocated so requires.

    Device requirements come from the SRC traits of the allocated
    providers other than the source root (per resource class), the
    host-level requirement from the root's when the instance has PCI
    devices.  A NOSRC trait or a SRC trait that does not decode on one of
    those providers is a :class:`Refusal`.  When none of them carries a
    trait of ours but the instance holds a device (an allocation outside
    the root, or PCI devices), the root is asked whether an agent reports
    the host (its REPORTED trait): ``managed``.

    :param allocations: ``{provider uuid: {'resources': {class: n}}}`` of
        the migration consumer (the instance's source allocations).
    :param traits_of: a callable returning a provider's trait names.
    :param source_root: the uuid of the source compute node's root
        provider.
    :param host_level: True when the instance has PCI devices: the source
        root provider's strings are then required too.
    """
    by_classes = {}
    refusals = []
    devices = False
    for rp_uuid in sorted(allocations):
        if rp_uuid == source_root:
            continue
        devices = True
        tokens = _read_traits(rp_uuid, traits_of(rp_uuid), refusals)
        if not tokens:
            continue
        classes = frozenset(allocations[rp_uuid].get('resources', {}))
        have_tokens, have_sources = by_classes.get(classes, (set(), ()))
        by_classes[classes] = (have_tokens | tokens,
                               have_sources + (rp_uuid,))
    reqs = [Requirement(classes, frozenset(tokens), sources)
            for classes, (tokens, sources) in sorted(
                by_classes.items(), key=lambda item: sorted(item[0]))]
    root_traits = None
    if host_level and source_root in allocations:
        root_traits = traits_of(source_root)
        tokens = _read_traits(source_root, root_traits, refusals)
        if tokens:
            reqs.append(Requirement(None, frozenset(tokens), (source_root,)))
    source = Source(reqs, refusals)
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


def find_accepting(client, reqs, listing=None):
    """Who accepts the requirements' strings: one listing per string.

    :param listing: a callable ``(client, token) -> {uuid: root}``; by
        default placement's listing of the string's ACC trait.
    """
    strings, accepting = {}, {}
    tokens = set()
    for req in reqs:
        tokens |= req.tokens
    for token in sorted(tokens):
        strings[token] = codec.describe(token)
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


def _meets(candidate, device_reqs):
    """Does an allocation candidate meet every device requirement?

    ``device_reqs``: ``(resource classes, the host's providers accepting
    all the strings)`` pairs.  Membership only: this runs for every
    candidate of every host.
    """
    allocations = candidate['allocations']
    for classes, accepting in device_reqs:
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
        self._needs = [(req.resource_classes, acceptance.trees(req.tokens))
                       for req in requirements if not req.host_level]
        if not self._host and len(self._needs) == 1 and \
                len(self._needs[0][0]) == 1:
            # The common case (one device resource class, no PCI): the
            # same rule with a dictionary lookup in place of set algebra.
            (resource_class,), trees = self._needs[0]
            self.keep = _keeper(resource_class, trees)

    def keep(self, host_uuid, candidates):
        """The candidates that meet every requirement (empty: none).

        :raises KeyError: a candidate is not in placement's format.
        """
        for trees in self._host:
            if host_uuid not in trees.get(host_uuid, ()):
                return []
        needs = []
        for classes, trees in self._needs:
            here = trees.get(host_uuid)
            if not here:
                # No device of this host accepts: no candidate can meet.
                return []
            needs.append((classes, here))
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
    every string.  With allocation candidates, a candidate meets a device
    requirement when every provider it allocates the requirement's
    resource classes from is one of the host's (its own tree) and accepts
    every string (a two-vGPU instance needs both strings accepted); the
    host passes when one candidate meets them all.  Without candidates
    (the operator's view), one provider of the host must accept every
    string of each device requirement.

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
                  acceptance.trees(req.tokens).get(host_uuid, ()))
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
