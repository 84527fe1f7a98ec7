"""``nova-migcompat`` against real placement, with agent-published traits.

The fleet: node-a (nvidia-a, driver 2.1) and node-b (nvidia-b, 2.3), each
reported by ``nova-migcompat-agent --once`` from its own configuration
file, as an operator runs it.  node-a's 2.1 is accepted by both hosts;
node-b's 2.3 only by node-b itself.
"""

import json
import time
import uuid

import pytest

from nova_migcompat.agent import last_cycle
from nova_migcompat.cmd import agent
from nova_migcompat.cmd import migcompat
from nova_migcompat import codec
from nova_migcompat import epoch
from nova_migcompat import placement
from nova_migcompat import purge
from nova_migcompat import status
from tests import samples

PGPUS = ('0000:81:00.0', '0000:82:00.0')
FILTER_LINES = [
    '[filter_scheduler]',
    'available_filters = nova.scheduler.filters.all_filters',
    'available_filters = %s' % status.FILTER_PATHS[0],
    'enabled_filters = ComputeFilter,%s' % status.FILTER,
]


def placement_lines(placement_api):
    return ['[placement]', 'auth_type = admin_token',
            'endpoint = %s' % placement_api.endpoint, 'token = admin',
            'endpoint_override = %s' % placement_api.endpoint, '']


class Fleet(object):

    def __init__(self, tmp_path, placement_api, emulated_sysfs):
        self.tmp_path = tmp_path
        self.placement_api = placement_api
        self.trees = {}
        self.confs = {}
        for node, example in (('node-a', 'nvidia-a'), ('node-b', 'nvidia-b')):
            self.trees[node] = placement_api.create_compute(node, PGPUS)
            self.confs[node] = self.write(node, placement_lines(
                placement_api) + [
                '[migcompat]', 'nodename = %s' % node,
                'sysfs_root = %s' % emulated_sysfs(example).root,
                'state_path = %s' % (tmp_path / node / 'state'),
                'lock_path = %s' % (tmp_path / node / 'agent.lock')])
        # Each agent learns the other's string from placement: two rounds.
        for _round in range(2):
            for node in self.confs:
                assert agent.main(['--config-file', self.confs[node],
                                   '--once']) == 0
        #: A scheduler host's nova.conf (the operator's machine).
        self.scheduler_conf = self.write('scheduler', placement_lines(
            placement_api) + FILTER_LINES)

    def write(self, name, lines):
        path = self.tmp_path / name / 'nova.conf'
        path.parent.mkdir(exist_ok=True)
        path.write_text('\n'.join(lines) + '\n')
        return str(path)

    def pgpu(self, node, index=0):
        return self.trees[node]['%s_pci_0000_8%d_00_0' % (node, index + 1)]


@pytest.fixture
def fleet(tmp_path, placement_api, emulated_sysfs):
    return Fleet(tmp_path, placement_api, emulated_sysfs)


@pytest.fixture
def tool(capsys):
    def run(conf, *argv):
        status = migcompat.main(['--config-file', conf] + list(argv))
        out = capsys.readouterr()
        return status, out.out, out.err
    return run


def json_rows(out):
    return json.loads(out)


def test_matrix_of_the_fleet(fleet, tool):
    code, out, err = tool(fleet.scheduler_conf, 'matrix', '--long', '-f',
                          'json')
    assert (code, err) == (0, '')
    rows = {row['String']: row for row in json_rows(out)}
    assert rows[samples.NVIDIA_21]['node-a'] == 'accepts (source)'
    assert rows[samples.NVIDIA_21]['node-b'] == 'accepts'
    assert rows[samples.NVIDIA_23]['node-a'] == '-'
    assert rows[samples.NVIDIA_23]['node-b'] == 'accepts (source)'
    assert rows[samples.NVIDIA_21]['Token'] == codec.encode(
        samples.NVIDIA_21)
    code, out, _ = tool(fleet.scheduler_conf, 'matrix')
    assert code == 0
    assert 'nvidia 2.1 10de:1eb8 nvidia-35' in out
    assert 'accepts (source)' in out


