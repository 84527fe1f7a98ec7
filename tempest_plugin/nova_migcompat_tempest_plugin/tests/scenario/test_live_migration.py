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

"""Live migrations with MigrationCompatibilityFilter, on any fleet.

The tests do not know the cloud's hardware: they read from placement which
hosts accept the source device's strings (their ``CUSTOM_MIGCOMPAT_ACC_*``
traits) and expect the scheduler to agree.  Without the filter in
nova-scheduler's enabled_filters they fail wherever the scheduler may pick
a refusing host.
"""

import dataclasses

from tempest import config
from tempest.lib import decorators

from nova_migcompat_tempest_plugin.common import fleet as fleet_mod
from nova_migcompat_tempest_plugin.tests import base

CONF = config.CONF


@dataclasses.dataclass
class Source:
    """A server with devices, where it runs, and what it requires."""

    server_id: str
    #: (host, node) from the Nova API.
    where: tuple
    root: str
    nodes: dict
    fleet: fleet_mod.Fleet
    allocations: dict
    requirements: list
    #: The usable compute nodes other than the source (root uuids).
    candidates: list


class DeviceLiveMigrationTest(base.LiveMigrationBaseTest):
    """Servers with devices go only where their devices are accepted."""

    @classmethod
    def skip_checks(cls):
        super(DeviceLiveMigrationTest, cls).skip_checks()
        if not CONF.migcompat.filter_enabled:
            raise cls.skipException(
                'MigrationCompatibilityFilter is not enabled '
                '([migcompat]filter_enabled = False)')

    def _device_server(self):
        """Boot a server with a device; read its source side."""
        rc = CONF.migcompat.device_resource_class
        nodes = self.compute_nodes()
        snapshot = self.fleet(set(nodes), usages=False)
        # The flavor the tests create asks for rc: only hosts with such
        # device providers can boot it.  A flavor of the operator's may
        # ask for PCI functions, tracked on the root provider.
        providers = (snapshot.tracked_providers
                     if CONF.migcompat.device_flavor_ref
                     else snapshot.device_providers)
        with_devices = [root for root, node in nodes.items()
                        if self.usable(node) and providers(root, rc)]
        if not with_devices:
            raise self.skipException(
                'No enabled, up compute node has device providers (a '
                'child <node>_pci_* with %s inventory%s): no server with '
                'a device can be booted'
                % (rc, ', or CUSTOM_MIGCOMPAT_* traits'
                   if CONF.migcompat.device_flavor_ref else ''))
        flavor = self.device_flavor()
        server = self.create_device_server()
        server_id = server['id']
        where = self.where(server_id)
        roots = [root for root, node in nodes.items()
                 if node['hypervisor_hostname'] == where[1]]
        self.assertEqual(1, len(roots), 'compute node %s of server %s '
                         'among %s' % (where[1], server_id, sorted(
                             n['hypervisor_hostname']
                             for n in nodes.values())))
        source_root = roots[0]
        fleet = self.fleet(set(nodes))
        allocations = self.allocations(server_id)
        reqs = fleet_mod.requirements(allocations, fleet, source_root,
                                      host_level=self.flavor_has_pci(flavor),
                                      instance=server_id)
        if not reqs:
            self.fail(
                'The devices of server %s on node %s publish no '
                'CUSTOM_MIGCOMPAT_SRC_* trait (its allocations: %s): is '
                'nova-migcompat-agent running there?'
                % (server_id, where[1], {
                    self.describe(fleet, rp): a['resources']
                    for rp, a in allocations.items()}))
        candidates = sorted(root for root, node in nodes.items()
                            if root != source_root and self.usable(node))
        return Source(server_id, where, source_root, nodes, fleet,
                      allocations, reqs, candidates)

    def _node(self, source, root):
        return source.nodes[root]['hypervisor_hostname']

    def _strings(self, source):
        return self.describe_tokens(fleet_mod.all_tokens(source.requirements))

    def _shortfall_text(self, fleet, shortfall):
        req = shortfall.requirement
        what = ('its root provider (PCI functions)' if req.host_level
                else 'no provider of %s' % ', '.join(
                    sorted(req.resource_classes))
                if shortfall.provider is None
                else 'provider %s' % self.describe(fleet, shortfall.provider))
        return '%s lacks the acceptance of %s' % (
            what, self.describe_tokens(shortfall.missing))

    @decorators.attr(type='multinode')
    @decorators.idempotent_id('4b99b602-566f-4a1a-8951-f4fb56b3307a')
    def test_live_migrate_device_server_to_accepting_host(self):
        """The scheduler picks a host that accepts, or none at all.

        Where placement says some host accepts the source device's strings
        (and has room), the migration completes and every destination
        provider holding the device carries the ACC trait of every source
        SRC token.  Where none does, it fails in scheduling and the server
        stays, ACTIVE, where it was, with its allocations.
        """
        source = self._device_server()
        accepting = fleet_mod.accepting_hosts(
            source.requirements, source.fleet, source.candidates)
        before = self.live_migrate(source.server_id)
        record = self.wait_for_migration_end(source.server_id, before)
        if not accepting:
            self.assert_clean_failure(
                source.server_id, record, source.where, source.allocations,
                'no other enabled compute node accepts its device strings '
                '%s with room for its device' % self._strings(source))
            return
        accepting_nodes = sorted(self._node(source, r) for r in accepting)
        self.assertEqual(
            'completed', record['status'],
            'The live migration of server %s from %s ended %s, though '
            'nodes %s accept its device strings %s: %s'
            % (source.server_id, source.where[1], record['status'],
               accepting_nodes, self._strings(source), record))
        host, node = self.where(source.server_id)
        self.assertNotEqual(source.where[1], node,
                            'server %s did not move' % source.server_id)
        dest = [r for r, n in source.nodes.items()
                if n['hypervisor_hostname'] == node]
        self.assertEqual(1, len(dest), 'compute node %s' % node)
        dest_root = dest[0]
        after = self.allocations(source.server_id)
        fleet = self.fleet({dest_root}, usages=False)
        missing = fleet_mod.shortfalls(source.requirements, after, fleet,
                                       dest_root)
        if missing:
            self.fail(
                'Server %s was live-migrated from %s to %s, which does not '
                'accept its device strings %s (the nodes that do: %s): %s'
                % (source.server_id, source.where[1], node,
                   self._strings(source), accepting_nodes, '; '.join(
                       self._shortfall_text(fleet, s) for s in missing)))

    @decorators.attr(type='multinode')
    @decorators.idempotent_id('1886ac41-cb5d-410d-95e6-afeb05903666')
    def test_live_migrate_device_server_to_refusing_host(self):
        """Naming a refusing host (not forced) fails in scheduling.

        The destination is a host with room for the device whose device
        providers do not accept the source strings: only the filter keeps
        the server from it.  The migration fails in scheduling, the
        server stays ACTIVE on its source with its allocations.
        """
        source = self._device_server()
        refusing = fleet_mod.refusing_hosts(
            source.requirements, source.fleet, source.candidates)
        if not refusing:
            raise self.skipException(
                'No refusing host: every other enabled compute node with '
                'room for the device of server %s (on %s) accepts its '
                'device strings %s, or none has room; on a homogeneous '
                'cloud there is no host to refuse'
                % (source.server_id, source.where[1],
                   self._strings(source)))
        target = source.nodes[refusing[0]]
        before = self.live_migrate(source.server_id,
                                   host=target['service']['host'])
        record = self.wait_for_migration_end(source.server_id, before)
        self.assert_clean_failure(
            source.server_id, record, source.where, source.allocations,
            'host %s (node %s) does not accept its device strings %s'
            % (target['service']['host'], target['hypervisor_hostname'],
               self._strings(source)))


