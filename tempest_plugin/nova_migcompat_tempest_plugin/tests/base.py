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

"""The base class of the plugin's tests: placement snapshots, servers with
devices, live migrations and how they end."""

import time

from oslo_log import log as logging
from tempest.api.compute import base
from tempest.common import waiters
from tempest import config
from tempest.lib.common.utils import data_utils
from tempest.lib.common.utils import test_utils
from tempest.lib import exceptions as lib_exc

from nova_migcompat_tempest_plugin.common import fleet as fleet_mod
from nova_migcompat_tempest_plugin.common import traits as migtraits

CONF = config.CONF
LOG = logging.getLogger(__name__)

#: The statuses a live migration record ends in.
MIGRATION_END = ('completed', 'error', 'failed', 'cancelled')
#: The instance action event of a destination precheck: nova-compute
#: records it on every host the conductor tries.
PRECHECK_EVENT = 'compute_check_can_live_migrate_destination'


class MigcompatBaseTest(base.BaseV2ComputeAdminTest):
    """Admin compute tests that read placement.

    Compute microversion 2.53: hypervisor ids are the compute nodes' (root
    providers') uuids, ``block_migration='auto'`` (2.25) and ``host``
    without ``force`` (2.30, checked by the scheduler).  Placement 1.14:
    providers list their root.
    """

    min_microversion = '2.53'
    placement_min_microversion = '1.14'

    @classmethod
    def skip_checks(cls):
        super(MigcompatBaseTest, cls).skip_checks()
        if not CONF.migcompat.available:
            raise cls.skipException('nova-migcompat is not available '
                                    '([migcompat]available = False)')

    @classmethod
    def setup_clients(cls):
        super(MigcompatBaseTest, cls).setup_clients()
        cls.rp_client = cls.os_admin.resource_providers_client
        cls.placement = cls.os_admin.placement_client
        cls.admin_migrations_client = cls.os_admin.migrations_client
        cls.admin_hypervisor_client = cls.os_admin.hypervisor_client

    # -- placement ---------------------------------------------------------

    def compute_nodes(self):
        """``{root uuid: hypervisor}`` of every compute node."""
        hypervisors = self.admin_hypervisor_client.list_hypervisors(
            detail=True)['hypervisors']
        return {h['id']: h for h in hypervisors}

    @staticmethod
    def usable(hypervisor):
        return (hypervisor.get('state') == 'up' and
                hypervisor.get('status') == 'enabled')

    def fleet(self, roots, usages=True):
        """A snapshot of the trees of ``roots`` (compute node uuids)."""
        listed = self.rp_client.list_resource_providers()[
            'resource_providers']
        providers = []
        for rp in listed:
            if rp.get('root_provider_uuid') not in roots:
                continue
            uuid = rp['uuid']
            providers.append(fleet_mod.Provider(
                uuid=uuid, name=rp['name'], root=rp['root_provider_uuid'],
                parent=rp.get('parent_provider_uuid'),
                traits=frozenset(self.rp_client.list_resource_provider_traits(
                    uuid)['traits']),
                inventories=self.rp_client.list_resource_provider_inventories(
                    uuid)['inventories'],
                usages=(self.rp_client.list_resource_provider_usages(
                    uuid)['usages'] if usages else {})))
        return fleet_mod.Fleet.of(providers)

    def allocations(self, consumer):
        """``{provider uuid: {'resources': {...}}}`` of a consumer."""
        found = self.placement.list_allocations(consumer)['allocations']
        return {rp: {'resources': dict(a.get('resources', {}))}
                for rp, a in found.items()}

    def describe(self, fleet, uuid):
        provider = fleet.get(uuid)
        return '%s (%s)' % (provider.name, uuid) if provider else uuid

    def describe_tokens(self, tokens):
        return ', '.join(migtraits.describe(t) for t in sorted(tokens))

    # -- servers -----------------------------------------------------------

    @classmethod
    def device_flavor(cls):
        """The flavor of servers with devices (created once if needed)."""
        if getattr(cls, '_device_flavor', None):
            return cls._device_flavor
        if CONF.migcompat.device_flavor_ref:
            flavor = cls.admin_flavors_client.show_flavor(
                CONF.migcompat.device_flavor_ref)['flavor']
        else:
            like = cls.admin_flavors_client.show_flavor(
                CONF.compute.flavor_ref)['flavor']
            flavor = cls.admin_flavors_client.create_flavor(
                name=data_utils.rand_name(
                    prefix=CONF.resource_name_prefix,
                    name='migcompat-device-flavor'),
                ram=like['ram'], vcpus=like['vcpus'], disk=like['disk'],
                id=data_utils.rand_uuid())['flavor']
            cls.addClassResourceCleanup(
                test_utils.call_and_ignore_notfound_exc,
                cls.admin_flavors_client.delete_flavor, flavor['id'])
            cls.admin_flavors_client.set_flavor_extra_spec(
                flavor['id'], **{
                    'resources:%s' % CONF.migcompat.device_resource_class:
                        str(CONF.migcompat.device_resource_amount)})
        cls._device_flavor = flavor
        return flavor

    @classmethod
    def flavor_has_pci(cls, flavor):
        specs = cls.admin_flavors_client.list_flavor_extra_specs(
            flavor['id'])['extra_specs']
        return 'pci_passthrough:alias' in specs

    def create_server(self, flavor_id=None, image_id=None):
        server = self.create_test_server(
            flavor=flavor_id or CONF.compute.flavor_ref,
            image_id=image_id or CONF.compute.image_ref,
            wait_until='ACTIVE')
        return self.admin_servers_client.show_server(server['id'])['server']

    def create_device_server(self):
        flavor = self.device_flavor()
        return self.create_server(
            flavor_id=flavor['id'],
            image_id=CONF.migcompat.image_ref or CONF.compute.image_ref)

    def where(self, server_id):
        """``(host, node)`` of a server."""
        server = self.admin_servers_client.show_server(server_id)['server']
        return (server['OS-EXT-SRV-ATTR:host'],
                server['OS-EXT-SRV-ATTR:hypervisor_hostname'])