def allocate(placement_api, pgpu):
    gen = placement_api.ok('GET', '/resource_providers/%s' % pgpu)[
        'generation']
    placement_api.ok('PUT', '/resource_providers/%s/inventories' % pgpu,
                     {'inventories': {'VGPU': {'total': 8}},
                      'resource_provider_generation': gen})
    server = str(uuid.uuid4())
    placement_api.ok('PUT', '/allocations/%s' % server, {
        'allocations': {pgpu: {'resources': {'VGPU': 1}}},
        'project_id': str(uuid.uuid4()), 'user_id': str(uuid.uuid4()),
        'consumer_generation': None}, version='1.28')
    return server


def test_explain_a_live_migration(fleet, tool, placement_api):
    # A server with a vGPU on node-b's first pGPU (2.3).
    server = allocate(placement_api, fleet.pgpu('node-b'))
    code, out, _ = tool(fleet.scheduler_conf, 'explain', server, '-f',
                        'json')
    assert code == 0
    rows = {row['Host']: row for row in json_rows(out)}
    assert rows['node-b']['Live Migration'] == 'source'
    assert rows['node-b']['Devices'] == ['pci_0000_81_00_0']
    assert rows['node-b']['Detail'] == 'produces nvidia 2.3 10de:1eb8 ' \
        'nvidia-35'
    # node-a's driver (2.1) is older than the server's device (2.3).
    assert rows['node-a']['Live Migration'] == 'refused'
    assert rows['node-a']['Detail'] == ('does not accept nvidia 2.3 '
                                        '10de:1eb8 nvidia-35')


def test_explain_a_source_that_cannot_be_judged(fleet, tool,
                                                placement_api):
    server = allocate(placement_api, fleet.pgpu('node-b'))
    placement_api.add_traits(fleet.pgpu('node-b'),
                             codec.nosrc_trait(codec.NO_STRING))
    code, out, _ = tool(fleet.scheduler_conf, 'explain', server, '-f',
                        'json')
    assert code == 0
    rows = {row['Host']: row for row in json_rows(out)}
    assert rows['node-b']['Detail'] == (
        'cannot be judged: source device provider node-b_pci_0000_81_00_0: '
        'the nova-migcompat agent manages a device of it that has no '
        'compatibility string: it has no migration_version attribute and '
        'no descriptor is synthesized ([migcompat]synthesize_descriptors)')
    # Refused, though its devices accept the string the provider has too.
    assert rows['node-a']['Live Migration'] == 'refused'
    assert rows['node-a']['Detail'] == ('the source cannot be judged (see '
                                        'node-b)')


def test_explain_a_source_without_an_agent(fleet, tool, placement_api):
    node_c = placement_api.create_compute('node-c', PGPUS[:1])
    server = allocate(placement_api, node_c['node-c_pci_0000_81_00_0'])
    code, out, _ = tool(fleet.scheduler_conf, 'explain', server, '-f',
                        'json')
    assert code == 0
    rows = {row['Host']: row for row in json_rows(out)}
    assert rows['node-c']['Detail'].startswith(
        'runs no nova-migcompat agent: its devices are not judged, every '
        'host passes as with stock Nova')
    assert rows['node-a']['Live Migration'] == 'accepted'
    # The scheduler's nova.conf refuses them.
    with open(fleet.scheduler_conf, 'a') as f:
        f.write('\n[migcompat]\nunmanaged_sources = refuse\n')
    code, out, _ = tool(fleet.scheduler_conf, 'explain', server, '-f',
                        'json')
    rows = {row['Host']: row for row in json_rows(out)}
    assert rows['node-a']['Live Migration'] == 'refused'
    assert 'its source host node-c runs no nova-migcompat agent ' \
        '([migcompat]unmanaged_sources = refuse)' in rows['node-c']['Detail']