class LiveMigrationWithoutDevicesTest(base.LiveMigrationBaseTest):
    """A server without devices live-migrates as with stock Nova."""

    @decorators.attr(type='multinode')
    @decorators.idempotent_id('9bbfc635-243a-4190-963a-5986e52d8347')
    def test_live_migrate_server_without_devices(self):
        server = self.create_server()
        source = self.where(server['id'])
        before = self.live_migrate(server['id'])
        record = self.wait_for_migration_end(server['id'], before)
        self.assertEqual(
            'completed', record['status'],
            'The live migration of server %s (no device) from %s ended '
            '%s: %s' % (server['id'], source[1], record['status'], record))
        host, node = self.where(server['id'])
        self.assertNotEqual(source[1], node,
                            'server %s did not move' % server['id'])
        nodes = self.compute_nodes()
        dest = [r for r, n in nodes.items()
                if n['hypervisor_hostname'] == node]
        self.assertEqual(1, len(dest), 'compute node %s' % node)
        fleet = self.fleet(set(dest), usages=False)
        allocations = self.allocations(server['id'])
        self.assertTrue(allocations, 'server %s has no allocations'
                        % server['id'])
        elsewhere = sorted(rp for rp in allocations
                           if fleet.root_of(rp) != dest[0])
        self.assertEqual([], elsewhere,
                         'Allocations of server %s outside its new node %s'
                         % (server['id'], node))
