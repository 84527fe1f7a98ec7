"""The sysfs source's target-side check, on emulated sysfs trees.

Each emulated writable attribute answers writes like a vendor driver would
(accept, EINVAL, EBUSY, ENODEV); the check must turn the errno of
``os.write`` into accepts / refuses / unknown, and never write anything
else.  Read-only attributes and synthesized descriptors are judged by the
acceptance policy of the string's format, without writing.
"""

import json

import pytest

from nova_migcompat.agent import descriptor
from nova_migcompat.agent import device as device_mod
from nova_migcompat.agent import sysfs_source
from nova_migcompat.agent import verdict as check
from tests import samples

NVIDIA_21, NVIDIA_20 = samples.NVIDIA_21, samples.NVIDIA_20
NVIDIA_23, NVIDIA_31 = samples.NVIDIA_23, samples.NVIDIA_31


def devices_of(conf, fs):
    """The sysfs source of an emulated tree, and its devices by name."""
    conf.set_override('sysfs_root', str(fs.root), 'migcompat')
    source = sysfs_source.SysfsDeviceSource(conf)
    return source, {d.name: d for d in source.discover()}


@pytest.fixture
def source(conf, tmp_path):
    """The sysfs source of an empty root (for devices made by hand)."""
    conf.set_override('sysfs_root', str(tmp_path), 'migcompat')
    return sysfs_source.SysfsDeviceSource(conf)


@pytest.mark.parametrize('source,result', [
    (NVIDIA_21, check.ACCEPTS),
    (NVIDIA_20, check.ACCEPTS),
    (NVIDIA_23, check.REFUSES),
    (NVIDIA_31, check.REFUSES),
    ('i915-v1-8086-591d-i915-GVTg_V5_8-1', check.REFUSES),
])
def test_kernel_write_decides(conf, emulated_sysfs, source, result):
    fs = emulated_sysfs('nvidia-a')
    src, devices = devices_of(conf, fs)
    target = devices['0000:81:00.0/nvidia-35']
    verdict = src.check(target, source)
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
    src, devices = devices_of(conf, fs)
    verdict = src.check(devices['0000:3b:00.1'],
                        'qat-8086-4941-drv-1.2')
    assert verdict.result == check.UNKNOWN
    assert errno_name in verdict.reason
    assert not verdict.accepts


def test_vanishing_device_is_unknown(conf, emulated_sysfs):
    fs = emulated_sysfs(_vf_spec('vanish'))
    src, devices = devices_of(conf, fs)
    verdict = src.check(devices['0000:3b:00.1'],
                        'qat-8086-4941-drv-1.2')
    assert verdict.result == check.UNKNOWN
    assert 'ENODEV' in verdict.reason


def test_device_removed_after_discovery_is_unknown(conf, emulated_sysfs):
    fs = emulated_sysfs(_vf_spec('exact'))
    src, devices = devices_of(conf, fs)
    fs.update({'host': 'h', 'pci': []})
    verdict = src.check(devices['0000:3b:00.1'],
                        'qat-8086-4941-drv-1.2')
    assert verdict.result == check.UNKNOWN


def test_reject_all_refuses_even_its_own_string(conf, emulated_sysfs):
    fs = emulated_sysfs(_vf_spec('reject_all'))
    src, devices = devices_of(conf, fs)
    verdict = src.check(devices['0000:3b:00.1'],
                        'qat-8086-4941-drv-1.2')
    assert verdict.result == check.REFUSES


