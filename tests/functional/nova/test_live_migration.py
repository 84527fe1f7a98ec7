"""Live migrations through a real in-process Nova, with and without the
filter: the project's tempest-style tests.

Unless a test says otherwise the fleet is a source with driver 2.1 and
three same-type destinations: ``old`` (2.0: an older minor refuses 2.1),
``major`` (3.1: another major refuses) and ``newer`` (2.3 accepts 2.1).
The weigher prefers old, then major, then newer, so stock Nova always
tries an incompatible host first.
"""

import fixtures
from nova.tests.functional.api import client

from migcompat_lab import cloud
from nova_migcompat.agent import provider_names
from nova_migcompat import codec

WEIGHTS = {'old': 100, 'major': 90, 'newer': 10, 'src': 0}


def pgpu(host, address='0000:81:00.0'):
    return provider_names.pgpu_provider_name(host, address)


class FleetMixin(object):
    WEIGHTS = WEIGHTS

    def setUp(self):
        super().setUp()
        self.start_host('src', ('2.1', '2.1'))
        self.start_host('old', ('2.0', '2.0'))
        self.start_host('major', ('3.1', '3.1'))
        self.start_host('newer', ('2.3', '2.3'))
        self.report()

    def live_migrate_and_fail(self, server, host=None):
        """A live migration that finds no valid host."""
        try:
            self._live_migrate(server, 'error', host=host)
        except client.OpenStackApiException as e:
            # Depending on the RPC fixtures the conductor's NoValidHost
            # reaches the API synchronously.
            self.assertIn('NoValidHost', str(e))
            self._wait_for_migration_status(server, ['error'])
        return self._wait_for_state_change(server, 'ACTIVE')


class LiveMigrationTests(FleetMixin, cloud.CloudTestBase):

    def test_lands_on_the_compatible_host(self):
        server = self.boot('src')
        self.scheduling_attempts = 0
        self._live_migrate(server, 'completed')
        self.assertEqual('newer', self.host_of(server))
        self.assertEqual(1, self.scheduling_attempts)
        log = self.stdlog.logger.output
        self.assertIn('Live migration of instance %s: kept 1 of 3 hosts'
                      % server['id'], log)
        # One summary names the rejected hosts and the string, decoded.
        self.assertIn('; rejected major, old: does not accept %r'
                      % cloud.vgpu_string('2.1'), log)

    def test_no_compatible_destination(self):
        # 2.3 is the newest driver of the fleet: the older minors (2.0,
        # 2.1) and the other major (3.1) all refuse its state.
        server = self.boot('newer')
        before = self.placement.get('/allocations/%s' % server['id'],
                                    version='1.28').body['allocations']
        pgpu_before = self.pgpu_of(server)
        self.scheduling_attempts = 0
        server = self.live_migrate_and_fail(server)
        self.assertEqual(1, self.scheduling_attempts)
        self.assertEqual('newer', server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual('ACTIVE', server['status'])
        after = self.placement.get('/allocations/%s' % server['id'],
                                   version='1.28').body['allocations']
        self.assertEqual({rp: a['resources'] for rp, a in before.items()},
                         {rp: a['resources'] for rp, a in after.items()})
        self.assertEqual(pgpu_before, self.pgpu_of(server))
        migrations = self.api.get_migrations()
        self.assertEqual(['error'], [m['status'] for m in migrations
                                     if m['instance_uuid'] == server['id']])
        self.assertIn('kept 0 of 3 hosts', self.stdlog.logger.output)

    def test_requested_host(self):
        server = self.boot('src')
        server = self.live_migrate_and_fail(server, host='old')
        self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])
        self._live_migrate(server, 'completed', host='newer')
        self.assertEqual('newer', self.host_of(server))

    def test_driver_upgrade_changes_the_choice(self):
        self.upgrade_driver('old', ('2.2', '2.2'))
        self.report()
        server = self.boot('src')
        self._live_migrate(server, 'completed')
        # old now accepts 2.1, and weighs the most.
        self.assertEqual('old', self.host_of(server))

    def test_server_without_devices_is_unaffected(self):
        flavor = self._create_flavor()
        server = self.boot('src', flavor=flavor)
        self._live_migrate(server, 'completed')
        self.assertEqual('old', self.host_of(server))
        self.assertNotIn('Live migration of instance %s' % server['id'],
                         self.stdlog.logger.output)

    def test_other_moves_are_unaffected(self):
        # Boot: placed by weight on an incompatible host.
        server = self._create_server(image_uuid=cloud.IMAGE,
                                     flavor_id=self.flavor, networks='none')
        self.assertEqual('old', self.host_of(server))
        # Cold migration: the next host by weight, incompatible or not.
        server = self._migrate_server(server)
        self.assertEqual('major', self.host_of(server))
        self._confirm_resize(server, host='old')
        # Resize: any host but the current one, by weight.
        bigger = self._create_flavor(memory_mb=4096,
                                     extra_spec={'resources:VGPU': '1'})
        server = self._resize_server(server, bigger)
        self.assertEqual('old', self.host_of(server))
        self._confirm_resize(server, host='major')
        # Shelve offload and unshelve: scheduled again by weight.
        self._shelve_server(server)
        server = self._unshelve_server(server)
        self.assertEqual('old', self.host_of(server))
        self.assertNotIn('Live migration of instance',
                         self.stdlog.logger.output)


