"""The agent's reporting cycle against real placement and emulated sysfs.

Every host has its own FUSE-emulated device tree whose migration_version
attributes answer writes like the vendor driver would; placement is the
real application in-process; the agent talks to it over its real
keystoneauth1 client.
"""

import hashlib
import logging

import pytest

from nova_migcompat.agent import provider_names
from nova_migcompat.agent import reporter as reporter_mod
from nova_migcompat import codec
from nova_migcompat import placement
from tests.functional.agent.conftest import Clock
from tests import samples

PGPUS = ('0000:81:00.0', '0000:82:00.0')
NVIDIA_21, NVIDIA_23 = samples.NVIDIA_21, samples.NVIDIA_23
NVIDIA_30 = samples.NVIDIA_30


def src(text):
    return codec.trait(codec.SRC, codec.encode(text))


def acc(text):
    return codec.trait(codec.ACC, codec.encode(text))


def ours(traits):
    return {t for t in traits if t.startswith(codec.PREFIX)}


def pgpu(node, address):
    return provider_names.pgpu_provider_name(node, address)


def node_marks(reporter):
    """What an agent publishes on its node's root provider."""
    return {codec.REPORTED_TRAIT, codec.agent_trait(reporter.identity)}


@pytest.fixture
def two_hosts(placement_api, emulated_sysfs, make_reporter, placement_clock):
    trees = {}
    reporters = {}
    for node, example in (('node-a', 'nvidia-a'), ('node-b', 'nvidia-b')):
        trees[node] = placement_api.create_compute(node, PGPUS)
        placement_api.add_traits(trees[node][node], 'HW_CPU_X86_AVX2',
                                 'CUSTOM_RACK_7')
        fs = emulated_sysfs(example)
        reporters[node] = make_reporter(node, fs, clock=placement_clock)
        reporters[node].fs = fs
    return trees, reporters


@pytest.fixture
def published(placement_api, emulated_sysfs, make_reporter):
    """node-a (nvidia-a) with its traits published: (tree, fs, reporter)."""
    tree = placement_api.create_compute('node-a', PGPUS)
    fs = emulated_sysfs('nvidia-a')
    reporter = make_reporter('node-a', fs)
    assert reporter.run_cycle().ok
    return tree, fs, reporter


def test_publish_from_scratch_then_steady_state(placement_api, two_hosts,
                                                placement_clock):
    trees, reporters = two_hosts
    placement_clock.advance(60)
    first_a = reporters['node-a'].run_cycle()
    first_b = reporters['node-b'].run_cycle()
    assert first_a.ok and first_b.ok
    # Host b's first cycle already saw a's string in the catalog.
    for address in PGPUS:
        a_traits = placement_api.traits(
            trees['node-a'][pgpu('node-a', address)])
        b_traits = placement_api.traits(
            trees['node-b'][pgpu('node-b', address)])
        assert ours(a_traits) == {src(NVIDIA_21), acc(NVIDIA_21)}
        assert ours(b_traits) == {src(NVIDIA_23), acc(NVIDIA_23),
                                  acc(NVIDIA_21)}
    # On the roots only the agent's mark: these hosts have no PCI
    # functions to report.
    for node in trees:
        assert ours(placement_api.traits(trees[node][node])) == \
            node_marks(reporters[node])
    assert reporters['node-a'].identity != reporters['node-b'].identity
    # a learns b's string on its next cycle, and refuses it (2.1 < 2.3).
    placement_clock.advance(60)
    second_a = reporters['node-a'].run_cycle()
    assert second_a.ok and second_a.writes == 0
    assert second_a.verdicts[pgpu('node-a', PGPUS[0])] == {
        codec.encode(NVIDIA_21): 'accepts',
        codec.encode(NVIDIA_23): 'refuses'}
    second_b = reporters['node-b'].run_cycle()
    assert second_b.writes == 0 and second_b.changed == []
    # Our writes moved the tree's Last-Modified header: the tree (by the
    # root's uuid now), the catalog, and the traits of the 3 providers
    # read back; once more in the next cycle (the header's second may not
    # have been over when it was listed); then steady: the tree and the
    # catalog only, however long the traits stay as they are.
    placement_clock.advance(60)
    third = [reporters[node].run_cycle() for node in ('node-a', 'node-b')]
    assert [r.requests for r in (second_a, second_b)] == [2 + 3, 2 + 3]
    assert [r.requests for r in third] == [2 + 3, 2 + 3]
    for _cycle in range(3):
        placement_clock.advance(600)
        steady = [reporters[node].run_cycle() for node in ('node-a',
                                                           'node-b')]
        assert all(r.ok and r.writes == 0 for r in steady)
        assert [r.requests for r in steady] == [2, 2]
        assert [r.reads for r in steady] == [2, 2]
    # First cycle: the root by name, its tree, the catalog, the traits of
    # the 3 providers, then per pGPU one PUT of its traits, and each new
    # trait created once (a: 2 new traits; b: 2 new + the ACC of a's
    # string); the root's REPORTED and AGENT traits, created, and the
    # root's PUT; and the withdrawal epoch, moved by every agent's first
    # cycle: a finds no epoch provider and creates it (GET, POST, GET,
    # PUT), b moves it (GET, PUT).
    assert first_a.requests == 6 + 2 + 2 + 3 + 4
    assert first_a.writes == 4 + 3 + 2
    assert first_a.epoch_moved == ['the agent started']
    assert first_b.requests == 6 + 2 + 3 + 3 + 2
    assert not second_a.epoch_moved and not third[0].epoch_moved
    # Foreign traits on the root are untouched.
    assert {'HW_CPU_X86_AVX2', 'CUSTOM_RACK_7'} <= placement_api.traits(
        trees['node-a']['node-a'])


