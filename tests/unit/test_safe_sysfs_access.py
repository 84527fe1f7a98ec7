"""Safe file access of the sysfs layer and the write check (issue 10).

The agent publishes only what this host verified itself: a mount table
it cannot decode, a root that is not a mounted sysfs, a directory swapped
for a link, a ``migration_version`` that is a link, or an errno that is
not the driver's answer must never become a published string or verdict.
"""

import errno
import os
import shutil

import pytest

from migcompat_lab.emulation import mount
from nova_migcompat.agent import device as device_mod
from nova_migcompat.agent import sysfs as sysfs_mod
from nova_migcompat.agent import sysfs_source
from nova_migcompat.agent import verdict as check
from nova_migcompat import exception

VF = '0000:3b:00.1'
VF_DIR = 'devices/pci0000:3b/0000:3b:00.1'
VF_STRING = 'qat-8086-4941-drv-1.2'


def _vf_spec(policy='exact', **extra):
    attr = {'string': VF_STRING, 'policy': policy}
    attr.update(extra)
    return {'host': 'h', 'pci': [{
        'address': VF, 'vendor': 0x8086, 'device': 0x4941,
        'driver': 'qat_vfio_pci', 'migration_version': attr}]}


def devices_of(conf, root):
    conf.set_override('sysfs_root', str(root), 'migcompat')
    source = sysfs_source.SysfsDeviceSource(conf)
    return source, {d.name: d for d in source.discover()}


def writes(fs):
    return [w for w in fs.writes() if w['op'] == 'write']


# 1. The mount table: bytes, once per cycle, by device number -------------

def test_a_mount_point_that_is_not_utf8_does_not_stop_the_check(
        conf, emulated_sysfs, tmp_path):
    fs = emulated_sysfs(_vf_spec())
    # A second mount, at a path that is not UTF-8 (b'\xff'), as any local
    # user can make with fusermount3.
    other = mount.EmulatedSysfs(_vf_spec(), str(tmp_path) + '/evil\udcff',
                                workdir=tmp_path / 'evil.work')
    other.start()
    try:
        source, devices = devices_of(conf, fs.root)
        verdict = source.check(devices[VF], VF_STRING)
    finally:
        other.stop()
    assert verdict.result == check.ACCEPTS, verdict.reason
    assert [w['data'] for w in writes(fs)] == [VF_STRING]
    assert writes(other) == []


def test_the_mount_table_is_read_once_per_discovery(conf, emulated_sysfs,
                                                    monkeypatch):
    fs = emulated_sysfs(_vf_spec('accept_list', accepts=['a', 'b']))
    opened = []
    real_open = open

    def counting_open(file, *args, **kwargs):
        if 'mountinfo' in str(file):
            opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(sysfs_mod, 'open', counting_open, raising=False)
    source, devices = devices_of(conf, fs.root)
    for text in ('a', 'b', 'c', VF_STRING):
        source.check(devices[VF], text)
    assert len(opened) == 1
    assert len(writes(fs)) == 4
    source.discover()
    assert len(opened) == 2


def test_the_write_finds_the_mount_by_device_number(emulated_sysfs):
    fs = emulated_sysfs(_vf_spec())
    tree = sysfs_mod.Sysfs(fs.root)
    attr = os.path.join(fs.root, VF_DIR, 'migration_version')
    dev = os.stat(attr).st_dev
    # The same mount point, but another device number: not our mount.
    table = ('1 0 0:1 / / rw - ext4 /dev/vda rw\n'
             '2 1 %d:%d / %s rw - ext4 /dev/vdb rw\n'
             '3 1 0:9999 / %s rw - fuse.x x rw\n'
             % (os.major(dev), os.minor(dev), fs.root, fs.root))
    tree.load_mounts(table.encode())
    with pytest.raises(exception.UnsafeWrite) as e:
        tree.write_migration_version(attr, VF_STRING)
    assert 'on a ext4 file system, not sysfs or FUSE' in str(e.value)
    assert writes(fs) == []


# 2. The root must be a mounted sysfs -------------------------------------

def test_root_on_a_plain_file_system_fails_discovery(conf, tmp_path):
    root = tmp_path / 'sys'
    (root / 'bus' / 'pci' / 'devices').mkdir(parents=True)
    (root / 'class').mkdir()
    conf.set_override('sysfs_root', str(root), 'migcompat')
    source = sysfs_source.SysfsDeviceSource(conf)
    with pytest.raises(exception.SysfsRootError) as e:
        source.discover()
    message = str(e.value)
    # Whatever this machine's /tmp is (ext4, tmpfs, overlay...).
    assert message.startswith('%s: sysfs root is on a ' % root)
    assert ' file system, not on a sysfs or FUSE mount' in message
    assert '\n' not in message


