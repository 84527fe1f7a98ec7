"""Fail closed, through a real in-process Nova with the filter's default
options: a withdrawn acceptance, a device its agent cannot judge, a host
without an agent.

The fleet is the one of test_live_migration: a source with driver 2.1
and three same-type destinations ``old`` (2.0, refuses 2.1), ``major``
(3.1, refuses) and ``newer`` (2.3, accepts); the weigher prefers old,
then major, then newer.
"""

from nova.tests.functional.api import client

from migcompat_lab import cloud
from nova_migcompat.agent import provider_names
from nova_migcompat import codec
from tests.functional.nova import test_live_migration

WEIGHTS = test_live_migration.WEIGHTS


def pgpu(host, address=cloud.PGPUS[0]):
    return provider_names.pgpu_provider_name(host, address)


class _Refusals(object):

    def refused(self, server):
        """Live-migrate; NoValidHost; the server stays where it is."""
        before = self.placement.get('/allocations/%s' % server['id'],
                                    version='1.28').body['allocations']
        host = self.host_of(server)
        try:
            self._live_migrate(server, 'error')
        except client.OpenStackApiException as e:
            self.assertIn('NoValidHost', str(e))
            self._wait_for_migration_status(server, ['error'])
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual(host, server['OS-EXT-SRV-ATTR:host'])
        after = self.placement.get('/allocations/%s' % server['id'],
                                   version='1.28').body['allocations']
        self.assertEqual({rp: a['resources'] for rp, a in before.items()},
                         {rp: a['resources'] for rp, a in after.items()})
        return server

    def refusal_line(self, server):
        [line] = [line for line in self.stdlog.logger.output.splitlines()
                  if 'Live migration of instance %s refused' % server['id']
                  in line]
        self.assertIn(' WARNING ', line)
        return line


class WithdrawnAcceptanceTests(test_live_migration.FleetMixin,
                               cloud.CloudTestBase):
    """The filter caches who accepts (10 s by default).

    Never past a withdrawal that an agent's finished cycle announced.
    """

    def plant(self, host, text):
        """Someone else writes an acceptance on the host's pGPUs."""
        name = codec.trait(codec.ACC, codec.encode(text))
        self.placement.put('/traits/%s' % name, None, version='1.6')
        for address in cloud.PGPUS:
            rp = self._get_provider_uuid_by_name(pgpu(host, address))
            body = self.placement.get('/resource_providers/%s/traits' % rp,
                                      version='1.6').body
            body['traits'].append(name)
            self.placement.put('/resource_providers/%s/traits' % rp, body,
                               version='1.6')

    def test_a_withdrawn_planted_acceptance_is_not_used(self):
        self.plant('old', cloud.vgpu_string('2.1'))
        first = self.boot('src')
        # Placement says old accepts: the filter believes it (and keeps
        # the list it read).
        self._live_migrate(first, 'completed')
        self.assertEqual('old', self.host_of(first))
        # old's agent withdraws what its device does not back; its cycle
        # has finished.
        report = self.hosts['old']['reporter'].run_cycle()
        self.assertTrue(report.ok, report.failure)
        self.assertEqual(2, report.revoked)
        # The next live migration, seconds later, does not go there.
        second = self.boot('src')
        self._live_migrate(second, 'completed')
        self.assertEqual('newer', self.host_of(second))

    def test_a_driver_update_that_refuses_is_seen_at_once(self):
        first = self.boot('src')
        self._live_migrate(first, 'completed')
        self.assertEqual('newer', self.host_of(first))
        # newer's driver moves to another major version: its device now
        # refuses 2.1, and its agent withdraws the acceptance.
        self.upgrade_driver('newer', ('3.0', '3.0'))
        report = self.hosts['newer']['reporter'].run_cycle()
        self.assertTrue(report.ok, report.failure)
        self.assertTrue(report.epoch_moved)
        second = self.boot('src')
        self.scheduling_attempts = 0
        try:
            self._live_migrate(second, 'error')
        except client.OpenStackApiException as e:
            self.assertIn('NoValidHost', str(e))
        self.assertEqual('src', self.host_of(second))
        self.assertEqual(1, self.scheduling_attempts)


class UnjudgedSourceTests(_Refusals, cloud.CloudTestBase):
    """A source device its agent manages but cannot judge is refused."""

    WEIGHTS = WEIGHTS

    def setUp(self):
        super().setUp()
        self.start_host('src', ('2.1', '2.1'),
                        agent_options={'synthesize_descriptors': 'false'})
        self.start_host('old', ('2.0', '2.0'))
        self.start_host('newer', ('2.3', '2.3'))
        self.report()

    def test_a_string_gone_with_synthesis_off_is_refused(self):
        server = self.boot('src', pgpu=cloud.PGPUS[0])
        # The attribute disappears (a driver without it); no descriptor is
        # synthesized: the agent has no string for the device any more.
        spec = cloud.vgpu_host_spec('src', ('2.1', '2.1'))
        for mtype in spec['pci'][0]['mdev_types']:
            mtype['migration_version'] = None
        self.hosts['src']['fs'].update(spec)
        self.report('src')
        server = self.refused(server)
        line = self.refusal_line(server)
        self.assertIn('source device provider %s: the nova-migcompat agent '
                      'manages a device of it that has no compatibility '
                      'string: it has no migration_version attribute and '
                      'no descriptor is synthesized' % pgpu('src'), line)
        # A server on the other pGPU, whose string is intact, migrates.
        other = self.boot('src', pgpu=cloud.PGPUS[1])
        self._live_migrate(other, 'completed')
        self.assertEqual('newer', self.host_of(other))


