"""``openstack migcompat ...``: the OSC plugin on a real cloud.

The fleet of test_cli: a source with driver 2.1, ``old`` (2.0, refuses
2.1) and ``newer`` (2.3, accepts 2.1).  The commands run through the real
``openstack`` shell, which finds the plugin through its entry point; the
server's node comes from the Nova API, the rest from placement.
"""

import json

from migcompat_lab import cloud
from tests.functional.nova import openstack_cli

NVIDIA_21 = 'nvidia 2.1 10de:0ffe %s' % cloud.VGPU_TYPE


class OSCPluginTests(openstack_cli.FleetMixin, cloud.CloudTestBase):

    def explain(self, server):
        rows = self.cli.run_json('migcompat', 'explain', server)
        return {row['Host']: row for row in rows}

    def test_explain_by_server_name(self):
        server = self._create_server(
            name='vgpu-vm', image_uuid=cloud.IMAGE, flavor_id=self.flavor,
            networks='none', host='src')
        pgpu = self.pgpu_of(server)
        rows = self.explain('vgpu-vm')
        self.assertEqual(['src', 'newer', 'old'], list(rows))
        self.assertEqual('source', rows['src']['Live Migration'])
        self.assertEqual([pgpu[len('src_'):]], rows['src']['Devices'])
        self.assertIn('produces', rows['src']['Detail'])
        # Both of newer's pGPUs take the 2.1 device state; old's take none.
        self.assertEqual('accepted', rows['newer']['Live Migration'])
        self.assertEqual(['pci_0000_81_00_0', 'pci_0000_81_01_0'],
                         rows['newer']['Devices'])
        self.assertEqual('', rows['newer']['Detail'])
        self.assertEqual('refused', rows['old']['Live Migration'])
        self.assertEqual([], rows['old']['Devices'])
        self.assertTrue(rows['old']['Detail'].startswith(
            'does not accept nvidia 2.1 '), rows['old']['Detail'])

        code, out = self.cli.run('migcompat', 'explain', server['id'])
        self.assertEqual(0, code, self.cli.last_stderr)
        [old_line] = [line for line in out.splitlines() if ' old ' in line]
        self.assertIn('refused', old_line)
        self.assertIn('does not accept nvidia 2.1', old_line)
        self.assertIn('pci_0000_81_00_0, pci_0000_81_01_0', out)

    def test_explain_a_server_without_devices(self):
        flavor = self._create_flavor(name='plain')
        self._create_server(name='plain-vm', image_uuid=cloud.IMAGE,
                            flavor_id=flavor, networks='none', host='old')
        rows = self.explain('plain-vm')
        self.assertEqual('source', rows['old']['Live Migration'])
        self.assertEqual([], rows['old']['Devices'])
        self.assertIn('every host passes', rows['old']['Detail'])
        self.assertEqual({'accepted'}, {rows[h]['Live Migration']
                                        for h in ('src', 'newer')})

    def test_explain_an_unknown_server_fails_clearly(self):
        code, out = self.cli.run('migcompat', 'explain', 'no-such-vm')
        self.assertEqual(1, code)
        self.assertEqual('', out)
        self.assertIn("no server with name or ID 'no-such-vm'",
                      self.cli.last_stderr)

    def test_explain_an_ambiguous_name_fails_clearly(self):
        for _ in range(2):
            self._create_server(name='twin', image_uuid=cloud.IMAGE,
                                flavor_id=self.flavor, networks='none',
                                host='src')
        code, _out = self.cli.run('migcompat', 'explain', 'twin')
        self.assertEqual(1, code)
        self.assertIn("more than one server is named 'twin'",
                      self.cli.last_stderr)

    def test_matrix(self):
        rows = self.cli.run_json('migcompat', 'matrix', '--long')
        by_summary = {row['Summary']: row for row in rows}
        self.assertEqual('accepts (source)', by_summary[NVIDIA_21]['src'])
        self.assertEqual('accepts', by_summary[NVIDIA_21]['newer'])
        self.assertEqual('-', by_summary[NVIDIA_21]['old'])
        self.assertEqual(cloud.vgpu_string('2.1'),
                         by_summary[NVIDIA_21]['String'])

        code, out = self.cli.run('migcompat', 'matrix')
        self.assertEqual(0, code, self.cli.last_stderr)
        header = out.splitlines()[1]
        for column in ('Summary', 'newer', 'old', 'src'):
            self.assertIn(column, header)
        self.assertIn(NVIDIA_21, out)

    def test_decode_and_encode(self):
        shown = self.cli.run_json('migcompat', 'encode',
                                  cloud.vgpu_string('2.1'))
        rows = self.cli.run_json('migcompat', 'decode', shown['SRC trait'])
        self.assertEqual(cloud.vgpu_string('2.1'), rows[0]['String'])
        self.assertEqual('SRC', rows[0]['Role'])

    def test_status(self):
        code, out = self.cli.run('migcompat', 'status', '-f', 'json')
        checks = {row['Check']: row for row in json.loads(out)}
        # No nova.conf, no local agent: the placement checks only.
        self.assertEqual({'Placement', 'Agents', 'One agent per node',
                          'Devices without a string', 'Codec versions',
                          'Catalog', 'Stranded strings'}, set(checks))
        self.assertEqual('Success', checks['One agent per node']['Result'])
        self.assertEqual('Success', checks['Agents']['Result'],
                         checks['Agents'])
        # newer's 2.3 is accepted by no other host (src and old are
        # older): a warning, exit status 1.
        self.assertEqual('Warning', checks['Stranded strings']['Result'])
        self.assertIn('newer (nvidia 2.3 ', checks['Stranded strings'][
            'Details'])
        self.assertNotIn('src (', checks['Stranded strings']['Details'])
        self.assertEqual(1, code, self.cli.last_stderr)

    def test_purge(self):
        code, out = self.cli.run('migcompat', 'purge', '--dry-run', '-f',
                                 'json')
        self.assertEqual(0, code, self.cli.last_stderr)
        planned = json.loads(out)
        self.assertIn('old_pci_0000_81_00_0',
                      {r['Name'] for r in planned if r['Kind'] ==
                       'provider'})
        code, out = self.cli.run('migcompat', 'purge', '-f', 'json')
        self.assertEqual(0, code, self.cli.last_stderr)
        code, out = self.cli.run('migcompat', 'matrix', '-f', 'json')
        self.assertEqual((0, []), (code, json.loads(out)))