def test_missing_root_fails_discovery(conf, tmp_path):
    conf.set_override('sysfs_root', str(tmp_path / 'nope'), 'migcompat')
    with pytest.raises(exception.SysfsRootError) as e:
        sysfs_source.SysfsDeviceSource(conf).discover()
    assert str(e.value) == ('%s: sysfs root cannot be read: ENOENT'
                            % (tmp_path / 'nope'))


def test_root_without_bus_or_class_fails_discovery(conf, emulated_sysfs):
    fs = emulated_sysfs(_vf_spec())
    # Inside the mount, but not its top: a typo of the root.
    root = os.path.join(fs.root, 'devices')
    conf.set_override('sysfs_root', root, 'migcompat')
    with pytest.raises(exception.SysfsRootError) as e:
        sysfs_source.SysfsDeviceSource(conf).discover()
    assert str(e.value) == (
        '%s: sysfs root has no bus or class directory: not the top of a '
        'sysfs tree; is [migcompat]sysfs_root right?' % root)


def test_a_mounted_tree_without_devices_is_a_host_without_devices(
        conf, emulated_sysfs):
    fs = emulated_sysfs({'host': 'h', 'pci': []})
    _source, devices = devices_of(conf, fs.root)
    assert devices == {}


# 3. A directory swapped for a link between the check and the open --------

@pytest.fixture
def plain_tree(tmp_path):
    root = tmp_path / 'sys'
    dev = root / 'devices' / 'pci0000:00' / '0000:00:02.0'
    dev.mkdir(parents=True)
    (dev / 'vendor').write_text('0x8086\n')
    (dev / 'migration_version').write_text('i915-v1\n')
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'vendor').write_text('secret\n')
    (outside / 'migration_version').write_text('not-this-host\n')
    return sysfs_mod.Sysfs(str(root)), str(dev), str(outside)


def _swap_after_resolve(monkeypatch, tree, directory, target):
    """Replace ``directory`` by a link to ``target`` right after resolve."""
    resolve = tree.resolve

    def racing_resolve(path):
        real = resolve(path)
        if not os.path.islink(directory):
            shutil.rmtree(directory)
            os.symlink(target, directory)
        return real
    monkeypatch.setattr(tree, 'resolve', racing_resolve)


@pytest.mark.parametrize('attr', ['vendor', 'migration_version'])
def test_read_through_a_directory_swapped_for_a_link(plain_tree, monkeypatch,
                                                     attr):
    tree, dev, outside = plain_tree
    _swap_after_resolve(monkeypatch, tree, dev, outside)
    with pytest.raises(exception.SysfsError) as e:
        if attr == 'vendor':
            tree.read_text(os.path.join(dev, attr))
        else:
            tree.read_compat_string(os.path.join(dev, attr))
    message = str(e.value)
    assert message.startswith('/devices/pci0000:00/0000:00:02.0/%s: changed '
                              'while being opened: opened %s/%s'
                              % (attr, outside, attr))
    assert '\n' not in message


@pytest.fixture
def pci_link_as_directory(monkeypatch):
    """Resolution sees bus/pci/devices/<vf> as a directory.

    A test seam for the race: the path resolves to itself (a directory
    inside the root at check time), and at open time the kernel follows the
    link that is there, out of the root.
    """
    realpath = os.path.realpath

    def seam(path):
        if '/bus/pci/devices/' in str(path):
            return os.path.normpath(path)
        return realpath(path)
    monkeypatch.setattr(sysfs_mod.os.path, 'realpath', seam)


def test_write_through_a_directory_swapped_for_a_link(emulated_sysfs,
                                                      pci_link_as_directory):
    fs = emulated_sysfs(_vf_spec())
    # The root is bus/ of the mount: devices/ (the link's target, on the
    # same mount and device number) is outside of it.
    tree = sysfs_mod.Sysfs(os.path.join(fs.root, 'bus'))
    attr = tree.path('pci', 'devices', VF, 'migration_version')
    with pytest.raises(exception.UnsafeWrite) as e:
        tree.write_migration_version(attr, VF_STRING)
    assert str(e.value).startswith(
        '/pci/devices/%s/migration_version: changed while being opened: '
        'opened %s/%s/migration_version' % (VF, fs.root, VF_DIR))
    assert writes(fs) == []