def test_conflict_is_retried_and_keeps_foreign_traits(
        placement_api, emulated_sysfs, make_reporter):
    tree = placement_api.create_compute('node-a', PGPUS)
    first = pgpu('node-a', PGPUS[0])
    placement_api.add_traits(tree[first], 'CUSTOM_GPU_FAST')

    class OnPGPU(placement.PlacementClient):
        raced = []

        def provider_traits(self, rp_uuid):
            result = super().provider_traits(rp_uuid)
            if rp_uuid == tree[first] and not self.raced:
                self.raced.append(rp_uuid)
                placement_api.add_traits(rp_uuid, 'CUSTOM_ADDED_MEANWHILE')
            return result

    reporter = make_reporter('node-a', emulated_sysfs('nvidia-a'),
                             client_class=OnPGPU)
    report = reporter.run_cycle()
    assert report.ok, report.failure
    assert OnPGPU.raced == [tree[first]]
    # Ours, the trait added between our read and our write, and the one
    # that was there before: all kept.
    assert placement_api.traits(tree[first]) == {
        'CUSTOM_GPU_FAST', 'CUSTOM_ADDED_MEANWHILE', src(NVIDIA_21),
        acc(NVIDIA_21)}
    # The conflict cost one failed PUT and one re-read (then the root's
    # REPORTED and AGENT traits, created and written, and the new epoch:
    # GET, POST, GET, PUT).
    assert report.requests == 6 + 2 + 2 + 2 + 3 + 4


def test_driver_upgrade_and_device_removal(
        placement_api, example_spec, published):
    tree, fs, reporter = published
    # The vendor driver is upgraded to 3.0 on one pGPU, the other pGPU is
    # removed from the host.
    spec = example_spec('nvidia-a')
    gpu0 = spec['pci'][0]
    for entry in gpu0['mdev_types'] + gpu0['mdevs']:
        entry['migration_version']['string'] = NVIDIA_30
    del spec['pci'][1]
    fs.update(spec)
    report = reporter.run_cycle()
    assert report.ok
    assert ours(placement_api.traits(tree[pgpu('node-a', PGPUS[0])])) == {
        src(NVIDIA_30), acc(NVIDIA_30)}
    # Nova still offers the removed pGPU: the agent sees no device of it,
    # so its servers cannot be judged (refused), and its acceptance is
    # gone; the withdrawals moved the epoch.
    assert ours(placement_api.traits(tree[pgpu('node-a', PGPUS[1])])) == {
        codec.nosrc_trait(codec.NO_DEVICE)}
    assert any('withdrew 1 acceptance' in why for why in report.epoch_moved)


def test_recreated_pgpu_provider_is_republished(placement_api, published):
    tree, _, reporter = published
    name = pgpu('node-a', PGPUS[1])
    placement_api.delete_provider(tree[name])
    new_uuid = placement_api.create_provider(name, parent=tree['node-a'])
    assert ours(placement_api.traits(new_uuid)) == set()
    report = reporter.run_cycle()
    assert report.ok and report.changed == [name]
    assert ours(placement_api.traits(new_uuid)) == {src(NVIDIA_21),
                                                    acc(NVIDIA_21)}


