"""What a live migration requires of its destination's devices.

The source side is read from placement: the migration consumer's
allocations say which providers hold the instance's devices, and their
``CUSTOM_MIGCOMPAT_SRC_*`` traits say which strings those devices produce.
A destination provider meets a requirement when it has the
``CUSTOM_MIGCOMPAT_ACC_*`` trait of every one of those strings.

Device requirements are per resource class: every provider that a
destination allocation candidate allocates those classes from must accept
every string of the source providers of the same classes (a two-vGPU
instance needs both strings accepted).  PCI functions are tracked at host
granularity (see :mod:`nova_migcompat.agent.provider_names`): the destination's
root provider must accept every string of the source's root provider.
"""

import dataclasses
import typing

from nova_migcompat import codec
from nova_migcompat import exception


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
    """The tokens of the valid SRC traits among ``traits``.

    A token that does not decode cannot have been published by an agent
    (nor accepted by one): it is ignored rather than failing the request.
    """
    tokens = set()
    for name in traits:
        parsed = codec.parse_trait(name)
        if parsed and parsed[0] == codec.SRC:
            try:
                codec.decode(parsed[1])
            except exception.InvalidToken:
                continue
            tokens.add(parsed[1])
    return tokens


def source_requirements(allocations, traits_of, source_root,
                        host_level=False):
    """The requirements of an instance whose devices are allocated so.

    :param allocations: ``{provider uuid: {'resources': {class: n}}}`` of
        the migration consumer (the instance's source allocations).
    :param traits_of: a callable returning a provider's trait names.
    :param source_root: the uuid of the source compute node's root
        provider.
    :param host_level: True when the instance has PCI devices: the source
        root provider's strings are then required too.
    """
    by_classes = {}
    for rp_uuid in sorted(allocations):
        if rp_uuid == source_root:
            continue
        tokens = src_tokens(traits_of(rp_uuid))
        if not tokens:
            continue
        classes = frozenset(allocations[rp_uuid].get('resources', {}))
        have_tokens, have_sources = by_classes.get(classes, (set(), ()))
        by_classes[classes] = (have_tokens | tokens,
                               have_sources + (rp_uuid,))
    reqs = [Requirement(classes, frozenset(tokens), sources)
            for classes, (tokens, sources) in sorted(
                by_classes.items(), key=lambda item: sorted(item[0]))]
    if host_level and source_root in allocations:
        tokens = src_tokens(traits_of(source_root))
        if tokens:
            reqs.append(Requirement(None, frozenset(tokens), (source_root,)))
    return reqs


@dataclasses.dataclass
class Acceptance:
    """Who accepts the strings of a set of requirements (from placement)."""

    #: token -> the exact string.
    strings: dict
    #: token -> uuids of the providers with its ACC trait.
    accepting: dict
    #: provider uuid -> its root provider uuid (for the accepting ones).
    roots: dict
    #: token -> root uuid -> its accepting providers, built on first use.
    _on_host: dict = dataclasses.field(default_factory=dict, init=False,
                                       repr=False)

    def on_host(self, token, host_uuid):
        """The providers of one host with the ACC trait of ``token``."""
        index = self._on_host.get(token)
        if index is None:
            index = self._on_host[token] = {}
            for rp in self.accepting.get(token, ()):
                index.setdefault(self.roots.get(rp), set()).add(rp)
        return index.get(host_uuid, frozenset())


def find_accepting(client, reqs):
    """One placement query per distinct source string."""
    found = Acceptance({}, {}, {})
    tokens = set()
    for req in reqs:
        tokens |= req.tokens
    for token in sorted(tokens):
        found.strings[token] = codec.decode(token)
        providers = client.providers_with_trait(codec.trait(codec.ACC,
                                                            token))
        found.accepting[token] = {rp['uuid'] for rp in providers}
        for rp in providers:
            found.roots[rp['uuid']] = rp.get('root_provider_uuid')
    return found


@dataclasses.dataclass(frozen=True)
class Shortfall:
    """Why a destination does not meet a requirement."""

    #: The destination provider that does not accept, or None when the
    #: candidate has no provider of the requirement's classes.
    provider: typing.Optional[str]
    token: typing.Optional[str]
    requirement: Requirement


def check_host(host_uuid, requirements, accepting):
    """The first host-level shortfall of a destination, or None.

    :param accepting: ``{token: set of provider uuids with its ACC trait}``.
    """
    for req in requirements:
        if not req.host_level:
            continue
        for token in sorted(req.tokens):
            if host_uuid not in accepting.get(token, ()):
                return Shortfall(host_uuid, token, req)
    return None


def check_candidate(candidate, requirements, accepting):
    """The first device shortfall of an allocation candidate, or None."""
    allocations = candidate.get('allocations', {})
    for req in requirements:
        if req.host_level:
            continue
        providers = [rp for rp in sorted(allocations)
                     if req.resource_classes &
                     set(allocations[rp].get('resources', {}))]
        if not providers:
            return Shortfall(None, None, req)
        for rp in providers:
            for token in sorted(req.tokens):
                if rp not in accepting.get(token, ()):
                    return Shortfall(rp, token, req)
    return None


def check_host_providers(host_uuid, requirements, acceptance):
    """Without candidates: does the host have a provider for each need?

    :param acceptance: the :class:`Acceptance` of the requirements.
    """
    shortfall = check_host(host_uuid, requirements, acceptance.accepting)
    if shortfall:
        return shortfall
    for req in requirements:
        if req.host_level:
            continue
        tokens = sorted(req.tokens)
        # One provider of this host must accept all of them.
        ready = set(acceptance.on_host(tokens[0], host_uuid))
        for token in tokens:
            ready &= acceptance.on_host(token, host_uuid)
            if not ready:
                return Shortfall(None, token, req)
    return None
