"""The target-side check through the real write path of an emulated sysfs.

Each emulated attribute answers writes like a vendor driver would (accept,
EINVAL, EBUSY, ENODEV); the check must turn the errno of ``os.write`` into
accepts / refuses / unknown, and never write anything else.
"""

import json

import pytest

from nova_migcompat.agent import check
from nova_migcompat.agent import descriptor
from nova_migcompat.agent import device as device_mod
from nova_migcompat.agent import source as sources
from nova_migcompat.agent import sysfs as sysfs_mod
from tests import samples

NVIDIA_21, NVIDIA_20 = samples.NVIDIA_21, samples.NVIDIA_20
NVIDIA_23, NVIDIA_31 = samples.NVIDIA_23, samples.NVIDIA_31


def devices_of(conf, fs):
    conf.set_override('sysfs_root', str(fs.root), 'migcompat')
    return (sysfs_mod.Sysfs(str(fs.root)),
            {d.name: d for d in sources.discover(conf)})


@pytest.mark.parametrize('source,result', [
    (NVIDIA_21, check.ACCEPTS),
    (NVIDIA_20, check.ACCEPTS),
    (NVIDIA_23, check.REFUSES),
    (NVIDIA_31, check.REFUSES),
    ('i915-v1-8086-591d-i915-GVTg_V5_8-1', check.REFUSES),
])
def test_kernel_write_decides(conf, emulated_sysfs, source, result):
    fs = emulated_sysfs('nvidia-a')
    sysfs, devices = devices_of(conf, fs)
    target = devices['0000:81:00.0/nvidia-35']
    verdict = check.check(sysfs, target, source)
    assert verdict.result == result
    if result == check.REFUSES:
        assert verdict.reason == 'the nvidia driver refused the string ' \
                                 '(EINVAL)'
    writes = [w for w in fs.writes() if w['op'] == 'write']
    assert len(writes) == 1
    assert writes[0]['path'].endswith('/nvidia-35/migration_version')
    # Exactly the source bytes: no trailing newline added.
    assert writes[0]['data'] == source


def _vf_spec(policy, **extra):
    attr = {'string': 'qat-8086-4941-drv-1.2', 'policy': policy}
    attr.update(extra)
    return {'host': 'h', 'pci': [{
        'address': '0000:3b:00.1', 'vendor': 0x8086, 'device': 0x4941,
        'driver': 'qat_vfio_pci', 'migration_version': attr}]}


@pytest.mark.parametrize('errno_name', ['EBUSY', 'EAGAIN', 'EIO'])
def test_transient_errors_are_unknown(conf, emulated_sysfs, errno_name):
    fs = emulated_sysfs(_vf_spec('transient', errno=errno_name))
    sysfs, devices = devices_of(conf, fs)
    verdict = check.check(sysfs, devices['0000:3b:00.1'],
                          'qat-8086-4941-drv-1.2')
    assert verdict.result == check.UNKNOWN
    assert errno_name in verdict.reason
    assert not verdict.accepts


def test_vanishing_device_is_unknown(conf, emulated_sysfs):
    fs = emulated_sysfs(_vf_spec('vanish'))
    sysfs, devices = devices_of(conf, fs)
    verdict = check.check(sysfs, devices['0000:3b:00.1'],
                          'qat-8086-4941-drv-1.2')
    assert verdict.result == check.UNKNOWN
    assert 'ENODEV' in verdict.reason


def test_device_removed_after_discovery_is_unknown(conf, emulated_sysfs):
    fs = emulated_sysfs(_vf_spec('exact'))
    sysfs, devices = devices_of(conf, fs)
    fs.update({'host': 'h', 'pci': []})
    verdict = check.check(sysfs, devices['0000:3b:00.1'],
                          'qat-8086-4941-drv-1.2')
    assert verdict.result == check.UNKNOWN