def test_placement_down_for_a_cycle(placement_api, example_spec, published):
    tree, fs, reporter = published
    before = {rp: placement_api.traits(rp) for rp in tree.values()}
    # The devices go away while placement is down: nothing may be deleted
    # on the strength of a failed read.
    spec = example_spec('nvidia-a')
    spec['pci'] = []
    fs.update(spec)
    with placement_api.outage():
        report = reporter.run_cycle()
    assert not report.ok
    assert '503' in report.failure
    assert report.writes == 0
    assert {rp: placement_api.traits(rp) for rp in tree.values()} == before
    report = reporter.run_cycle()
    assert report.ok
    assert {name: ours(placement_api.traits(rp))
            for name, rp in tree.items()} == {
        'node-a': node_marks(reporter),
        pgpu('node-a', PGPUS[0]): {codec.nosrc_trait(codec.NO_DEVICE)},
        pgpu('node-a', PGPUS[1]): {codec.nosrc_trait(codec.NO_DEVICE)}}


def test_placement_unreachable(agent_conf, emulated_sysfs):
    conf = agent_conf('node-a', emulated_sysfs('nvidia-a').root,
                      endpoint='http://127.0.0.1:9/placement')
    reporter = reporter_mod.Reporter(
        conf, placement.PlacementClient.from_conf(conf))
    report = reporter.run_cycle()
    assert not report.ok
    assert 'placement unreachable' in report.failure
    assert report.requests == 1


def test_root_provider_not_registered_yet(placement_api, emulated_sysfs,
                                          make_reporter):
    reporter = make_reporter('node-a', emulated_sysfs('nvidia-a'))
    report = reporter.run_cycle()
    assert not report.ok
    assert "No resource provider named 'node-a'" in report.failure
    assert 'is nova-compute running' in report.failure
    assert placement_api.all_traits() == set()
    placement_api.create_compute('node-a', PGPUS)
    assert reporter.run_cycle().ok


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_garbage_in_the_catalog_is_ignored(placement_api, emulated_sysfs,
                                           make_reporter):
    tree_x = placement_api.create_compute('node-x')
    bomb = _deflate_bomb_token()
    garbage = ['CUSTOM_MIGCOMPAT_SRC_9ZZZ', 'CUSTOM_MIGCOMPAT_SRC_1P0ABC',
               'CUSTOM_MIGCOMPAT_SRC_' + bomb]
    placement_api.add_traits(tree_x['node-x'], *(garbage + [src(NVIDIA_23)]))
    tree = placement_api.create_compute('node-a', PGPUS)
    reporter = make_reporter('node-a', emulated_sysfs('nvidia-a'))
    records = Records()
    logger = logging.getLogger('nova_migcompat.agent.reporter')
    logger.addHandler(records)
    try:
        report = reporter.run_cycle()
    finally:
        logger.removeHandler(records)
    assert report.ok
    ignored = [m for m in records.messages if 'Ignoring trait' in m]
    assert len(ignored) == 3
    assert [name for name, _ in report.ignored_traits] == sorted(garbage)
    assert any('from a newer release' in m for m in ignored)
    assert any('bounded' in m for m in ignored)
    # The good string of the other host was still checked (and refused).
    assert report.verdicts[pgpu('node-a', PGPUS[0])][
        codec.encode(NVIDIA_23)] == 'refuses'
    assert report.catalog == 2
    # The garbage is not ours to remove.
    assert set(garbage) <= placement_api.traits(tree_x['node-x'])
    assert ours(placement_api.traits(tree[pgpu('node-a', PGPUS[0])])) == {
        src(NVIDIA_21), acc(NVIDIA_21)}


def _deflate_bomb_token():
    import zlib
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = comp.compress(b'a' * 100000) + comp.flush()
    return '1D' + codec._to_base36(int.from_bytes(b'\x01' + data, 'big'))


def test_hosts_with_different_drivers_converge(placement_api, two_hosts):
    trees, reporters = two_hosts
    # Cycles in any order: after two rounds every host has checked every
    # string of the fleet.
    for _round in range(2):
        for node in ('node-b', 'node-a'):
            assert reporters[node].run_cycle().ok
    for address in PGPUS:
        assert ours(placement_api.traits(
            trees['node-a'][pgpu('node-a', address)])) == {
                src(NVIDIA_21), acc(NVIDIA_21)}
        assert ours(placement_api.traits(
            trees['node-b'][pgpu('node-b', address)])) == {
                src(NVIDIA_23), acc(NVIDIA_23), acc(NVIDIA_21)}
    # What the filter will ask: who accepts a's string? Both hosts.  Who
    # accepts b's? Only b.
    for text, nodes in ((NVIDIA_21, {'node-a', 'node-b'}),
                        (NVIDIA_23, {'node-b'})):
        found = placement_api.ok(
            'GET', '/resource_providers?required=%s' % acc(text),
            version='1.18')['resource_providers']
        assert {rp['name'].split('_')[0] for rp in found} == nodes
        assert len(found) == 2 * len(nodes)