def test_explain_from_a_given_node(fleet, tool, placement_api):
    # A server with a vGPU on node-a's second pGPU (2.1).
    server = allocate(placement_api, fleet.pgpu('node-a', 1))
    code, out, _ = tool(fleet.scheduler_conf, 'explain', server, '--node',
                        'node-a', '-f', 'json')
    assert code == 0
    rows = {row['Host']: row for row in json_rows(out)}
    assert rows['node-a']['Devices'] == ['pci_0000_82_00_0']
    # node-b's driver (2.3) takes 2.1 device state on both its pGPUs.
    assert rows['node-b']['Live Migration'] == 'accepted'
    assert rows['node-b']['Devices'] == ['pci_0000_81_00_0',
                                         'pci_0000_82_00_0']
    code, out, err = tool(fleet.scheduler_conf, 'explain', server,
                          '--node', 'node-c')
    assert (code, out) == (1, '')
    assert err == ("nova-migcompat: error: no root resource provider named "
                   "'node-c' in placement (the compute node of the "
                   'server)\n')
    # Not where the server's allocations are (e.g. it is being migrated).
    code, _, err = tool(fleet.scheduler_conf, 'explain', server, '--node',
                        'node-b')
    assert code == 1
    assert ('server %s has no allocations on its compute node node-b'
            % server) in err


def results(out):
    return {row['Check']: (row['Result'], row['Details'])
            for row in json_rows(out)}


def test_status_of_a_deployed_fleet(fleet, tool, placement_api):
    # node-c has a pGPU but no agent ever reported for it.
    placement_api.create_compute('node-c', PGPUS[:1])
    code, out, err = tool(fleet.scheduler_conf, 'status', '-f', 'json')
    checks = results(out)
    assert err == ''
    assert checks['Scheduler filter'] == (
        'Success', '%s is enabled and available in %s'
        % (status.FILTER, fleet.scheduler_conf))
    assert checks['Placement'][0] == 'Success'
    assert checks['Agents'][0] == 'Warning'
    assert ('no nova-migcompat agent reports 1 of 3 compute nodes with '
            'devices; their device providers: node-c '
            '(node-c_pci_0000_81_00_0)') in checks['Agents'][1]
    assert checks['Devices without a string'][0] == 'Success'
    assert checks['Codec versions'][0] == 'Success'
    versions = {codec.encode(s)[:2] for s in (samples.NVIDIA_21,
                                              samples.NVIDIA_23)}
    for version in versions:
        assert version in checks['Codec versions'][1]
    assert checks['Catalog'] == (
        'Success', '2 strings produced in the fleet, 2 acceptance traits')
    # node-b's 2.3 is accepted by no other host.
    assert checks['Stranded strings'][0] == 'Warning'
    assert 'node-b (nvidia 2.3 10de:1eb8 nvidia-35)' in \
        checks['Stranded strings'][1]
    assert 'node-a' not in checks['Stranded strings'][1]
    # The scheduler host has no agent of its own.
    assert checks['Agent on this host'][0] == 'Success'
    # Warnings: exit status 1, as nova-status upgrade check.
    assert code == 1


def test_status_on_a_compute_host(fleet, tool):
    code, out, _ = tool(fleet.confs['node-a'], 'status', '-f', 'json')
    checks = results(out)
    result, details = checks['Agent on this host']
    assert result == 'Success'
    assert details.startswith('last cycle 0 s ago: ') or \
        details.startswith('last cycle 1 s ago: ')
    # A compute host's nova.conf has no filter settings.
    assert checks['Scheduler filter'][0] == 'Warning'
    assert 'does not set [filter_scheduler]enabled_filters' in \
        checks['Scheduler filter'][1]
    assert code == 1


