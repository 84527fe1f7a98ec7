"""Each instance judged by its own devices, through a real in-process Nova.

Two fleets:

* one pGPU per host: ``src`` (driver 2.1) where two servers share the
  pGPU but their mdevs carry strings of their own (a newer guest: 3.1),
  ``two`` (2.1: accepts 2.x up to 2.1) and ``three`` (3.1: accepts 3.x up
  to 3.1), which the weigher prefers;
* two pGPUs per host: ``src`` (2.1 and 3.1), ``mixed`` (2.1 and 3.1),
  ``twos`` (2.1, 2.1) and ``threes`` (3.1, 3.1), the last two preferred,
  for a server with two vGPUs, one per pGPU.
"""

import logging

import fixtures

from migcompat_lab import cloud
from nova_migcompat.agent import provider_names
from nova_migcompat import codec
from nova_migcompat import fleet
from tests.functional.nova import test_live_migration

FILTER_LOGGER = ('nova_migcompat.scheduler.filters.'
                 'migration_compatibility_filter')


def pgpu(host, address=cloud.PGPUS[0]):
    return provider_names.pgpu_provider_name(host, address)


class _Moves(object):

    live_migrate_and_fail = test_live_migration.FleetMixin.\
        live_migrate_and_fail

    def summary(self, server):
        [line] = [line for line in self.stdlog.logger.output.splitlines()
                  if 'Live migration of instance %s: kept' % server['id']
                  in line]
        return line

    def provider_traits(self, name):
        rp = self._get_provider_uuid_by_name(name)
        return rp, self.placement.get('/resource_providers/%s/traits' % rp,
                                      version='1.6').body

    def remove_traits(self, name, which):
        rp, body = self.provider_traits(name)
        body['traits'] = [t for t in body['traits'] if not which(t)]
        self.placement.put('/resource_providers/%s/traits' % rp, body,
                           version='1.6')


def is_marker(name):
    return (codec.parse_trait(name) or ('',))[0] == codec.VM


class InstanceStringsTests(_Moves, cloud.CloudTestBase):

    WEIGHTS = {'three': 100, 'two': 50, 'src': 0}

    def setUp(self):
        super().setUp()
        self.start_host('src', ('2.1',))
        self.start_host('two', ('2.1',))
        self.start_host('three', ('3.1',))
        self.older = self.boot('src')
        self.newer = self.boot('src')
        self.assertEqual(self.pgpu_of(self.older), self.pgpu_of(self.newer))
        self.give_instance_strings('src', {
            self.older['id']: cloud.vgpu_migration_version('2.1'),
            self.newer['id']: cloud.vgpu_migration_version('3.1')})
        self.report()
        self.debug = self.useFixture(fixtures.FakeLogger(
            name=FILTER_LOGGER, level=logging.DEBUG,
            format='%(levelname)s %(message)s'))

    def test_the_pgpu_carries_one_marker_per_instance(self):
        _rp, body = self.provider_traits(pgpu('src'))
        traits = body['traits']
        ids = {text: codec.encode_string(text).id for text in (
            cloud.vgpu_string('2.1'), cloud.vgpu_string('3.1'))}
        self.assertEqual(
            {codec.marker_trait(self.older['id'],
                                ids[cloud.vgpu_string('2.1')]),
             codec.marker_trait(self.newer['id'],
                                ids[cloud.vgpu_string('3.1')])},
            {t for t in traits if is_marker(t)})
        # Markers are not claims about devices: no ACC, no SRC lost.
        self.assertIn(codec.trait(codec.SRC, ids[cloud.vgpu_string('3.1')]),
                      traits)

    def test_each_server_goes_where_its_own_string_is_accepted(self):
        # The older guest's state: two accepts it; three weighs more but
        # refuses 2.1.
        self._live_migrate(self.older, 'completed')
        self.assertEqual('two', self.host_of(self.older))
        self.assertIn("the instance's own strings decided on 1 source "
                      'device provider (VM markers)',
                      self.summary(self.older))
        self.assertIn('its own strings (markers)', self.debug.output)
        # The newer guest's: never to two, which accepts only the other's.
        server = self.live_migrate_and_fail(self.newer, host='two')
        self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])
        self._live_migrate(self.newer, 'completed')
        self.assertEqual('three', self.host_of(self.newer))

    def test_explain_judges_each_instance_by_its_own_string(self):
        client = self.hosts['src']['reporter'].client
        for server, host in ((self.older, 'two'), (self.newer, 'three')):
            result = fleet.explain(client, server['id'], source_node='src')
            self.assertEqual([host], [name for name, h in
                                      result['hosts'].items()
                                      if h['accepts']])
            _columns, rows = fleet.explain_rows(result)
            self.assertIn("(the instance's own string: its VM marker)",
                          rows[0][3])
        # Without its marker, every string of the provider decides.
        self.remove_traits(pgpu('src'), lambda t: is_marker(t) and codec.
                           markers([t], self.older['id']))
        result = fleet.explain(client, self.older['id'], source_node='src')
        self.assertFalse(any(h['accepts'] for h in result['hosts'].values()))
        _columns, rows = fleet.explain_rows(result)
        self.assertIn('which has VM markers of other instances only',
                      rows[0][3])

    def test_without_markers_every_string_of_the_provider_decides(self):
        self.remove_traits(pgpu('src'), is_marker)
        for server in (self.older, self.newer):
            server = self.live_migrate_and_fail(server)
            self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])
            self.assertIn('kept 0 of 2 hosts', self.summary(server))
        # The DEBUG line says which rule decided.
        self.assertEqual(2, self.debug.output.count(
            'every string of the provider (no marker of the instance)'))

    def test_an_instance_without_its_markers_falls_back_and_says_so(self):
        self.remove_traits(pgpu('src'), lambda t: is_marker(t) and codec.
                           markers([t], self.older['id']))
        self.live_migrate_and_fail(self.older)
        line = self.summary(self.older)
        self.assertIn('kept 0 of 2 hosts', line)
        self.assertIn('no VM marker of the instance on source device '
                      'provider %s, which has markers of other instances: '
                      'every string of the provider decided' % pgpu('src'),
                      line)
        # The other instance keeps its own judgement.
        self._live_migrate(self.newer, 'completed')
        self.assertEqual('three', self.host_of(self.newer))

    def test_a_marker_naming_no_string_refuses_with_the_reason(self):
        # The older guest's string leaves the provider (someone removed
        # it) but its marker stays: never "nothing to check".
        old_id = codec.encode_string(cloud.vgpu_string('2.1')).id
        self.remove_traits(pgpu('src'), lambda t: t == codec.trait(
            codec.SRC, old_id))
        self.live_migrate_and_fail(self.older)
        [line] = [line for line in self.stdlog.logger.output.splitlines()
                  if 'Live migration of instance %s refused'
                  % self.older['id'] in line]
        self.assertIn("its marker of the instance's own string", line)