def busy(spec, string):
    """The first pGPU's driver answers EBUSY to every write."""
    spec['pci'][0]['mdev_types'][0]['migration_version'] = {
        'string': string, 'policy': 'transient', 'errno': 'EBUSY'}
    return spec


def kernel_writes(fs):
    return len([w for w in fs.writes() if w['op'] == 'write'])


def test_unknown_keeps_only_a_recent_own_acceptance(placement_api,
                                                    emulated_sysfs,
                                                    make_reporter,
                                                    example_spec):
    tree = placement_api.create_compute('node-b', PGPUS)
    placement_api.add_traits(placement_api.create_compute('node-a')[
        'node-a'], src(NVIDIA_21))
    fs = emulated_sysfs('nvidia-b')
    clock = Clock()
    reporter = make_reporter('node-b', fs, clock=clock, recheck_age=3600)
    assert reporter.run_cycle().ok
    first = tree[pgpu('node-b', PGPUS[0])]
    assert acc(NVIDIA_21) in placement_api.traits(first)
    spec = busy(example_spec('nvidia-b'), NVIDIA_23)
    fs.update(spec)
    # Half the recheck age later: the recorded verdict is reused, the
    # device is not asked.
    writes = kernel_writes(fs)
    clock.now += 1800
    report = reporter.run_cycle()
    assert report.ok and report.writes == 0 and report.checks == 0
    assert kernel_writes(fs) == writes
    # Past every recheck point, before the age: asked again, busy; the
    # acceptance this agent recorded is kept.
    clock.now += 1790
    report = reporter.run_cycle()
    assert report.ok and report.checks > 0
    assert report.verdicts[pgpu('node-b', PGPUS[0])][
        codec.encode(NVIDIA_21)] == 'accepts'
    assert acc(NVIDIA_21) in placement_api.traits(first)
    # Older than the recheck age: nothing backs it any more.
    clock.now += 11
    report = reporter.run_cycle()
    assert report.ok
    assert report.verdicts[pgpu('node-b', PGPUS[0])][
        codec.encode(NVIDIA_21)] == 'unknown'
    assert acc(NVIDIA_21) not in placement_api.traits(first)
    # The other pGPU answered and still accepts.
    assert acc(NVIDIA_21) in placement_api.traits(
        tree[pgpu('node-b', PGPUS[1])])


def test_a_changed_driver_loses_its_acceptances_at_once(
        placement_api, emulated_sysfs, make_reporter, example_spec):
    tree = placement_api.create_compute('node-b', PGPUS)
    placement_api.add_traits(placement_api.create_compute('node-a')[
        'node-a'], src(NVIDIA_21))
    fs = emulated_sysfs('nvidia-b')
    reporter = make_reporter('node-b', fs)
    assert reporter.run_cycle().ok
    first = tree[pgpu('node-b', PGPUS[0])]
    # The driver changes (3.0) and is busy: the old acceptance says
    # nothing about the new driver.
    fs.update(busy(example_spec('nvidia-b'), NVIDIA_30))
    report = reporter.run_cycle()
    assert report.ok
    assert report.verdicts[pgpu('node-b', PGPUS[0])][
        codec.encode(NVIDIA_21)] == 'unknown'
    assert ours(placement_api.traits(first)) == {src(NVIDIA_30)}


def test_a_foreign_acceptance_is_withdrawn(placement_api, emulated_sysfs,
                                           make_reporter, example_spec):
    tree = placement_api.create_compute('node-b', PGPUS)
    placement_api.add_traits(placement_api.create_compute('node-a')[
        'node-a'], src(NVIDIA_21))
    fs = emulated_sysfs(busy(example_spec('nvidia-b'), NVIDIA_23))
    first = tree[pgpu('node-b', PGPUS[0])]
    # Someone else (an operator, an old agent, an attacker) claims the
    # busy device accepts 2.1.
    placement_api.add_traits(first, src(NVIDIA_23), acc(NVIDIA_21),
                             'CUSTOM_OTHER')
    report = make_reporter('node-b', fs).run_cycle()
    assert report.ok
    assert report.verdicts[pgpu('node-b', PGPUS[0])][
        codec.encode(NVIDIA_21)] == 'unknown'
    assert placement_api.traits(first) - {'OWNER_NOVA'} == {
        src(NVIDIA_23), 'CUSTOM_OTHER'}


