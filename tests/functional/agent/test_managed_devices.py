"""Managed means judged or refused: what the agent says of a device it
sees but has no string for, through its console scripts, real placement
and FUSE-emulated trees.

A device the agent manages without a string (no ``migration_version``
with synthesis off, a VFIO driver that cannot migrate, a string that
cannot be read and never was) puts ``CUSTOM_MIGCOMPAT_NOSRC_<reason>`` on
its provider, which makes the filter refuse the live migrations of its
servers; a node whose agent reports it carries
``CUSTOM_MIGCOMPAT_REPORTED`` and ``CUSTOM_MIGCOMPAT_AGENT_<identity>``.
"""

import json
import subprocess
import sys

from nova_migcompat.agent import provider_names
from nova_migcompat import codec
from tests import samples

PGPUS = ('0000:81:00.0', '0000:82:00.0')
NVIDIA_21 = samples.NVIDIA_21


def ours(traits):
    return {t for t in traits if t.startswith(codec.PREFIX)}


def src(text):
    return codec.trait(codec.SRC, codec.encode(text))


def acc(text):
    return codec.trait(codec.ACC, codec.encode(text))


def nosrc(reason):
    return codec.nosrc_trait(reason)


def pgpu(address, node='node-a'):
    return provider_names.pgpu_provider_name(node, address)