class LiveMigrationBaseTest(MigcompatBaseTest):
    """Tests that boot servers and live-migrate them."""

    create_default_network = True

    @classmethod
    def skip_checks(cls):
        super(LiveMigrationBaseTest, cls).skip_checks()
        if not CONF.compute_feature_enabled.live_migration:
            raise cls.skipException('live migration is not available '
                                    '([compute-feature-enabled]'
                                    'live_migration = False)')
        if CONF.compute.min_compute_nodes < 2:
            raise cls.skipException('fewer than 2 compute nodes '
                                    '([compute]min_compute_nodes < 2)')

    # -- live migration ----------------------------------------------------

    def live_migrations(self, server_id):
        found = self.admin_migrations_client.list_migrations(
            instance_uuid=server_id)['migrations']
        return sorted((m for m in found
                       if m.get('instance_uuid') == server_id and
                       m.get('migration_type') == 'live-migration'),
                      key=lambda m: m['id'])

    def live_migrate(self, server_id, host=None):
        """Start a live migration; return the ids of earlier records."""
        before = {m['id'] for m in self.live_migrations(server_id)}
        self.admin_servers_client.live_migrate_server(
            server_id, host=host, block_migration='auto')
        return before

    def wait_for_migration_end(self, server_id, before):
        """The server's new live migration record, once it has ended."""
        timeout = CONF.migcompat.migration_timeout
        start = time.time()
        record = None
        while time.time() - start < timeout:
            new = [m for m in self.live_migrations(server_id)
                   if m['id'] not in before]
            if new:
                record = new[-1]
                if record['status'] in MIGRATION_END:
                    break
            time.sleep(CONF.compute.build_interval)
        else:
            raise lib_exc.TimeoutException(
                'The live migration of server %s did not end within %d s: '
                '%s' % (server_id, timeout,
                        record or 'no migration record'))
        waiters.wait_for_server_status(self.admin_servers_client, server_id,
                                       'ACTIVE')
        return record

    def live_migration_events(self, server_id):
        """The event names of the server's latest live-migration action."""
        actions = [a for a in self.admin_servers_client.list_instance_actions(
            server_id)['instanceActions'] if a['action'] == 'live-migration']
        if not actions:
            return None
        latest = max(actions, key=lambda a: a['start_time'])
        action = self.admin_servers_client.show_instance_action(
            server_id, latest['request_id'])['instanceAction']
        return [e['event'] for e in action.get('events', [])]

    def assert_clean_failure(self, server_id, record, source, allocations,
                             why):
        """The migration failed in scheduling; the server did not move.

        The migration record says ``error`` with no destination, the
        server is ACTIVE on its source node, its allocations are what they
        were, and no destination precheck ran (the scheduler refused in its
        first and only attempt).
        """
        where = self.where(server_id)
        self.assertEqual(
            'error', record['status'],
            'The live migration of server %s should have failed in '
            'scheduling (%s); its migration record: %s'
            % (server_id, why, record))
        self.assertEqual(
            source, where,
            'Server %s moved from %s to %s; %s' % (server_id, source, where,
                                                   why))
        self.assertFalse(
            record.get('dest_compute'),
            'The failed live migration of server %s chose destination %s; '
            '%s' % (server_id, record.get('dest_compute'), why))
        self.assertEqual(
            allocations, self.allocations(server_id),
            'The allocations of server %s changed after its failed live '
            'migration' % server_id)
        events = self.live_migration_events(server_id)
        if events is not None:
            self.assertNotIn(
                PRECHECK_EVENT, events,
                'A destination precheck ran for server %s: the scheduler '
                'offered a host (%s); events: %s' % (server_id, why, events))
