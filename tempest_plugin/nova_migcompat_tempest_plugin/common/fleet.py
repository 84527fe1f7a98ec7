#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""What placement says about the fleet: the tests' expectations.

Pure functions over a snapshot of placement (providers with their traits,
inventories and usages, and allocations), so that they are unit tested
without a cloud.  The tests read the snapshot with tempest's placement
clients (:mod:`nova_migcompat_tempest_plugin.tests.base`).

The rule, as the product documents it (README, "Enabling the filter"),
written here independently of the product's code so that the scenario
tests check the filter instead of repeating it:

* the requirements of a server come from its source allocations: for each
  set of resource classes, the tokens of the ``CUSTOM_MIGCOMPAT_SRC_*``
  traits of the non-root source providers holding those classes; with
  flavor PCI devices, also the SRC tokens of the source root provider;
* after a live migration, every destination provider holding one of a
  requirement's classes must carry the ``CUSTOM_MIGCOMPAT_ACC_*`` trait of
  every token of that requirement (and the destination root every
  host-level token);
* before it, a host accepts the server when, for each requirement, one of
  its providers carries every ACC trait and has room for what a source
  provider of the requirement holds (and its root every host-level one).

Tokens are compared by equality only (:mod:`.traits`).
"""

import dataclasses
import typing

from nova_migcompat_tempest_plugin.common import traits as migtraits


@dataclasses.dataclass(frozen=True)
class Provider:
    """One resource provider, as placement describes it."""

    uuid: str
    name: str
    root: str
    parent: typing.Optional[str] = None
    traits: frozenset = frozenset()
    #: resource class -> placement's inventory record (total, reserved,
    #: allocation_ratio, min_unit, max_unit, step_size).
    inventories: dict = dataclasses.field(default_factory=dict)
    #: resource class -> units used.
    usages: dict = dataclasses.field(default_factory=dict)

    @property
    def is_root(self):
        return self.uuid == self.root

    def capacity(self, resource_class):
        inv = self.inventories.get(resource_class)
        if not inv:
            return 0
        total = inv.get('total', 0) - inv.get('reserved', 0)
        return int(total * inv.get('allocation_ratio', 1.0))

    def fits(self, resources):
        """Can this provider alone give ``{class: amount}`` now?"""
        for rc, amount in resources.items():
            inv = self.inventories.get(rc)
            if not inv:
                return False
            if amount < inv.get('min_unit', 1):
                return False
            if amount > inv.get('max_unit', amount):
                return False
            if amount % inv.get('step_size', 1):
                return False
            if self.usages.get(rc, 0) + amount > self.capacity(rc):
                return False
        return True

    def accepts(self, tokens):
        """Does it carry the ACC trait of every token?"""
        return set(tokens) <= migtraits.acc_tokens(self.traits)


@dataclasses.dataclass
class Fleet:
    """A snapshot of placement: ``{uuid: Provider}``."""

    providers: dict

    @classmethod
    def of(cls, providers):
        return cls({p.uuid: p for p in providers})

    def get(self, uuid):
        return self.providers.get(uuid)

    def tree(self, root):
        """The providers of one tree, root first then by name."""
        return sorted((p for p in self.providers.values() if p.root == root),
                      key=lambda p: (not p.is_root, p.name, p.uuid))

    def root_of(self, uuid):
        provider = self.providers.get(uuid)
        return provider.root if provider else None

    def device_providers(self, root, resource_class):
        """The pGPU-like children of a compute node.

        Children of ``root`` named ``<root name>_pci_...`` (nova's libvirt
        driver's names for physical GPUs) with inventory of
        ``resource_class``.
        """
        top = self.providers.get(root)
        if top is None:
            return []
        prefix = top.name + '_pci_'
        return [p for p in self.tree(root) if not p.is_root and
                p.name.startswith(prefix) and resource_class in p.inventories]

    def tracked_providers(self, root, resource_class):
        """The providers of a tree that must publish SRC traits.

        Its device providers (:meth:`device_providers`), and every other
        provider of the tree that carries nova-migcompat traits about
        devices (a root provider for PCI functions; not the marks every
        node's root carries).
        """
        found = {p.uuid: p for p in self.device_providers(root,
                                                          resource_class)}
        for p in self.tree(root):
            if migtraits.device_claims(p.traits):
                found.setdefault(p.uuid, p)
        return sorted(found.values(), key=lambda p: (p.name, p.uuid))


@dataclasses.dataclass(frozen=True)
class Requirement:
    """Strings (tokens) a destination must accept, and where."""

    #: The resource classes whose destination providers must accept the
    #: tokens; None for the host-level requirement (the root provider).
    resource_classes: typing.Optional[frozenset]
    tokens: frozenset
    #: The source providers the tokens come from.
    sources: tuple
    #: What the largest source provider holds of resource_classes: a
    #: destination provider needs room for it.
    resources: dict = dataclasses.field(default_factory=dict, hash=False,
                                        compare=False)

    @property
    def host_level(self):
        return self.resource_classes is None


def _resources(allocation):
    return dict(allocation.get('resources', {}))


def requirements(allocations, fleet, source_root, host_level=False,
                 instance=None):
    """The requirements of a server allocated so on its source.

    :param allocations: ``{provider uuid: {'resources': {class: n}}}``, the
        server's allocations in placement.
    :param fleet: a :class:`Fleet` holding the source providers.
    :param source_root: the source compute node's root provider uuid.
    :param host_level: the server has flavor PCI devices: the source root's
        SRC tokens are required too.
    :param instance: the server's uuid: where a source provider has VM
        markers of it, only its own strings are required there.
    """
    grouped = {}
    for uuid in sorted(allocations):
        provider = fleet.get(uuid)
        if uuid == source_root or provider is None:
            continue
        tokens = migtraits.source_ids(provider.traits, instance)
        if not tokens:
            continue
        held = _resources(allocations[uuid])
        classes = frozenset(held)
        have_tokens, sources, most = grouped.get(classes, (set(), (), {}))
        if sum(held.values()) > sum(most.values()):
            most = held
        grouped[classes] = (have_tokens | tokens, sources + (uuid,), most)
    reqs = [Requirement(classes, frozenset(tokens), sources, most)
            for classes, (tokens, sources, most) in sorted(
                grouped.items(), key=lambda item: sorted(item[0]))]
    root = fleet.get(source_root)
    if host_level and root is not None:
        tokens = migtraits.source_ids(root.traits, instance)
        if tokens:
            reqs.append(Requirement(None, frozenset(tokens), (source_root,)))
    return reqs


def all_tokens(reqs):
    found = set()
    for req in reqs:
        found |= req.tokens
    return frozenset(found)


@dataclasses.dataclass(frozen=True)
class Shortfall:
    """A destination provider lacking the ACC traits of some tokens."""

    requirement: Requirement
    #: The destination provider; None when the destination holds none of
    #: the requirement's classes.
    provider: typing.Optional[str]
    missing: frozenset


def shortfalls(reqs, allocations, fleet, dest_root):
    """Where a server that landed on ``dest_root`` is not accepted.

    :param allocations: the server's allocations after the migration.
    :returns: a list of :class:`Shortfall`, empty when every destination
        provider accepts every token it must.
    """
    found = []
    for req in reqs:
        if req.host_level:
            root = fleet.get(dest_root)
            missing = req.tokens - (migtraits.acc_tokens(root.traits)
                                    if root else frozenset())
            if missing:
                found.append(Shortfall(req, dest_root, frozenset(missing)))
            continue
        holders = [uuid for uuid in sorted(allocations)
                   if uuid != dest_root and
                   req.resource_classes & set(_resources(allocations[uuid]))]
        if not holders:
            found.append(Shortfall(req, None, req.tokens))
        for uuid in holders:
            provider = fleet.get(uuid)
            have = (migtraits.acc_tokens(provider.traits) if provider
                    else frozenset())
            missing = req.tokens - have
            if missing:
                found.append(Shortfall(req, uuid, frozenset(missing)))
    return found


def _room(provider, req):
    wanted = {rc: n for rc, n in req.resources.items()
              if rc in req.resource_classes}
    return provider.fits(wanted)


def accepting_devices(reqs, fleet, root):
    """The providers of host ``root`` that accept its share, or None.

    :returns: None when the host does not accept the server (some
        requirement has no provider of the host that accepts every token
        and has room); else the accepting providers.
    """
    devices = set()
    for req in reqs:
        if req.host_level:
            top = fleet.get(root)
            if top is None or not top.accepts(req.tokens):
                return None
            devices.add(root)
            continue
        ok = [p.uuid for p in fleet.tree(root) if not p.is_root and
              p.accepts(req.tokens) and _room(p, req)]
        if not ok:
            return None
        devices.update(ok)
    return frozenset(devices)


def accepting_hosts(reqs, fleet, roots):
    """``{root: accepting providers}`` of the hosts that accept a server.

    :param roots: the candidate destinations' root provider uuids (the
        enabled, up compute nodes other than the source).
    """
    found = {}
    for root in roots:
        devices = accepting_devices(reqs, fleet, root)
        if devices is not None:
            found[root] = devices
    return found


def refusing_hosts(reqs, fleet, roots):
    """The hosts that only the acceptance rule keeps from the server.

    Those among ``roots`` that have room for every device requirement
    (placement would offer them) but do not accept the server: without
    MigrationCompatibilityFilter, the scheduler could pick them.
    """
    found = []
    for root in roots:
        if accepting_devices(reqs, fleet, root) is not None:
            continue
        room = all(
            any(not p.is_root and _room(p, req) for p in fleet.tree(root))
            for req in reqs if not req.host_level)
        if room:
            found.append(root)
    return found