def device_list(tmp_path, root, *options, long=False):
    path = tmp_path / 'tool.conf'
    path.write_text('[migcompat]\nsysfs_root = %s\n%s\n'
                    % (root, '\n'.join(options)))
    proc = subprocess.run(
        [sys.executable, '-m', 'nova_migcompat.cmd.migcompat',
         '--config-file', str(path), 'device', 'list', '-f', 'json'] +
        (['--long'] if long else []), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    return {row['Device']: row for row in json.loads(proc.stdout)}


def without_attribute(spec, index=0):
    """pGPU ``index`` of nvidia-a loses its migration_version files."""
    gpu = spec['pci'][index]
    for entry in gpu['mdev_types'] + gpu['mdevs']:
        entry['migration_version'] = None
    return spec


def test_the_node_says_an_agent_reports_it(placement_api, emulated_sysfs,
                                           make_reporter):
    tree = placement_api.create_compute('node-a', PGPUS)
    reporter = make_reporter('node-a', emulated_sysfs('nvidia-a'))
    assert reporter.run_cycle().ok
    assert ours(placement_api.traits(tree['node-a'])) == {
        codec.REPORTED_TRAIT, codec.agent_trait(reporter.identity)}


def test_a_string_gone_with_synthesis_off_is_managed_without_one(
        placement_api, emulated_sysfs, make_reporter, example_spec,
        tmp_path):
    # The case: published, then the attribute is gone and no
    # descriptor is synthesized.
    tree = placement_api.create_compute('node-a', PGPUS)
    fs = emulated_sysfs('nvidia-a')
    reporter = make_reporter('node-a', fs, synthesize_descriptors='false')
    assert reporter.run_cycle().ok
    first = tree[pgpu(PGPUS[0])]
    assert ours(placement_api.traits(first)) == {src(NVIDIA_21),
                                                 acc(NVIDIA_21)}
    fs.update(without_attribute(example_spec('nvidia-a')))
    report = reporter.run_cycle()
    assert report.ok, report.failure
    # No string any more: not "nothing to check" but "cannot be judged".
    assert ours(placement_api.traits(first)) == {nosrc(codec.NO_STRING)}
    assert ours(placement_api.traits(tree[pgpu(PGPUS[1])])) == {
        src(NVIDIA_21), acc(NVIDIA_21)}
    # Its acceptance went with it: announced to the schedulers.
    assert report.revoked == 1 and report.epoch_moved
    # device list says why.
    rows = device_list(tmp_path, fs.root, 'synthesize_descriptors = false')
    assert 'synthesize_descriptors' in rows[PGPUS[0] + '/nvidia-35'][
        'Problem']
    assert rows[PGPUS[1] + '/nvidia-35']['Problem'] is None


def vfio_spec(example_spec, vfio):
    """sriov-vf, VF .1 with a debugfs entry ``vfio``."""
    spec = example_spec('sriov-vf')
    spec['pci'][1]['vfio'] = vfio
    return spec


def test_a_vf_whose_driver_cannot_migrate_is_managed_without_a_string(
        placement_api, emulated_sysfs, make_reporter, example_spec,
        tmp_path):
    # debugfs (6.8+) lists the VF as a VFIO device without a migration
    # directory: its driver cannot migrate it, whatever its attribute.
    tree = placement_api.create_compute('node-q')
    fs = emulated_sysfs(vfio_spec(example_spec, {'migration': False}))
    reporter = make_reporter('node-q', fs)
    assert reporter.run_cycle().ok
    vf_string = 'qat-8086-4941-drv-1.2-sym;asym;dc'
    # PCI functions are judged per host: the root provider says so (the
    # other VF still produces and accepts its string).
    assert ours(placement_api.traits(tree['node-q'])) == {
        src(vf_string), acc(vf_string), nosrc(codec.NOT_MIGRATABLE),
        codec.REPORTED_TRAIT, codec.agent_trait(reporter.identity)}
    rows = device_list(tmp_path, fs.root)
    assert 'no migration directory' in rows['0000:3b:00.1']['Problem']
    assert rows['0000:3b:00.1']['SRC trait'] is None
    assert rows['0000:3b:00.2']['Problem'] is None


def test_migration_features_from_debugfs(placement_api, emulated_sysfs,
                                         make_reporter, example_spec,
                                         tmp_path):
    tree = placement_api.create_compute('node-q')
    # 6.18: the features file; stop-copy present: migratable.
    fs = emulated_sysfs(vfio_spec(example_spec,
                                  {'features': ['stop-copy', 'p2p']}))
    reporter = make_reporter('node-q', fs)
    assert reporter.run_cycle().ok
    assert nosrc(codec.NOT_MIGRATABLE) not in placement_api.traits(
        tree['node-q'])
    rows = device_list(tmp_path, fs.root, long=True)
    assert rows['0000:3b:00.1']['Problem'] is None
    assert rows['0000:3b:00.1']['Facts']['migration_features'] == \
        'p2p,stop-copy'
    # 6.8 to 6.17: a migration directory without the file.
    fs.update(vfio_spec(example_spec, {'migration': True}))
    assert reporter.run_cycle().ok
    assert nosrc(codec.NOT_MIGRATABLE) not in placement_api.traits(
        tree['node-q'])
    # A driver that migrates without stop-copy cannot be moved live.
    fs.update(vfio_spec(example_spec, {'features': ['dirty-tracking']}))
    assert reporter.run_cycle().ok
    assert nosrc(codec.NOT_MIGRATABLE) in placement_api.traits(
        tree['node-q'])


def test_an_unreadable_device_keeps_the_string_it_gave(
        placement_api, emulated_sysfs, make_reporter, example_spec):
    tree = placement_api.create_compute('node-a', PGPUS)
    fs = emulated_sysfs('nvidia-a')
    reporter = make_reporter('node-a', fs)
    assert reporter.run_cycle().ok
    # The second pGPU's type (no mdev there) can no longer be read.
    spec = example_spec('nvidia-a')
    spec['pci'][1]['mdev_types'][0]['migration_version'][
        'read_error'] = 'EIO'
    fs.update(spec)
    report = reporter.run_cycle()
    assert report.ok and report.device_problems
    # Judged by the string it gave: kept, no refusal.
    second = tree[pgpu(PGPUS[1])]
    assert src(NVIDIA_21) in placement_api.traits(second)
    assert nosrc(codec.UNREADABLE) not in placement_api.traits(second)


def test_an_unreadable_device_that_never_gave_a_string_is_refused(
        placement_api, emulated_sysfs, make_reporter, example_spec):
    tree = placement_api.create_compute('node-a', PGPUS)
    spec = example_spec('nvidia-a')
    spec['pci'][1]['mdev_types'][0]['migration_version'][
        'read_error'] = 'EIO'
    reporter = make_reporter('node-a', emulated_sysfs(spec))
    report = reporter.run_cycle()
    assert report.ok and report.device_problems
    assert ours(placement_api.traits(tree[pgpu(PGPUS[1])])) == {
        nosrc(codec.UNREADABLE)}


def test_a_pgpu_provider_without_a_device_is_refused(placement_api,
                                                     emulated_sysfs,
                                                     make_reporter):
    # Nova offers a third pGPU the agent does not see at all.
    extra = '0000:83:00.0'
    tree = placement_api.create_compute('node-a', PGPUS + (extra,))
    reporter = make_reporter('node-a', emulated_sysfs('nvidia-a'))
    assert reporter.run_cycle().ok
    assert ours(placement_api.traits(tree[pgpu(extra)])) == {
        nosrc(codec.NO_DEVICE)}
