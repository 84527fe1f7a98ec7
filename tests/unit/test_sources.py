"""Device discovery on FUSE-emulated sysfs trees laid out like the kernel's.
"""

import json

import pytest

from nova_migcompat.agent import device as device_mod
from nova_migcompat.agent import source as sources
from tests import samples

PGPU = 'devices/pci0000:81/0000:81:00.0'


def discover(conf, fs, **overrides):
    conf.set_override('sysfs_root', str(fs.root), 'migcompat')
    for name, value in overrides.items():
        conf.set_override(name, value, 'migcompat')
    return {dev.name: dev for _source, dev in
            sources.discover(sources.load_sources(conf))}


def test_mdev_types_and_instances_with_attributes(conf, emulated_sysfs):
    devices = discover(conf, emulated_sysfs('nvidia-a'))
    assert sorted(devices) == [
        '0000:81:00.0/nvidia-35', '0000:82:00.0/nvidia-35',
        'feaf6594-df9c-4cb2-ab4c-ef8f397653a4']
    vtype = devices['0000:81:00.0/nvidia-35']
    assert vtype.kind == device_mod.MDEV_TYPE
    assert vtype.parent == '0000:81:00.0'
    assert vtype.origin == device_mod.FROM_ATTRIBUTE
    assert vtype.attribute.endswith(
        PGPU + '/mdev_supported_types/nvidia-35/migration_version')
    assert json.loads(vtype.string)['version'] == {'major': 2, 'minor': 1}
    assert vtype.facts['driver'] == 'nvidia'
    assert vtype.facts['driver_version'] == '535.104.05'
    assert vtype.facts['type_name'] == 'GRID T4-2Q'
    assert vtype.facts['available_instances'] == '7'
    mdev = devices['feaf6594-df9c-4cb2-ab4c-ef8f397653a4']
    assert mdev.kind == device_mod.MDEV
    assert (mdev.parent, mdev.mdev_type) == ('0000:81:00.0', 'nvidia-35')
    assert mdev.string == vtype.string


def test_read_only_attributes_are_not_write_targets(conf, emulated_sysfs):
    devices = discover(conf, emulated_sysfs(samples.keyvalue_readonly_spec()))
    vtype = devices['0000:00:02.0/i915-GVTg_V5_2']
    assert vtype.origin == device_mod.FROM_READONLY
    assert vtype.attribute is None
    assert vtype.string == samples.KEYVALUE_V5_2.rstrip('\n')
    assert vtype.tracked


def test_sriov_vfs(conf, emulated_sysfs):
    devices = discover(conf, emulated_sysfs('sriov-vf'))
    # The PF has no attribute and a non-vfio driver: not migratable.
    assert sorted(devices) == ['0000:3b:00.1', '0000:3b:00.2']
    vf = devices['0000:3b:00.1']
    assert vf.kind == device_mod.PCI
    assert vf.parent == '0000:3b:00.0'
    assert vf.string == 'qat-8086-4941-drv-1.2-sym;asym;dc'
    assert vf.facts['driver'] == 'qat_vfio_pci'


def test_descriptors_are_synthesized_without_attributes(conf,
                                                        emulated_sysfs):
    devices = discover(conf, emulated_sysfs('no-attributes'))
    assert sorted(devices) == [
        '0000:5e:00.1', '0000:81:00.0/nvidia-35', '0000:81:00.0/nvidia-36',
        'a1db7737-7a4b-4dca-8ae8-0644117ab03f']
    assert all(d.origin == device_mod.FROM_SYNTHESIS and
               d.attribute is None for d in devices.values())
    assert json.loads(devices['0000:81:00.0/nvidia-36'].string) == {
        'device_api': 'vfio-pci', 'vendor': 'nvidia',
        'version': {'major': 535, 'minor': 104},
        'vfio-pci': {'vendor': 0x10de, 'device': 0x1eb8},
        'mdev_attrs': [{'mdev_type': 'nvidia-36'}]}
    assert (devices['a1db7737-7a4b-4dca-8ae8-0644117ab03f'].string ==
            devices['0000:81:00.0/nvidia-35'].string)
    vf = json.loads(devices['0000:5e:00.1'].string)
    assert vf['vendor'] == 'mlx5_vfio_pci'
    assert vf['version'] == {'major': 24, 'minor': 7}
    assert vf['vfio-pci'] == {'vendor': 0x15b3, 'device': 0x101e}


def test_synthesis_can_be_turned_off(conf, emulated_sysfs):
    devices = discover(conf, emulated_sysfs('no-attributes'),
                       synthesize_descriptors=False)
    # Still seen (its driver is a migration variant driver), without a
    # string: managed, and its servers refused.
    assert devices['0000:5e:00.1'].string is None
    assert not any(d.tracked for d in devices.values())
    assert all(d.error is None for d in devices.values())


def test_bad_devices_are_reported_and_others_kept(conf, emulated_sysfs,
                                                  example_spec):
    spec = example_spec('nvidia-a')
    dev2 = 'devices/pci0000:82/0000:82:00.0'
    spec['files'] = {
        # An oversized string on one type.
        PGPU + '/mdev_supported_types/nvidia-35/migration_version':
            'x' * 5000,
        # A non-ASCII string on the other.
        dev2 + '/mdev_supported_types/nvidia-35/migration_version':
            {'string': 'caf\u00e9'},
    }
    # The mdev's type link leads out of the root.
    spec['links'] = {
        PGPU + '/feaf6594-df9c-4cb2-ab4c-ef8f397653a4/mdev_type': '/etc'}
    spec['pci'].append({
        'address': '0000:3b:00.1', 'vendor': 0x8086, 'device': 0x4941,
        'driver': 'qat_vfio_pci',
        'migration_version': {'string': 'qat-1.2', 'read_error': 'ENODEV'}})
    spec['pci'].append({
        'address': '0000:3b:00.2', 'vendor': 0x8086, 'device': 0x4941,
        'driver': 'qat_vfio_pci',
        'migration_version': {'string': 'qat-1.2'}})
    devices = discover(conf, emulated_sysfs(spec))
    errors = {name: dev.error for name, dev in devices.items()}
    assert 'longer than 4097 bytes' in errors['0000:81:00.0/nvidia-35']
    assert ('/devices/pci0000:81/0000:81:00.0/mdev_supported_types/'
            'nvidia-35/migration_version' in errors['0000:81:00.0/nvidia-35'])
    assert 'non-ASCII byte 0xc3' in errors['0000:82:00.0/nvidia-35']
    assert 'outside the sysfs root' in errors[
        'feaf6594-df9c-4cb2-ab4c-ef8f397653a4']
    assert 'cannot read: ENODEV' in errors['0000:3b:00.1']
    # The healthy device is still there.
    assert errors['0000:3b:00.2'] is None
    assert devices['0000:3b:00.2'].string == 'qat-1.2'
    assert not devices['0000:3b:00.1'].tracked


def test_driver_link_out_of_the_root(conf, emulated_sysfs, example_spec):
    spec = example_spec('no-attributes')
    spec['links'] = {'devices/pci0000:5e/0000:5e:00.1/driver': '../../../..'}
    devices = discover(conf, emulated_sysfs(spec))
    assert 'outside the sysfs root' in devices['0000:5e:00.1'].error
    assert devices['0000:81:00.0/nvidia-35'].tracked


def test_unknown_device_source_is_a_clear_error(conf):
    conf.set_override('device_sources', ['sysfs', 'nvml'], 'migcompat')
    with pytest.raises(ValueError) as e:
        sources.load_sources(conf)
    assert "unknown device source(s) nvml" in str(e.value)