def test_attribute_on_a_plain_file_is_never_written(source, tmp_path):
    attr = tmp_path / 'migration_version'
    attr.write_text('abc\n')
    dev = device_mod.Device(kind=device_mod.PCI, name='0000:3b:00.1',
                            path=str(tmp_path), attribute=str(attr),
                            string='abc', origin=device_mod.FROM_ATTRIBUTE)
    verdict = source.check(dev, 'xyz')
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
    ((535, 104), (535, 104), check.ACCEPTS, 'identical strings'),
    ((535, 54), (535, 104), check.ACCEPTS, ''),
    ((535, 129), (535, 104), check.REFUSES, 'older than source 535.129'),
    ((550, 54), (535, 104), check.REFUSES, 'major version differs'),
])
def test_synthesized_descriptors_follow_the_rule_policy(source, target,
                                                        result, reason,
                                                        conf):
    verdict = sysfs_source.SysfsDeviceSource(conf).check(
        _synthesized(*target), _synthesized(*source).string)
    assert verdict.result == result
    assert reason in verdict.reason


def test_synthesized_other_mdev_type_is_refused(source):
    verdict = source.check(_synthesized(535, 104, 'nvidia-36'),
                           _synthesized(535, 104).string)
    assert verdict.result == check.REFUSES
    assert 'mdev type nvidia-35 != nvidia-36' in verdict.reason


def test_synthesized_target_refuses_a_malformed_source(source):
    verdict = source.check(_synthesized(535, 104), '{"device_api": [')
    assert verdict.result == check.REFUSES
    assert 'cannot compare' in verdict.reason


def test_untracked_device_is_unknown(source):
    dev = device_mod.Device(kind=device_mod.PCI, name='x', path='/',
                            error='cannot read: ENODEV')
    verdict = source.check(dev, 'abc')
    assert verdict.result == check.UNKNOWN
    assert 'ENODEV' in verdict.reason


def test_synthesized_host_pair_through_sysfs(conf, emulated_sysfs,
                                             example_spec):
    # Two hosts without attributes, the second with a newer driver minor.
    old = emulated_sysfs('no-attributes')
    newer = example_spec('no-attributes')
    newer['modules']['nvidia'] = {'version': '535.129.03'}
    new = emulated_sysfs(newer)
    old_source, old_devices = devices_of(conf, old)
    new_source, new_devices = devices_of(conf, new)
    src = old_devices['0000:81:00.0/nvidia-35'].string
    assert json.loads(src)['version'] == {'major': 535, 'minor': 104}
    assert new_source.check(new_devices['0000:81:00.0/nvidia-35'],
                            src).accepts
    assert old_source.check(old_devices['0000:81:00.0/nvidia-35'],
                            new_devices['0000:81:00.0/nvidia-35'].string
                            ).result == check.REFUSES
    # Policy checks write nothing.
    assert old.writes() == [] and new.writes() == []


READONLY_TYPES = {
    name: '0000:00:%s.0/i915-GVTg_V5_%s' % (slot, name)
    for slot, name in (('02', '2'), ('03', '8'), ('04', '16'))}


@pytest.mark.parametrize('target, text, result, reason', [
    # val1=8 in section 1 of type _2: aggregator 4 and version 2 match.
    ('2', samples.KEYVALUE_V5_8, check.ACCEPTS, 'compatible section 1'),
    ('8', samples.KEYVALUE_V5_2, check.ACCEPTS, 'compatible section 1'),
    ('2', samples.KEYVALUE_V5_16, check.REFUSES,
     'mdev_type i915-GVTg_V5_16 not in i915-GVTg_V5_{1,2,4,8}'),
    ('16', samples.KEYVALUE_V5_16, check.ACCEPTS, 'identical strings'),
    # A JSON descriptor against a key=value device: no policy can tell.
    ('2', NVIDIA_21, check.UNKNOWN, 'a json string against a keyvalue'),
])
def test_read_only_keyvalue_attributes_are_judged_by_policy(
        conf, emulated_sysfs, target, text, result, reason):
    fs = emulated_sysfs(samples.keyvalue_readonly_spec())
    source, devices = devices_of(conf, fs)
    device = devices[READONLY_TYPES[target]]
    verdict = source.check(device, text.rstrip('\n'))
    assert verdict.result == result
    assert reason in verdict.reason
    # The kernel takes no writes there: none was attempted.
    assert fs.writes() == []