def test_verdicts_survive_a_restart(placement_api, emulated_sysfs,
                                    make_reporter, tmp_path):
    placement_api.create_compute('node-b', PGPUS)
    placement_api.add_traits(placement_api.create_compute('node-a')[
        'node-a'], src(NVIDIA_21))
    fs = emulated_sysfs('nvidia-b')
    assert make_reporter('node-b', fs).run_cycle().ok
    writes = kernel_writes(fs)
    assert writes > 0
    # A new agent process: its first cycle asks no device, and writes
    # nothing but the epoch that every agent's first cycle moves.
    report = make_reporter('node-b', fs).run_cycle()
    assert report.ok and report.checks == 0 and report.writes == 1
    assert report.epoch_moved == ['the agent started']
    assert kernel_writes(fs) == writes
    # A corrupt record means "nothing verified": everything is asked again.
    (tmp_path / 'node-b.state' / 'verdicts.json').write_text('{"vers')
    report = make_reporter('node-b', fs).run_cycle()
    assert report.ok and report.checks > 0 and report.writes == 1
    assert kernel_writes(fs) > writes


def junk_strings(count, length=9):
    """Strings no device produces; long ones do not compress."""
    return [('junk %04d ' % i + hashlib.sha256(b'%d' % i).hexdigest() * 4)[
        :length] for i in range(count)]


def test_a_catalog_beyond_the_budget_carries_over(
        placement_api, emulated_sysfs, make_reporter, example_spec):
    tree = placement_api.create_compute('node-b', PGPUS)
    node_a = placement_api.create_compute('node-a')['node-a']
    fs = emulated_sysfs('nvidia-b')
    reporter = make_reporter('node-b', fs, max_checks_per_cycle=10)
    first = tree[pgpu('node-b', PGPUS[0])]
    assert reporter.run_cycle().ok
    assert acc(NVIDIA_23) in placement_api.traits(first)
    # 30 junk strings and one real one appear: 31 strings x 2 devices.
    placement_api.add_traits(node_a, src(NVIDIA_21),
                             *[src(j) for j in junk_strings(30)])
    reports = []
    while acc(NVIDIA_21) not in placement_api.traits(first):
        report = reporter.run_cycle()
        assert report.ok and report.checks <= 10
        reports.append(report)
        assert len(reports) <= 7, 'the real string is never reached'
    assert reports[0].behind == 62 - 10
    assert [r.behind for r in reports][-1] >= 0
    # The junk is refused, and no string waits any more.
    report = reporter.run_cycle()
    while report.behind:
        report = reporter.run_cycle()
    assert ours(placement_api.traits(first)) == {
        src(NVIDIA_23), acc(NVIDIA_23), acc(NVIDIA_21)}
    # The driver changes and refuses 2.1; junk fills the budget: 2.1 is
    # withdrawn at once, checked or not.
    placement_api.add_traits(node_a, *[src(j) for j in junk_strings(60)])
    spec = example_spec('nvidia-b')
    for pci in spec['pci']:
        pci['mdev_types'][0]['migration_version']['string'] = NVIDIA_30
    fs.update(spec)
    report = reporter.run_cycle()
    assert report.ok and report.behind > 0
    assert ours(placement_api.traits(first)) == {src(NVIDIA_30)}


def test_a_catalog_larger_than_one_listing(placement_api, emulated_sysfs,
                                           make_reporter, monkeypatch):
    placement_api.create_compute('node-b', PGPUS)
    node_a = placement_api.create_compute('node-a')['node-a']
    strings = junk_strings(60, length=100) + [NVIDIA_21]
    placement_api.add_traits(node_a, *[src(s) for s in strings])
    # The client's response bound, scaled down with the catalog (16 MiB
    # is about 70,000 traits): one listing of all of them (8 KiB) is too
    # large, the agent's other answers are not.
    monkeypatch.setattr(placement, 'MAX_RESPONSE_BYTES', 4096)
    report = make_reporter('node-b', emulated_sysfs('nvidia-b')).run_cycle()
    assert report.ok, report.failure
    # The 60 junk strings, 2.1, and the host's own 2.3.
    assert report.catalog == 62
    assert report.verdicts[pgpu('node-b', PGPUS[0])][
        codec.encode(NVIDIA_21)] == 'accepts'


def test_pci_functions_publish_on_the_root(placement_api, emulated_sysfs,
                                           make_reporter):
    tree = placement_api.create_compute('node-q')
    # Nova's PCI-in-placement provider for the PF: never touched.
    pf = placement_api.create_provider('node-q_0000:3B:00.0',
                                       parent=tree['node-q'])
    reporter = make_reporter('node-q', emulated_sysfs('sriov-vf'))
    report = reporter.run_cycle()
    assert report.ok
    vf = 'qat-8086-4941-drv-1.2-sym;asym;dc'
    assert ours(placement_api.traits(tree['node-q'])) == {
        src(vf), acc(vf)} | node_marks(reporter)
    assert placement_api.traits(pf) == set()


