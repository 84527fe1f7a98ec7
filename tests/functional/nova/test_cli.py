"""The live migration driven through the real ``openstack`` CLI.

The fleet: a source with driver 2.1, ``old`` (2.0, refuses 2.1) weighed
above ``newer`` (2.3, accepts 2.1).  Servers are booted through the API
helper; the migration itself and what the operator checks afterwards go
through python-openstackclient and osc-placement.
"""

from migcompat_lab import cloud
from nova_migcompat import codec
from tests.functional.nova import openstack_cli


class OpenStackCLITests(openstack_cli.FleetMixin, cloud.CloudTestBase):

    def setUp(self):
        super().setUp()
        self.server = self.boot('src')

    def show(self):
        return self.cli.run_json('server', 'show', self.server['id'])

    def test_live_migration_lands_on_the_compatible_host(self):
        code, _out = self.cli.run('server', 'migrate', '--live-migration',
                                  self.server['id'])
        self.assertEqual(0, code, self.cli.last_stderr)
        migration = self.cli.wait_for_migration(self.server['id'],
                                                ['completed'])
        self.assertEqual('newer', migration['Dest Compute'])
        self._wait_for_state_change(self.server, 'ACTIVE')
        shown = self.show()
        self.assertEqual('newer', shown['OS-EXT-SRV-ATTR:host'])
        self.assertIsNone(shown['OS-EXT-STS:task_state'])

    def test_requested_incompatible_host_fails(self):
        code, _out = self.cli.run('server', 'migrate', '--live-migration',
                                  '--host', 'old', self.server['id'])
        if code:
            # Depending on the RPC fixtures the conductor's NoValidHost
            # reaches the API synchronously.
            self.assertIn('No valid host', self.cli.last_stderr)
        self.cli.wait_for_migration(self.server['id'], ['error'])
        self._wait_for_state_change(self.server, 'ACTIVE')
        shown = self.show()
        self.assertEqual('src', shown['OS-EXT-SRV-ATTR:host'])
        self.assertEqual('ACTIVE', shown['status'])
        self.assertIsNone(shown['OS-EXT-STS:task_state'])

    def test_traits_listed_by_osc_placement(self):
        providers = self.cli.run_json(
            'resource', 'provider', 'list', '--name', 'old_pci_0000_81_00_0',
            cloud='placement')
        self.assertEqual(1, len(providers), providers)
        traits = {t['name'] for t in self.cli.run_json(
            'resource', 'provider', 'trait', 'list', providers[0]['uuid'],
            cloud='placement')}
        # old's driver produces 2.0 strings and refuses 2.1 ones.
        self.assertIn(codec.trait(codec.SRC, codec.encode(
            cloud.vgpu_string('2.0'))), traits)
        self.assertNotIn(codec.trait(codec.ACC, codec.encode(
            cloud.vgpu_string('2.1'))), traits)