class StockNovaTests(FleetMixin, cloud.CloudTestBase):
    FILTER_ENABLED = False

    def test_stock_nova_picks_an_incompatible_host(self):
        server = self.boot('src')
        self._live_migrate(server, 'completed')
        # Nova compares mdev type names only: the destination whose driver
        # refuses the source's state wins on weight.
        self.assertEqual('old', self.host_of(server))
        verdicts = self.hosts['old']['reporter'].run_cycle().verdicts
        token = codec.encode(cloud.vgpu_string('2.1'))
        self.assertEqual('refuses', verdicts[pgpu('old')][token])


class OneCompatiblePGPUTests(cloud.CloudTestBase):
    """A destination with two pGPUs of which only one is compatible."""

    MIXED = ('3.0', '2.3')

    def setUp(self):
        super().setUp()
        self.start_host('src', ('2.1', '2.1'))
        self.start_host('mixed', self.MIXED)
        self.report()

    def test_mdev_lands_on_the_compatible_pgpu(self):
        server = self.boot('src')
        self._live_migrate(server, 'completed')
        self.assertEqual('mixed', self.host_of(server))
        compatible = cloud.PGPUS[self.MIXED.index('2.3')]
        self.assertEqual(pgpu('mixed', compatible),
                         self.pgpu_of(server))
        instance = self._get_instance(server)
        self.assert_mdev_usage(self.computes['mixed'], 1, instance=instance,
                               expected_rp_name=pgpu('mixed', compatible))

    def _get_instance(self, server):
        from nova import objects
        return objects.Instance.get_by_uuid(self.context, server['id'])


class OtherCompatiblePGPUTests(OneCompatiblePGPUTests):
    MIXED = ('2.3', '3.0')


class TwoVGPUTests(cloud.CloudTestBase):
    """Every device string of a two-vGPU instance must be accepted."""

    WEIGHTS = {'partial': 100, 'both': 10}
    # Loaded through the stevedore loader function this time.
    FILTER_LOADER = 'nova_migcompat.scheduler.filters.all_filters'

    def setUp(self):
        super().setUp()
        self.start_host('src', ('2.1', '2.2'))
        # partial accepts the 2.1 vGPU but not the 2.2 one.
        self.start_host('partial', ('2.1', '2.1'))
        self.start_host('both', ('2.3', '2.3'))
        self.report()
        self.two_vgpus = self._create_flavor(extra_spec={
            'resources1:VGPU': '1', 'resources2:VGPU': '1',
            'group_policy': 'isolate'})

    def test_both_strings_must_be_accepted(self):
        server = self.boot('src', flavor=self.two_vgpus)
        self._live_migrate(server, 'completed')
        self.assertEqual('both', self.host_of(server))
        self.assertIn('rejected partial: does not accept %r'
                      % cloud.vgpu_string('2.2'), self.stdlog.logger.output)


class LargeAcceptanceListingTests(cloud.CloudTestBase):
    """Every destination device accepts: the longest answer placement gives.

    Scaled down: the client's whole-answer bound (16 MiB, which about
    18,900 accepting providers pass) is lowered to 4 KiB, below this
    fleet's listing of 8 accepting pGPUs and above every other answer.
    """

    WEIGHTS = {'b': 100, 'a': 50, 'c': 10, 'src': 0}

    def setUp(self):
        super().setUp()
        self.start_host('src', ('2.1', '2.1'))
        self.start_host('a', ('2.3', '2.2'))
        self.start_host('b', ('2.2', '2.3'))
        self.start_host('c', ('2.1', '2.3'))
        self.report()
        token = codec.encode(cloud.vgpu_string('2.1'))
        listing = self.placement.get(
            '/resource_providers?required=%s'
            % codec.trait(codec.ACC, token), version='1.23')
        self.assertEqual(8, len(listing.body['resource_providers']))
        self.assertGreater(len(listing.content), 4096)
        self.useFixture(fixtures.MonkeyPatch(
            'nova_migcompat.placement.MAX_RESPONSE_BYTES', 4096))

    def test_migrates_when_the_listing_passes_the_response_bound(self):
        server = self.boot('src')
        self._live_migrate(server, 'completed')
        self.assertEqual('b', self.host_of(server))
        self.assertIn('Live migration of instance %s: kept 3 of 3 hosts'
                      % server['id'], self.stdlog.logger.output)

    def test_more_accepting_providers_than_configured(self):
        self.flags(max_accepting_providers=7, group='migcompat')
        server = self.boot('src')
        self.scheduling_attempts = 0
        try:
            self._live_migrate(server, 'error')
        except client.OpenStackApiException as e:
            self.assertIn('NoValidHost', str(e))
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])
        log = self.stdlog.logger.output
        self.assertIn('raise [migcompat]max_accepting_providers above the '
                      'number of devices that accept it', log)
        self.assertIn('placement lists 8 providers, more than 7', log)