def test_unused_traits_are_deleted_when_asked(placement_api, emulated_sysfs,
                                              make_reporter, example_spec):
    placement_api.create_compute('node-a', PGPUS)
    fs = emulated_sysfs('nvidia-a')
    reporter = make_reporter('node-a', fs, delete_unused_traits='true')
    assert reporter.run_cycle().ok
    assert placement_api.all_traits() == {src(NVIDIA_21), acc(NVIDIA_21)} \
        | node_marks(reporter)
    spec = example_spec('nvidia-a')
    spec['pci'] = []
    fs.update(spec)
    report = reporter.run_cycle()
    assert report.ok
    assert placement_api.all_traits() == {
        codec.nosrc_trait(codec.NO_DEVICE)} | node_marks(reporter)


def test_stop_request_between_steps(placement_api, emulated_sysfs,
                                    make_reporter):
    placement_api.create_compute('node-a', PGPUS)
    reporter = make_reporter('node-a', emulated_sysfs('nvidia-a'))
    reporter.should_stop = lambda: True
    report = reporter.run_cycle()
    assert not report.ok and 'stopped' in report.failure
    assert placement_api.all_traits() == set()


def test_traits_deleted_elsewhere_are_created_again(
        placement_api, example_spec, published):
    tree, fs, reporter = published
    # The devices leave for maintenance; another agent (with
    # delete_unused_traits) garbage-collects the unused traits.
    spec = example_spec('nvidia-a')
    fs.update(dict(spec, pci=[]))
    assert reporter.run_cycle().ok
    for name in (src(NVIDIA_21), acc(NVIDIA_21)):
        placement_api.ok('DELETE', '/traits/%s' % name)
    # They come back: the same agent publishes them again.
    fs.update(spec)
    report = reporter.run_cycle()
    assert report.ok, report.failure
    assert ours(placement_api.traits(tree[pgpu('node-a', PGPUS[0])])) == {
        src(NVIDIA_21), acc(NVIDIA_21)}


def test_unlistable_sysfs_deletes_nothing(
        placement_api, example_spec, published):
    tree, fs, reporter = published
    before = {rp: placement_api.traits(rp) for rp in tree.values()}
    spec = example_spec('nvidia-a')
    spec['links'] = {'class/mdev_bus': '/etc'}
    fs.update(spec)
    report = reporter.run_cycle()
    assert not report.ok
    assert 'outside the sysfs root' in report.failure
    assert report.writes == 0
    assert {rp: placement_api.traits(rp) for rp in tree.values()} == before


def test_default_nodename_falls_back_to_the_fqdn(placement_api,
                                                 emulated_sysfs,
                                                 make_reporter, monkeypatch,
                                                 placement_clock):
    # libvirt reported the FQDN: nova named the providers after it.
    tree = placement_api.create_compute('node-a.example.org', PGPUS)
    monkeypatch.setattr(reporter_mod.socket, 'gethostname',
                        lambda: 'node-a')
    monkeypatch.setattr(reporter_mod.socket, 'getfqdn',
                        lambda: 'node-a.example.org')
    reporter = make_reporter('node-a', emulated_sysfs('nvidia-a'),
                             clock=placement_clock)
    placement_clock.advance(60)
    first = reporter.run_cycle()
    assert first.ok
    # Two lookups by name (the host name, then the FQDN), the tree, the
    # catalog, 3 providers' traits, 2 traits created and 2 written, the
    # root's REPORTED and AGENT traits created and written, and the epoch
    # created (GET, POST, GET, PUT).
    assert first.requests == 4 + 3 + 4 + 3 + 4
    assert ours(placement_api.traits(
        tree[pgpu('node-a.example.org', PGPUS[0])])) == {src(NVIDIA_21),
                                                         acc(NVIDIA_21)}
    # Found once: later cycles list the tree by the root's uuid.
    for _cycle in range(2):
        placement_clock.advance(60)
        assert reporter.run_cycle().requests == 2 + 3
    placement_clock.advance(60)
    assert reporter.run_cycle().requests == 2


