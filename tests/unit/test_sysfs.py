"""Confinement, bounded reads and the write guard of the sysfs layer.

These use a plain directory tree: reads and link resolution behave like on
sysfs, and every write must be refused because it is not sysfs or FUSE.
"""

import os

import pytest

from nova_migcompat.agent import sysfs as sysfs_mod
from nova_migcompat import exception


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / 'sys'
    dev = root / 'devices' / 'pci0000:00' / '0000:00:02.0'
    dev.mkdir(parents=True)
    (dev / 'vendor').write_text('0x8086\n')
    (dev / 'migration_version').write_text('i915-v1\n')
    (root / 'bus' / 'pci' / 'devices').mkdir(parents=True)
    os.symlink('../../../devices/pci0000:00/0000:00:02.0',
               root / 'bus' / 'pci' / 'devices' / '0000:00:02.0')
    (tmp_path / 'secret').write_text('top secret\n')
    os.symlink('../../../../secret', dev / 'escape')
    os.symlink('/etc', dev / 'absolute_escape')
    return sysfs_mod.Sysfs(str(root))


def test_resolve_follows_links_inside_the_root(tree):
    real = tree.resolve(tree.path('bus', 'pci', 'devices', '0000:00:02.0'))
    assert real == tree.path('devices', 'pci0000:00', '0000:00:02.0')


@pytest.mark.parametrize('link', ['escape', 'absolute_escape'])
def test_links_out_of_the_root_are_refused(tree, link):
    path = tree.path('bus', 'pci', 'devices', '0000:00:02.0', link)
    with pytest.raises(exception.OutsideRoot) as e:
        tree.read_text(path)
    assert 'outside the sysfs root' in str(e.value)
    assert str(e.value).startswith('/bus/pci/devices/0000:00:02.0/' + link)
    with pytest.raises(exception.OutsideRoot):
        tree.link_name(path)


def test_dotdot_out_of_the_root_is_refused(tree):
    with pytest.raises(exception.OutsideRoot):
        tree.read_text(tree.path('..', 'secret'))


def test_reads_are_bounded(tree, tmp_path):
    attr = tree.path('devices', 'pci0000:00', '0000:00:02.0', 'big')
    with open(attr, 'w') as f:
        f.write('x' * 300)
    with pytest.raises(exception.SysfsError) as e:
        tree.read_text(attr)
    assert 'longer than 256 bytes' in str(e.value)
    attr = tree.path('devices', 'pci0000:00', '0000:00:02.0',
                     'migration_version')
    with open(attr, 'w') as f:
        f.write('x' * 5000)
    with pytest.raises(exception.SysfsError) as e:
        tree.read_compat_string(attr)
    assert 'longer than 4097 bytes' in str(e.value)


def test_read_of_a_missing_attribute(tree):
    assert tree.read_optional(tree.path('nope')) is None
    with pytest.raises(exception.SysfsError) as e:
        tree.read_text(tree.path('nope'))
    assert 'cannot open: ENOENT' in str(e.value)


def test_read_of_a_directory_is_refused(tree):
    with pytest.raises(exception.SysfsError) as e:
        tree.read_text(tree.path('devices'))
    assert 'not an attribute file' in str(e.value) or 'EISDIR' in str(e.value)


def test_listdir_of_missing_directory_is_empty(tree):
    assert tree.listdir(tree.path('class', 'mdev_bus')) == []
    assert tree.listdir(tree.path('bus', 'pci', 'devices')) == [
        '0000:00:02.0']


def test_write_to_a_plain_file_is_refused(tree):
    attr = tree.path('bus', 'pci', 'devices', '0000:00:02.0',
                     'migration_version')
    with pytest.raises(exception.UnsafeWrite) as e:
        tree.write_migration_version(attr, 'i915-v2')
    assert 'not sysfs or FUSE' in str(e.value)
    with open(attr) as f:
        assert f.read() == 'i915-v1\n'


def test_write_to_other_attributes_is_refused(tree):
    attr = tree.path('bus', 'pci', 'devices', '0000:00:02.0', 'vendor')
    with pytest.raises(exception.UnsafeWrite) as e:
        tree.write_migration_version(attr, '0x1234')
    assert 'not a migration_version attribute' in str(e.value)


def test_write_through_a_link_named_migration_version(tree, tmp_path):
    dev = tree.path('devices', 'pci0000:00', '0000:00:02.0')
    os.mkdir(os.path.join(dev, 'sub'))
    os.symlink('../vendor', os.path.join(dev, 'sub', 'migration_version'))
    with pytest.raises(exception.UnsafeWrite) as e:
        tree.write_migration_version(
            os.path.join(dev, 'sub', 'migration_version'), 'x')
    assert 'resolves to' in str(e.value)


def test_mountinfo_parses_escaped_mount_points(tmp_path):
    info = tmp_path / 'mountinfo'
    info.write_text(
        '22 1 0:21 / / rw - ext4 /dev/vda rw\n'
        '30 22 0:52 / /tmp/my\\040sys rw,nosuid - fuse.mfs mfs rw\n'
        '31 22 0:22 / /sys rw shared:7 - sysfs sysfs rw\n')
    mounts = sysfs_mod.read_mountinfo(str(info))
    mount = mounts[os.makedev(0, 52)]
    assert (mount.mountpoint, mount.fstype) == ('/tmp/my sys', 'fuse.mfs')
    assert mount.dev == os.makedev(0, 52)
    assert sysfs_mod.writable_fstype(mount.fstype)
    assert mounts[os.makedev(0, 22)].fstype == 'sysfs'
    assert mounts[os.makedev(0, 21)].fstype == 'ext4'
    assert not sysfs_mod.writable_fstype('ext4')
    assert not sysfs_mod.writable_fstype('fusectl')


def test_mountinfo_with_a_mount_point_that_is_not_utf8():
    # Any local user can make such a mount (fusermount3): it must not stop
    # the parse, nor the other mounts from being found.
    data = (b'22 1 0:21 / / rw - ext4 /dev/vda rw\n'
            b'40 22 0:60 / /tmp/\xff\xfe\\040x rw - fuse.evil evil rw\n'
            b'31 22 0:22 / /sys rw - sysfs sysfs rw\n'
            b'garbage\n')
    mounts = sysfs_mod.read_mountinfo(data)
    assert mounts[os.makedev(0, 22)].fstype == 'sysfs'
    evil = mounts[os.makedev(0, 60)]
    assert os.fsencode(evil.mountpoint) == b'/tmp/\xff\xfe x'
    assert evil.fstype == 'fuse.evil'