def test_reject_all_refuses_even_its_own_string(conf, emulated_sysfs):
    fs = emulated_sysfs(_vf_spec('reject_all'))
    sysfs, devices = devices_of(conf, fs)
    verdict = check.check(sysfs, devices['0000:3b:00.1'],
                          'qat-8086-4941-drv-1.2')
    assert verdict.result == check.REFUSES


def test_attribute_on_a_plain_file_is_never_written(tmp_path):
    attr = tmp_path / 'migration_version'
    attr.write_text('abc\n')
    dev = device_mod.Device(kind=device_mod.PCI, name='0000:3b:00.1',
                            path=str(tmp_path), attribute=str(attr),
                            string='abc', origin=device_mod.FROM_ATTRIBUTE)
    verdict = check.check(sysfs_mod.Sysfs(str(tmp_path)), dev, 'xyz')
    assert verdict.result == check.UNKNOWN
    assert 'unsafe write refused' in verdict.reason
    assert attr.read_text() == 'abc\n'


def _synthesized(major, minor, mdev_type='nvidia-35'):
    text = descriptor.synthesize('vfio-pci', 'nvidia', '%d.%d' % (major,
                                                                  minor),
                                 0x10de, 0x1eb8, mdev_type)
    return device_mod.Device(kind=device_mod.MDEV_TYPE, name='p/t',
                             path='/', string=text,
                             origin=device_mod.FROM_SYNTHESIS,
                             facts={'driver': 'nvidia'})


@pytest.mark.parametrize('source,target,result,reason', [
    ((535, 104), (535, 104), check.ACCEPTS, 'identical descriptor'),
    ((535, 54), (535, 104), check.ACCEPTS, ''),
    ((535, 129), (535, 104), check.REFUSES, 'older than source 535.129'),
    ((550, 54), (535, 104), check.REFUSES, 'major version differs'),
])
def test_synthesized_descriptors_follow_the_rule_policy(source, target,
                                                        result, reason):
    verdict = check.check(None, _synthesized(*target),
                          _synthesized(*source).string)
    assert verdict.result == result
    assert reason in verdict.reason


def test_synthesized_other_mdev_type_is_refused():
    verdict = check.check(None, _synthesized(535, 104, 'nvidia-36'),
                          _synthesized(535, 104).string)
    assert verdict.result == check.REFUSES
    assert 'mdev type nvidia-35 != nvidia-36' in verdict.reason


def test_synthesized_target_refuses_a_malformed_source():
    verdict = check.check(None, _synthesized(535, 104), '{"device_api": [')
    assert verdict.result == check.REFUSES
    assert 'cannot compare' in verdict.reason


def test_untracked_device_is_unknown():
    dev = device_mod.Device(kind=device_mod.PCI, name='x', path='/',
                            error='cannot read: ENODEV')
    verdict = check.check(None, dev, 'abc')
    assert verdict.result == check.UNKNOWN
    assert 'ENODEV' in verdict.reason


def test_synthesized_host_pair_through_sysfs(conf, emulated_sysfs,
                                             example_spec):
    # Two hosts without attributes, the second with a newer driver minor.
    old = emulated_sysfs('no-attributes')
    newer = example_spec('no-attributes')
    newer['modules']['nvidia'] = {'version': '535.129.03'}
    new = emulated_sysfs(newer)
    _, old_devices = devices_of(conf, old)
    sysfs, new_devices = devices_of(conf, new)
    src = old_devices['0000:81:00.0/nvidia-35'].string
    assert json.loads(src)['version'] == {'major': 535, 'minor': 104}
    assert check.check(sysfs, new_devices['0000:81:00.0/nvidia-35'],
                       src).accepts
    assert check.check(None, old_devices['0000:81:00.0/nvidia-35'],
                       new_devices['0000:81:00.0/nvidia-35'].string
                       ).result == check.REFUSES
    # Policy checks write nothing.
    assert old.writes() == [] and new.writes() == []