def test_status_sees_a_stopped_agent(fleet, tool):
    conf = migcompat.load_config(type('Options', (), {
        'config_file': [fleet.confs['node-a']], 'config_dir': None}))
    try:
        doc = last_cycle.read(conf)
        # The agent stopped an hour ago.
        result = status.check_local_agent(
            conf, clock=lambda: doc['finished_at'] + 3600)
    finally:
        conf.reset()
    assert result.code == status.WARNING
    assert 'last completed a cycle 1.0 h ago (interval 60 s)' in \
        result.details


def test_status_without_placement_fails(tmp_path, tool):
    path = tmp_path / 'nova.conf'
    path.write_text('\n'.join(FILTER_LINES) + '\n')
    code, out, err = tool(str(path), 'status', '-f', 'json')
    checks = results(out)
    assert checks['Scheduler filter'][0] == 'Success'
    assert checks['Placement'][0] == 'Failure'
    assert 'placement is not configured' in checks['Placement'][1]
    assert 'Agents' not in checks
    assert code == 2


def migcompat_traits(placement_api, rp):
    return {t for t in placement_api.traits(rp) if t.startswith(codec.PREFIX)}


def test_purge(fleet, tool, placement_api):
    every = [rp for tree in fleet.trees.values() for rp in tree.values()]
    placement_api.add_traits(fleet.pgpu('node-a'), 'CUSTOM_OPERATOR_KEEP')
    placement_api.add_traits(fleet.trees['node-b']['node-b'],
                             'HW_CPU_X86_AVX2')
    before = {rp: placement_api.traits(rp) for rp in every}
    defined = placement_api.all_traits()
    # 2 strings, their 2 acceptances; REPORTED and the 2 nodes' AGENT.
    assert len(defined) == 4 + 3

    code, out, _ = tool(fleet.scheduler_conf, 'purge', '--dry-run', '-f',
                        'json')
    assert code == 0
    rows = json_rows(out)
    assert {r['Result'] for r in rows} == {purge.WOULD_REMOVE,
                                           purge.WOULD_DELETE}
    assert {r['Name'] for r in rows if r['Kind'] == 'trait'} == defined
    assert [r['Name'] for r in rows if r['Result'] == purge.WOULD_DELETE
            and r['Kind'] == 'provider'] == [epoch.EPOCH_UUID]
    assert {rp: placement_api.traits(rp) for rp in every} == before

    code, out, _ = tool(fleet.scheduler_conf, 'purge', '-f', 'json')
    assert code == 0
    rows = json_rows(out)
    removed = {r['Name']: set(r['Traits']) for r in rows
               if r['Kind'] == 'provider'}
    assert removed['node-a_pci_0000_81_00_0'] == migcompat_traits_of(
        before[fleet.pgpu('node-a')])
    assert {r['Name'] for r in rows if r['Result'] == purge.DELETED} == \
        defined | {epoch.EPOCH_UUID}
    assert placement_api.request(
        'GET', '/resource_providers/%s' % epoch.EPOCH_UUID).status_code == 404
    for rp in every:
        # Every other trait kept.
        assert placement_api.traits(rp) == {
            t for t in before[rp] if not t.startswith(codec.PREFIX)}
    assert placement_api.all_traits() == set()
    assert 'CUSTOM_OPERATOR_KEEP' in placement_api.traits(
        fleet.pgpu('node-a'))


def migcompat_traits_of(traits):
    return {t for t in traits if t.startswith(codec.PREFIX)}


def epoch_generation(placement_api):
    return placement_api.ok('GET', '/resource_providers/%s'
                            % epoch.EPOCH_UUID)['generation']