def test_unreadable_device_of_an_excluded_type_is_ignored(
        placement_api, emulated_sysfs, make_reporter, example_spec):
    tree = placement_api.create_compute('node-a', PGPUS)
    providers = [tree[pgpu('node-a', address)] for address in PGPUS]
    # A string of an earlier driver, produced by no device any more.
    for rp in providers:
        placement_api.add_traits(rp, src(NVIDIA_23))
    spec = example_spec('nvidia-a')
    # A type Nova does not use, whose attribute cannot be read.
    spec['pci'][0]['mdev_types'].append({
        'name': 'nvidia-36',
        'migration_version': {'string': 'x', 'read_error': 'EIO'}})
    reporter = make_reporter('node-a', emulated_sysfs(spec),
                             mdev_types='nvidia-35')
    report = reporter.run_cycle()
    assert report.ok and report.device_problems == []
    # Neither provider is degraded: the stale string is withdrawn.
    for rp in providers:
        assert ours(placement_api.traits(rp)) == {src(NVIDIA_21),
                                                  acc(NVIDIA_21)}


def test_unattributable_unreadable_device_keeps_every_string(
        placement_api, emulated_sysfs, make_reporter, example_spec):
    tree = placement_api.create_compute('node-a', PGPUS)
    providers = [tree[pgpu('node-a', address)] for address in PGPUS]
    for rp in providers:
        placement_api.add_traits(rp, src(NVIDIA_23))
    spec = example_spec('nvidia-a')
    # An mdev whose device link leads out of the root: neither its parent
    # nor its type is known.
    spec['links'] = {
        'bus/mdev/devices/feaf6594-df9c-4cb2-ab4c-ef8f397653a4': '/etc'}
    reporter = make_reporter('node-a', emulated_sysfs(spec),
                             mdev_types='nvidia-35')
    report = reporter.run_cycle()
    assert report.ok and len(report.device_problems) == 1
    for rp in providers:
        assert src(NVIDIA_23) in placement_api.traits(rp)


def _steady(reporter, clock):
    """Publish, then 2 more cycles a minute apart; return the last one.

    The cycle after publishing reads back what it wrote, the next one
    makes sure the header's second was over (see Reporter._traits): the
    next cycle is steady.
    """
    for _cycle in range(3):
        clock.advance(60)
        report = reporter.run_cycle()
        assert report.ok, report.failure
    return report


@pytest.fixture
def steady(placement_api, emulated_sysfs, make_reporter, placement_clock):
    """node-a (nvidia-a) published, then steady: (tree, reporter)."""
    tree = placement_api.create_compute('node-a', PGPUS)
    reporter = make_reporter('node-a', emulated_sysfs('nvidia-a'),
                             clock=placement_clock)
    _steady(reporter, placement_clock)
    return tree, reporter


@pytest.fixture
def steady_root(placement_api, emulated_sysfs, make_reporter,
                placement_clock):
    """node-a, a root with no children, published and steady.

    Its SR-IOV VFs publish on the root: (root uuid, our traits, reporter).
    """
    root = placement_api.create_compute('node-a')['node-a']
    reporter = make_reporter('node-a', emulated_sysfs('sriov-vf'),
                             clock=placement_clock)
    _steady(reporter, placement_clock)
    published = ours(placement_api.traits(root))
    assert published
    return root, published, reporter


def generation(placement_api, rp):
    return placement_api.ok('GET', '/resource_providers/%s' % rp)[
        'generation']


def recreate_with_same_uuid(placement_api, root, known_generation):
    """Nova re-creating a compute node's root (its uuid in compute_id).

    Its generation starts again from 0; someone else's traits bring it to
    the one the agent knows.
    """
    placement_api.delete_provider(root)
    placement_api.ok('POST', '/resource_providers',
                     {'name': 'node-a', 'uuid': root})
    while generation(placement_api, root) < known_generation:
        placement_api.add_traits(
            root, 'CUSTOM_OTHER_%d' % generation(placement_api, root))
    assert generation(placement_api, root) == known_generation
    assert ours(placement_api.traits(root)) == set()


def test_a_steady_cycle_reads_the_tree_and_the_catalog(steady,
                                                       placement_clock):
    _tree, reporter = steady
    # Within and far beyond the 600 s after which the traits used to be
    # read again whatever the generations.
    for seconds in (60, 540, 600, 3600, 86400):
        placement_clock.advance(seconds)
        report = reporter.run_cycle()
        assert report.ok
        assert (report.requests, report.reads, report.writes) == (2, 2, 0)


def test_a_root_recreated_with_its_uuid_is_republished(
        placement_api, steady_root, placement_clock):
    root, published, reporter = steady_root
    known = generation(placement_api, root)
    placement_clock.advance(60)
    recreate_with_same_uuid(placement_api, root, known)
    placement_clock.advance(60)
    report = reporter.run_cycle()
    assert report.ok and report.changed == ['node-a']
    assert ours(placement_api.traits(root)) == published
    assert 'CUSTOM_OTHER_0' in placement_api.traits(root)