class TwoVGPUsTests(_Moves, cloud.CloudTestBase):

    WEIGHTS = {'twos': 100, 'threes': 90, 'mixed': 10, 'src': 0}

    def setUp(self):
        super().setUp()
        self.start_host('src', ('2.1', '3.1'))
        self.start_host('twos', ('2.1', '2.1'))
        self.start_host('threes', ('3.1', '3.1'))
        self.start_host('mixed', ('3.1', '2.1'))
        self.report()
        self.two_vgpus = self._create_flavor(extra_spec={
            'resources1:VGPU': '1', 'resources2:VGPU': '1',
            'group_policy': 'isolate'})

    def vgpu_providers(self, server):
        allocs = self.placement.get(
            '/allocations/%s' % server['id'], version='1.28').body[
            'allocations']
        names = {}
        for rp_uuid, alloc in allocs.items():
            if 'VGPU' in alloc['resources']:
                names[self.placement.get(
                    '/resource_providers/%s' % rp_uuid,
                    version='1.14').body['name']] = alloc['resources']['VGPU']
        return names

    def test_each_vgpu_needs_its_own_accepting_pgpu(self):
        server = self.boot('src', flavor=self.two_vgpus)
        self.assertEqual({pgpu('src', a): 1 for a in cloud.PGPUS},
                         self.vgpu_providers(server))
        # twos accepts the 2.1 vGPU twice but never the 3.1 one; threes
        # the reverse; mixed has one pGPU for each.
        self._live_migrate(server, 'completed')
        self.assertEqual('mixed', self.host_of(server))
        self.assertEqual({pgpu('mixed', a): 1 for a in cloud.PGPUS},
                         self.vgpu_providers(server))
        self.assertIn('kept 1 of 3 hosts', self.summary(server))

    def test_a_host_accepting_one_vgpu_only_is_refused_when_named(self):
        server = self.boot('src', flavor=self.two_vgpus)
        server = self.live_migrate_and_fail(server, host='twos')
        self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])
