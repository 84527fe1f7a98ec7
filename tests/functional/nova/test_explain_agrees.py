"""``explain`` shows the operator the hosts the filter keeps, no other.

The filter runs inside real in-process Nova; the hosts it keeps for a live
migration are recorded as it yields them.  ``explain`` reads placement
only, through the operator tool's placement client.  Both must agree on a
fleet whose servers need one string and on one whose servers need two.
"""

import fixtures

from migcompat_lab import cloud
from nova_migcompat import fleet
from nova_migcompat.scheduler.filters import migration_compatibility_filter

FILTER_CLASS = migration_compatibility_filter.MigrationCompatibilityFilter
TYPES = (cloud.fakelibvirt.NVIDIA_11_VGPU_TYPE,
         cloud.fakelibvirt.NVIDIA_12_VGPU_TYPE)


def split_host_spec(host, accepted_per_pgpu):
    """Each pGPU's driver accepts exactly the strings listed for it."""
    spec = cloud.vgpu_host_spec(host, ('7.0', '7.0'))
    for pgpu, accepted in zip(spec['pci'], accepted_per_pgpu):
        for mdev_type in pgpu['mdev_types']:
            mdev_type['migration_version'] = {
                'string': mdev_type['migration_version']['string'],
                'policy': 'accept_list', 'accepts': list(accepted)}
    return spec


class AgreementMixin(object):

    def setUp(self):
        super().setUp()
        self.kept = []
        kept = self.kept
        original = FILTER_CLASS.filter_all

        def recording(filter_self, hosts, spec_obj):
            for host_state in original(filter_self, hosts, spec_obj):
                kept.append(host_state.host)
                yield host_state

        self.useFixture(fixtures.MonkeyPatch(
            'nova_migcompat.scheduler.filters.migration_compatibility_filter'
            '.MigrationCompatibilityFilter.filter_all', recording))

    def explain(self, server, source):
        client = self.hosts[source]['reporter'].client
        return fleet.explain(client, server['id'], source_node=source)

    def assert_agree(self, source, expected):
        server = self.boot(source)
        result = self.explain(server, source)
        del self.kept[:]
        accepted = sorted(name for name, host in result['hosts'].items()
                          if host['accepts'])
        if expected:
            self._live_migrate(server, 'completed')
        else:
            self._live_migrate(server, 'error')
        self.assertEqual(expected, accepted)
        self.assertEqual(expected, sorted(self.kept))
        return result


class OneStringTests(AgreementMixin, cloud.CloudTestBase):

    def test_explain_accepts_the_hosts_the_filter_keeps(self):
        self.start_host('src', ('2.1', '2.1'))
        self.start_host('old', ('2.0', '2.0'))
        self.start_host('newer', ('2.3', '2.3'))
        self.start_host('mixed', ('2.0', '2.3'))
        self.report()
        result = self.assert_agree('src', ['mixed', 'newer'])
        self.assertEqual(1, len(result['requirements'][0]['strings']))
        self.assertEqual(['mixed_pci_0000_81_01_0'],
                         result['hosts']['mixed']['devices'])


class TwoStringTests(AgreementMixin, cloud.CloudTestBase):
    """The agents report both types: every pGPU produces two strings."""

    def test_one_device_must_accept_both_strings(self):
        s11, s12 = (cloud.vgpu_string('2.1', t) for t in TYPES)
        self.start_host('src', ('2.1', '2.1'), mdev_types=())
        self.start_host('newer', ('2.3', '2.3'), mdev_types=())
        # pGPU A accepts only the first string, pGPU B only the second:
        # no destination device would accept the whole source device.
        self.start_host('split', spec=split_host_spec('split',
                                                      ([s11], [s12])),
                        mdev_types=())
        self.start_host('old', ('2.0', '2.0'), mdev_types=())
        self.report()
        result = self.assert_agree('src', ['newer'])
        self.assertEqual(sorted([s11, s12]),
                         sorted(result['requirements'][0]['strings']))
        self.assertFalse(result['hosts']['split']['accepts'])
        self.assertEqual(1, len(result['hosts']['split']['missing']))