def test_a_root_recreated_in_the_second_of_a_change_is_republished(
        placement_api, steady_root, placement_clock):
    # The Last-Modified header counts seconds: a change made in the second
    # of the change it shows does not move it.
    root, published, reporter = steady_root
    placement_clock.advance(60)
    placement_api.add_traits(root, 'CUSTOM_RACK_7')
    # The agent lists the tree within that second, and reads the traits.
    report = reporter.run_cycle()
    assert report.ok and report.writes == 0 and report.requests == 3
    # Still within that second: the root is re-created with its uuid and
    # brought to the generation the agent knows.
    recreate_with_same_uuid(placement_api, root,
                            generation(placement_api, root))
    placement_clock.advance(60)
    report = reporter.run_cycle()
    assert report.ok and report.changed == ['node-a']
    assert ours(placement_api.traits(root)) == published


def test_a_root_recreated_under_a_new_uuid_is_found_by_name(
        placement_api, steady, placement_clock):
    tree, reporter = steady
    published = {name: ours(placement_api.traits(rp))
                 for name, rp in tree.items()}
    for name in sorted(tree, reverse=True):
        placement_api.delete_provider(tree[name])
    placement_clock.advance(60)
    new_tree = placement_api.create_compute('node-a', PGPUS)
    assert not set(new_tree.values()) & set(tree.values())
    report = reporter.run_cycle()
    assert report.ok
    assert sorted(report.changed) == sorted(
        [pgpu('node-a', a) for a in PGPUS] + ['node-a'])
    assert {name: ours(placement_api.traits(rp))
            for name, rp in new_tree.items()} == published
    # The old root's tree (empty), the root by name, its tree, the
    # catalog, 3 providers' traits; per pGPU its 2 traits created (they
    # exist: no-ops) and written, the same for the root's 2 traits;
    # and the epoch moved (GET, PUT): providers left the tree.
    assert report.requests == 3 + 1 + 3 + 2 + 2 + 3 + 2
    assert report.epoch_moved == ['3 provider(s) left the tree']
    # Then the new tree is listed by its uuid.
    _steady(reporter, placement_clock)
    placement_clock.advance(60)
    report = reporter.run_cycle()
    assert report.providers == 3 and report.requests == 2


@pytest.mark.parametrize('change', ['withdraw', 'add'])
def test_a_foreign_write_is_repaired_within_one_cycle(
        placement_api, steady, placement_clock, change):
    tree, reporter = steady
    rp = tree[pgpu('node-a', PGPUS[0])]
    published = ours(placement_api.traits(rp))
    placement_clock.advance(60)
    body = placement_api.ok('GET', '/resource_providers/%s/traits' % rp)
    if change == 'withdraw':
        traits = set(body['traits']) - {acc(NVIDIA_21)}
    else:
        traits = set(body['traits']) | {acc(NVIDIA_23), 'CUSTOM_FAST'}
        for name in (acc(NVIDIA_23), 'CUSTOM_FAST'):
            placement_api.ok('PUT', '/traits/%s' % name)
    placement_api.ok('PUT', '/resource_providers/%s/traits' % rp,
                     {'traits': sorted(traits),
                      'resource_provider_generation':
                          body['resource_provider_generation']})
    report = reporter.run_cycle()
    assert report.ok and report.changed == [pgpu('node-a', PGPUS[0])]
    assert ours(placement_api.traits(rp)) == published
    if change == 'add':
        assert 'CUSTOM_FAST' in placement_api.traits(rp)
        # A planted acceptance withdrawn: announced (the epoch moved).
        assert report.revoked == 1
        assert report.epoch_moved == ['%s withdrew 1 acceptance(s)'
                                      % pgpu('node-a', PGPUS[0])]
    else:
        # An acceptance written back moves nothing.
        assert report.revoked == 0 and not report.epoch_moved


def test_a_renamed_root_is_left_for_the_one_named_after_the_node(
        placement_api, steady, placement_clock):
    tree, reporter = steady
    placement_clock.advance(60)
    for name, rp in tree.items():
        body = {'name': 'retired-' + name}
        if rp != tree['node-a']:
            body['parent_provider_uuid'] = tree['node-a']
        placement_api.ok('PUT', '/resource_providers/%s' % rp, body)
    new_tree = placement_api.create_compute('node-a', PGPUS)
    report = reporter.run_cycle()
    assert report.ok
    # The remembered uuid lists a root named otherwise: looked up by name
    # (and the epoch moved: the providers of the tree changed).
    assert report.requests == 3 + 1 + 3 + 2 + 2 + 3 + 2
    for address in PGPUS:
        assert ours(placement_api.traits(
            new_tree[pgpu('node-a', address)])) == {src(NVIDIA_21),
                                                    acc(NVIDIA_21)}