def test_purge_one_host(fleet, tool, placement_api):
    defined = placement_api.all_traits()
    generation = epoch_generation(placement_api)
    code, out, _ = tool(fleet.scheduler_conf, 'purge', '--host', 'node-b',
                        '-f', 'json')
    assert code == 0
    # Acceptances were withdrawn: schedulers must not reuse their lists.
    assert epoch_generation(placement_api) == generation + 1
    assert {r['Name'] for r in json_rows(out)} == {
        'node-b', 'node-b_pci_0000_81_00_0', 'node-b_pci_0000_82_00_0'}
    for rp in fleet.trees['node-b'].values():
        assert migcompat_traits(placement_api, rp) == set()
    assert migcompat_traits(placement_api, fleet.pgpu('node-a'))
    # The definitions stay: node-a still uses them.
    assert placement_api.all_traits() == defined
    code, _, err = tool(fleet.scheduler_conf, 'purge', '--host', 'node-z')
    assert code == 1
    assert "no compute node (root resource provider) named node-z" in err


class ConcurrentWriter(placement.PlacementClient):
    """Someone else writes a provider between the purge's read and write."""

    def __init__(self, transport, placement_api, target):
        super().__init__(transport)
        self.placement_api = placement_api
        self.target = target
        self.raced = False

    def provider_traits(self, uuid):
        found = super().provider_traits(uuid)
        if uuid == self.target and not self.raced:
            self.raced = True
            self.placement_api.add_traits(uuid, 'CUSTOM_WRITTEN_MEANWHILE')
        return found


def test_purge_never_overwrites_a_concurrent_change(fleet, placement_api):
    target = fleet.pgpu('node-b')
    conf = migcompat.load_config(type('Options', (), {
        'config_file': [fleet.scheduler_conf], 'config_dir': None}))
    try:
        plain = placement.PlacementClient.from_conf(conf)
        client = ConcurrentWriter(plain._transport, placement_api, target)
        outcomes = purge.purge(client)
    finally:
        conf.reset()
    assert client.raced
    assert purge.incomplete(outcomes) == []
    traits = placement_api.traits(target)
    assert 'CUSTOM_WRITTEN_MEANWHILE' in traits
    assert migcompat_traits_of(traits) == set()


def test_agent_records_its_last_cycle(fleet):
    conf = migcompat.load_config(type('Options', (), {
        'config_file': [fleet.confs['node-b']], 'config_dir': None}))
    try:
        doc = last_cycle.read(conf)
    finally:
        conf.reset()
    assert doc['ok'] is True and doc['node'] == 'node-b'
    assert 0 <= time.time() - doc['finished_at'] < 120
    assert doc['summary'].startswith('2 devices (2 tracked), 2 fleet strings')


#: A token of this release's header whose payload does not decode, and
#: one of a newer release's version.
CORRUPT = '1P' + 'Z' * 30
NEWER = '3P' + codec.encode(samples.NVIDIA_21)[2:]


def test_status_names_corrupt_and_newer_strings(fleet, tool,
                                                placement_api):
    placement_api.add_traits(fleet.pgpu('node-a'),
                             codec.trait(codec.SRC, CORRUPT))
    placement_api.add_traits(fleet.pgpu('node-b', 1),
                             codec.trait(codec.SRC, NEWER))
    code, out, err = tool(fleet.scheduler_conf, 'status', '-f', 'json')
    result, details = results(out)['Codec versions']
    assert result == 'Failure' and code == 2
    assert ("corrupt (no release decodes them; the live migrations of "
            "their servers are refused until the source agent withdraws "
            "them, or 'nova-migcompat purge --undecodable' removes them): "
            "%s... on node-a_pci_0000_81_00_0"
            % codec.trait(codec.SRC, CORRUPT)[:40]) in details
    assert ('of a newer release (this one decodes 1P, 1D, 2P, 2D: upgrade the '
            'schedulers and the operator tools before the agents; '
            'meanwhile the live migrations of their servers are refused): '
            '%s... on node-b_pci_0000_82_00_0'
            % codec.trait(codec.SRC, NEWER)[:40]) in details
    # Removed, those two only.
    code, out, _ = tool(fleet.scheduler_conf, 'purge', '--undecodable',
                        '-f', 'json')
    assert code == 0
    assert {(r['Name'], tuple(r['Traits'])) for r in json_rows(out)} == {
        ('node-a_pci_0000_81_00_0', (codec.trait(codec.SRC, CORRUPT),)),
        ('node-b_pci_0000_82_00_0', (codec.trait(codec.SRC, NEWER),))}
    # Everything else stays: the fleet's strings, acceptances, marks.
    assert codec.trait(codec.SRC, codec.encode(samples.NVIDIA_21)) in \
        placement_api.traits(fleet.pgpu('node-a'))
    code, out, _ = tool(fleet.scheduler_conf, 'status', '-f', 'json')
    assert results(out)['Codec versions'][0] == 'Success'