def test_write_check_through_a_swapped_directory_is_unknown(
        conf, emulated_sysfs, pci_link_as_directory):
    fs = emulated_sysfs(_vf_spec())
    conf.set_override('sysfs_root', os.path.join(fs.root, 'bus'),
                      'migcompat')
    source = sysfs_source.SysfsDeviceSource(conf)
    dev = device_mod.Device(
        kind=device_mod.PCI, name=VF, path=source.sysfs.path(
            'pci', 'devices', VF),
        attribute=source.sysfs.path('pci', 'devices', VF,
                                    'migration_version'),
        string=VF_STRING, origin=device_mod.FROM_ATTRIBUTE)
    verdict = source.check(dev, VF_STRING)
    assert verdict.result == check.UNKNOWN
    assert 'changed while being opened' in verdict.reason
    assert writes(fs) == []


# 4. migration_version must be the device's own regular file --------------

def test_migration_version_that_is_a_link_is_not_read(conf, emulated_sysfs):
    spec = _vf_spec()
    spec['modules'] = {'qat_vfio_pci': {'version': 'looks-like-a-string'}}
    spec['links'] = {VF_DIR + '/migration_version':
                     '../../../module/qat_vfio_pci/version'}
    fs = emulated_sysfs(spec)
    _source, devices = devices_of(conf, fs.root)
    vf = devices[VF]
    assert vf.string is None and not vf.tracked
    assert vf.attribute is None
    assert vf.error == ('/%s/migration_version: is a link, not an attribute '
                        'file' % VF_DIR)


def test_migration_version_link_to_another_device_is_not_read(plain_tree):
    tree, dev, _outside = plain_tree
    other = os.path.join(os.path.dirname(dev), '0000:00:03.0')
    os.mkdir(other)
    os.symlink('../0000:00:02.0/migration_version',
               os.path.join(other, 'migration_version'))
    with pytest.raises(exception.SysfsError) as e:
        tree.migration_version(other)
    assert 'is a link, not an attribute file' in str(e.value)
    with pytest.raises(exception.SysfsError) as e:
        tree.read_compat_string(os.path.join(other, 'migration_version'))
    assert 'is a link, not an attribute file' in str(e.value)
    with pytest.raises(exception.SysfsError) as e:
        tree.read_compat_string(os.path.join(dev, 'vendor'))
    assert 'not a migration_version attribute' in str(e.value)


# 5. Only the driver's answer refuses -------------------------------------

AGENT_SIDE_ERRNOS = ['EMFILE', 'ELOOP', 'EISDIR', 'ENOTDIR', 'EBADF',
                     'ENAMETOOLONG', 'ENOMEM', 'ENOSPC', 'EFAULT', 'ENFILE']


@pytest.mark.parametrize('name', AGENT_SIDE_ERRNOS)
def test_classify_only_the_driver_refuses(name):
    assert sysfs_source.classify(getattr(errno, name)) == check.UNKNOWN


def test_classify_einval_refuses():
    assert sysfs_source.classify(errno.EINVAL) == check.REFUSES
    assert sysfs_source.REFUSING_ERRNOS == frozenset([errno.EINVAL])


@pytest.mark.parametrize('name', ['ENOSPC', 'ENOMEM', 'EMFILE', 'EFAULT',
                                  'ENOTDIR'])
def test_write_errors_that_are_not_the_drivers_answer_are_unknown(
        conf, emulated_sysfs, name):
    # Through the kernel's write path: the write fails with that errno.
    fs = emulated_sysfs(_vf_spec('transient', errno=name))
    source, devices = devices_of(conf, fs.root)
    verdict = source.check(devices[VF], VF_STRING)
    assert verdict.result == check.UNKNOWN
    assert verdict.reason == ('write failed with %s (not an answer of the '
                              'driver)' % name)
    assert len(writes(fs)) == 1


@pytest.mark.parametrize('name', AGENT_SIDE_ERRNOS)
def test_agent_side_errors_of_the_write_are_unknown(conf, emulated_sysfs,
                                                    monkeypatch, name):
    fs = emulated_sysfs(_vf_spec())
    source, devices = devices_of(conf, fs.root)

    def failing_write(path, text):
        raise OSError(getattr(errno, name), os.strerror(getattr(errno,
                                                                name)))
    monkeypatch.setattr(source.sysfs, 'write_migration_version',
                        failing_write)
    verdict = source.check(devices[VF], VF_STRING)
    assert verdict.result == check.UNKNOWN
    assert name in verdict.reason