class UnmigratableVFTests(_Refusals, cloud.CloudTestBase):
    """A VF whose VFIO driver cannot migrate it (debugfs) is refused."""

    SRIOV = True
    WEIGHTS = {'dest': 100, 'src': 0}

    def setUp(self):
        super().setUp()
        attr = cloud.vf_migration_version('1.2')
        spec = cloud.host_spec('src', pgpus=[cloud.vgpu_migration_version(
            '2.1')], vfs=[attr, attr])
        for dev in spec['pci']:
            if dev.get('physfn'):
                dev['vfio'] = {'migration': False}
        self.start_host('src', spec=spec, vfs=2)
        self.start_host('dest', spec=cloud.host_spec(
            'dest', pgpus=[cloud.vgpu_migration_version('2.3')],
            vfs=[cloud.vf_migration_version('1.3')] * 2), vfs=2)
        self.report()

    def test_a_vf_that_cannot_migrate_is_refused(self):
        server = self.boot('src', flavor=self.vgpu_flavor(vgpus=0, vfs=1))
        server = self.refused(server)
        line = self.refusal_line(server)
        self.assertIn('source device provider src: the nova-migcompat agent '
                      'manages a device of it that has no compatibility '
                      "string: its driver says it cannot migrate its state",
                      line)
        # A vGPU-only server of the same host is not concerned.
        vgpu_only = self.boot('src')
        self._live_migrate(vgpu_only, 'completed')
        self.assertEqual('dest', self.host_of(vgpu_only))


class UnmanagedSourceTests(_Refusals, test_live_migration.FleetMixin,
                           cloud.CloudTestBase):
    """A source host without an agent: stock Nova, unless refused."""

    def setUp(self):
        super().setUp()
        # src's agent is gone (as after purge --host src): nothing of ours
        # on its providers, everything else kept.
        names = [pgpu('src', address) for address in cloud.PGPUS]
        for rp in [self.compute_rp_uuids['src']] + [
                self._get_provider_uuid_by_name(n) for n in names]:
            path = '/resource_providers/%s/traits' % rp
            body = self.placement.get(path, version='1.6').body
            body['traits'] = [t for t in body['traits']
                              if not codec.is_ours(t)]
            self.placement.put(path, body, version='1.6')

    def test_passes_as_stock_nova_with_one_info_line(self):
        server = self.boot('src')
        self._live_migrate(server, 'completed')
        self.assertEqual('old', self.host_of(server))
        self.assertIn('Instance %s: its source host src runs no '
                      'nova-migcompat agent: its devices are not judged, and '
                      'every host passes as with stock Nova '
                      '([migcompat]unmanaged_sources = pass)' % server['id'],
                      self.stdlog.logger.output)

    def test_refused_when_the_operator_says_so(self):
        self.flags(unmanaged_sources='refuse', group='migcompat')
        server = self.refused(self.boot('src'))
        self.assertIn('its source host src runs no nova-migcompat agent, '
                      'so its devices cannot be judged '
                      '([migcompat]unmanaged_sources = refuse)',
                      self.refusal_line(server))


class UndecodableSourceTests(_Refusals, test_live_migration.FleetMixin,
                             cloud.CloudTestBase):
    """A SRC trait the filter cannot decode on the source refuses."""

    def plant_on_source(self, token):
        name = codec.trait(codec.SRC, token)
        self.placement.put('/traits/%s' % name, None, version='1.6')
        for address in cloud.PGPUS:
            rp = self._get_provider_uuid_by_name(pgpu('src', address))
            path = '/resource_providers/%s/traits' % rp
            body = self.placement.get(path, version='1.6').body
            body['traits'].append(name)
            self.placement.put(path, body, version='1.6')

    def test_a_corrupt_string_refuses_until_the_agent_withdraws_it(self):
        server = self.boot('src')
        self.plant_on_source('1P' + 'Z' * 30)
        server = self.refused(server)
        line = self.refusal_line(server)
        self.assertIn('is corrupt: token', line)
        self.assertNotIn('newer release', line)
        # The source's agent withdraws what it did not publish: the next
        # live migration is judged by the device's own string again.
        self.report('src')
        self._live_migrate(server, 'completed')
        self.assertEqual('newer', self.host_of(server))

    def test_a_newer_release_string_says_to_upgrade(self):
        server = self.boot('src')
        self.plant_on_source('3P' + codec.encode(
            cloud.vgpu_string('2.1'))[2:])
        line = self.refusal_line(self.refused(server))
        self.assertIn('from a newer release of nova-migcompat', line)
        self.assertIn('upgrade the schedulers and the operator tools '
                      'before the agents', line)