def test_purge_touches_only_our_traits_by_exact_name(fleet, tool,
                                                     placement_api):
    # Other tools' traits that placement's startswith: (a LIKE, where _
    # is any character) lists with ours: defined on no provider, and on
    # another service's provider.
    looks = ['CUSTOM_MIGCOMPATIBLE_FOO', 'CUSTOM_MIGCOMPAT1ZONE']
    for name in looks:
        placement_api.ok('PUT', '/traits/%s' % name)
    other = placement_api.create_provider('other-service')
    placement_api.add_traits(other, 'CUSTOM_MIGCOMPATXSRC_BAR')
    code, out, _ = tool(fleet.scheduler_conf, 'purge', '--dry-run', '-f',
                        'json')
    assert code == 0
    listed = {r['Name'] for r in json_rows(out)}
    assert not listed & set(looks + ['CUSTOM_MIGCOMPATXSRC_BAR',
                                     'other-service'])
    code, out, err = tool(fleet.scheduler_conf, 'purge', '-f', 'json')
    assert code == 0, err
    assert set(looks) <= placement_api.all_traits('CUSTOM_')
    assert placement_api.traits(other) == {'CUSTOM_MIGCOMPATXSRC_BAR'}
    assert all(not codec.is_ours(t)
               for t in placement_api.all_traits('CUSTOM_MIGCOMPAT'))


#: A string longer than one trait: it is published in parts.
LONG = samples.NVIDIA_21 + ' ' + ' '.join(
    'cap%03d=%x' % (i, i * 2654435761 % 2 ** 32) for i in range(40))


def test_status_and_purge_judge_a_long_strings_parts_together(
        fleet, tool, placement_api):
    long_ = codec.encode_string(LONG)
    assert len(long_.parts) >= 3
    # Whole on node-a; one part lost on node-b (damage, a hand edit).
    placement_api.add_traits(fleet.pgpu('node-a'), *[
        codec.trait(codec.SRC, p) for p in long_.parts])
    placement_api.add_traits(fleet.pgpu('node-b'), *[
        codec.trait(codec.SRC, p) for p in long_.parts[1:]])
    code, out, err = tool(fleet.scheduler_conf, 'status', '-f', 'json')
    result, details = results(out)['Codec versions']
    assert result == 'Failure' and code == 2
    assert ('the long string %s on node-b_pci_0000_81_00_0 (incomplete: '
            'part 1 of %d missing)' % (long_.id, len(long_.parts))) \
        in details
    assert 'node-a_pci_0000_81_00_0' not in details
    code, out, _ = tool(fleet.scheduler_conf, 'purge', '--undecodable',
                        '-f', 'json')
    assert code == 0
    assert [(r['Name'], sorted(r['Traits'])) for r in json_rows(out)] == [
        ('node-b_pci_0000_81_00_0', sorted(
            codec.trait(codec.SRC, p) for p in long_.parts[1:]))]
    assert {codec.trait(codec.SRC, p) for p in long_.parts} <= \
        placement_api.traits(fleet.pgpu('node-a'))
    code, out, _ = tool(fleet.scheduler_conf, 'status', '-f', 'json')
    assert results(out)['Codec versions'][0] == 'Success'
