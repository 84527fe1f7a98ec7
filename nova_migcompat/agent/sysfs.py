"""The one place that knows the sysfs layout and how to use it safely.

The kernel layout (every path relative to the configured root)::

    class/mdev_bus/<parent>                 -> the parent device's directory
        mdev_supported_types/<type>/        name, device_api,
                                            available_instances,
                                            migration_version
    bus/mdev/devices/<uuid>                 -> <parent dir>/<uuid>
        mdev_type                           -> the type's directory
        migration_version
    bus/pci/devices/<address>               -> the function's directory
        vendor, device, physfn, migration_version
        driver                              -> bus/pci/drivers/<driver>
            module                          -> module/<module>
    module/<module>/version

Device sources ask :class:`Sysfs` for these facts and never build a path
of their own.  Every path is confined to the root: links are resolved, and
one that leads out of the root raises
:class:`~nova_migcompat.exception.OutsideRoot` instead of being followed.
Reads are bounded.  The only write is
:meth:`Sysfs.write_migration_version`, which refuses anything that is not
a ``migration_version`` attribute on a sysfs or FUSE file system.
"""

import errno
import os
import re
import stat

from nova_migcompat import compat_string
from nova_migcompat import exception


ATTRIBUTE = 'migration_version'

_MDEV_BUS = ('class', 'mdev_bus')
_MDEV_DEVICES = ('bus', 'mdev', 'devices')
_PCI_DEVICES = ('bus', 'pci', 'devices')
_MODULES = 'module'
_MDEV_TYPES = 'mdev_supported_types'
_MDEV_TYPE_LINK = 'mdev_type'
_DRIVER_LINK = 'driver'
_MODULE_LINK = 'module'
_PHYSFN_LINK = 'physfn'
_MODULE_VERSION = 'version'
#: PCI function attributes: the facts of a device.
_PCI_IDS = ('vendor', 'device')
#: mdev type attributes, and the facts they become.
_MDEV_TYPE_FACTS = (('name', 'type_name'), ('device_api', 'device_api'),
                    ('available_instances', 'available_instances'))

#: File systems a migration_version attribute may live on.
WRITABLE_FSTYPES = ('sysfs', 'fuse')

# sysfs attributes other than migration_version are short (ids, names,
# versions); anything longer is not what we expect to read.
SMALL_ATTR_BYTES = 256
# Large SR-IOV hosts list thousands of PCI functions.
_MAX_ENTRIES = 65536
_OCTAL_ESCAPE = re.compile(r'\\([0-7]{3})')


def errno_name(number):
    return errno.errorcode.get(number, str(number))


class Mount(object):
    def __init__(self, mountpoint, fstype, dev):
        self.mountpoint = mountpoint
        self.fstype = fstype
        self.dev = dev


def _unescape(field):
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def mount_of(path, mountinfo='/proc/self/mountinfo'):
    """Return the :class:`Mount` that ``path`` (already resolved) is on."""
    best = None
    with open(mountinfo) as f:
        for line in f:
            fields = line.split()
            sep = fields.index('-')
            mountpoint = _unescape(fields[4])
            major, minor = fields[2].split(':')
            fstype = fields[sep + 1]
            inside = (path == mountpoint or mountpoint == '/' or
                      path.startswith(mountpoint + '/'))
            # Later lines win on equal mount points: they are mounted on top.
            if inside and (best is None or
                           len(mountpoint) >= len(best.mountpoint)):
                best = Mount(mountpoint, fstype,
                             os.makedev(int(major), int(minor)))
    return best


def writable_fstype(fstype):
    base = fstype.split('.', 1)[0]
    return base in WRITABLE_FSTYPES


class Sysfs(object):
    """A sysfs tree under ``root`` (``/sys`` in production)."""

    def __init__(self, root):
        self.root = os.path.realpath(root)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def relative(self, path):
        """``path`` as shown to people: relative to the root, with a /."""
        rel = os.path.relpath(path, self.root)
        return '/' + rel if rel != '.' else '/'

    def resolve(self, path):
        """Resolve every link in ``path``; refuse to leave the root."""
        real = os.path.realpath(path)
        if real != self.root and not real.startswith(self.root + os.sep):
            raise exception.OutsideRoot(
                self.relative(path),
                'resolves to %s, outside the sysfs root %s'
                % (real, self.root))
        return real

    def listdir(self, path):
        """Sorted entries of a directory; [] if it does not exist."""
        try:
            names = os.listdir(self.resolve(path))
        except FileNotFoundError:
            return []
        except NotADirectoryError:
            raise exception.SysfsError(self.relative(path),
                                       'not a directory')
        except OSError as e:
            raise exception.SysfsError(self.relative(path),
                                       'cannot list: %s' % errno_name(e.errno))
        if len(names) > _MAX_ENTRIES:
            raise exception.SysfsError(
                self.relative(path),
                '%d entries, more than the %d expected'
                % (len(names), _MAX_ENTRIES))
        return sorted(names)

    def read_bytes(self, path, limit):
        """Read at most ``limit`` bytes of an attribute.

        :raises SysfsError: unreadable, not a regular file, or longer than
            ``limit``.
        """
        where = self.relative(path)
        real = self.resolve(path)
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC |
                         os.O_NONBLOCK)
        except OSError as e:
            raise exception.SysfsError(where, 'cannot open: %s'
                                       % errno_name(e.errno))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise exception.SysfsError(where, 'not an attribute file')
            chunks, size = [], 0
            while size <= limit:
                chunk = os.read(fd, limit + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except OSError as e:
            raise exception.SysfsError(where, 'cannot read: %s'
                                       % errno_name(e.errno))
        finally:
            os.close(fd)
        data = b''.join(chunks)
        if len(data) > limit:
            raise exception.SysfsError(where, 'longer than %d bytes' % limit)
        return data

    def read_text(self, path, limit=SMALL_ATTR_BYTES):
        """A short ASCII attribute, surrounding white space stripped."""
        data = self.read_bytes(path, limit)
        try:
            return data.decode('ascii').strip()
        except UnicodeDecodeError:
            raise exception.SysfsError(self.relative(path),
                                       'not ASCII text')

    def read_optional(self, path, limit=SMALL_ATTR_BYTES):
        """Like :meth:`read_text`, but None if the attribute is absent."""
        if not os.path.lexists(path):
            return None
        return self.read_text(path, limit)

    def read_compat_string(self, path):
        """Read and validate a migration_version attribute."""
        data = self.read_bytes(path, compat_string.MAX_BYTES + 1)
        return compat_string.from_bytes(data, self.relative(path))

    def link_name(self, path):
        """The last component of where a link leads (inside the root)."""
        if not os.path.islink(path):
            return None
        return os.path.basename(self.resolve(path))

    # The kernel layout -------------------------------------------------
    # A listing that fails raises: "no devices" would withdraw every
    # published trait on the strength of a failed read.

    def mdev_parents(self):
        """The names of the mdev parent devices (``class/mdev_bus``)."""
        return self.listdir(self.path(*_MDEV_BUS))

    def mdev_parent_link(self, parent):
        """The path (a link) of an mdev parent device, by name."""
        return self.path(*(_MDEV_BUS + (parent,)))

    def mdev_type_names(self, parent_dir):
        """The mdev types a parent device (its resolved directory) offers."""
        return self.listdir(os.path.join(parent_dir, _MDEV_TYPES))

    def mdev_type_path(self, parent_dir, type_name):
        """The directory of one mdev type of a parent device."""
        return os.path.join(parent_dir, _MDEV_TYPES, type_name)

    def mdev_type_facts(self, type_dir):
        """``type_name``, ``device_api``, ``available_instances`` of a type.

        Absent attributes are left out.
        """
        facts = {}
        for attr, key in _MDEV_TYPE_FACTS:
            value = self.read_optional(os.path.join(type_dir, attr))
            if value is not None:
                facts[key] = value
        return facts

    def mdev_uuids(self):
        """The uuids of the mdev instances (``bus/mdev/devices``)."""
        return self.listdir(self.path(*_MDEV_DEVICES))

    def mdev_link(self, uuid):
        """The path (a link) of an mdev instance, by uuid."""
        return self.path(*(_MDEV_DEVICES + (uuid,)))

    def mdev_parent(self, mdev_dir):
        """``(name, directory)`` of the parent of an mdev (resolved dir)."""
        parent_dir = os.path.dirname(mdev_dir)
        return os.path.basename(parent_dir), parent_dir

    def mdev_type_of(self, mdev_dir):
        """``(type name, type directory)`` of an mdev, or (None, None)."""
        link = os.path.join(mdev_dir, _MDEV_TYPE_LINK)
        name = self.link_name(link)
        if name is None:
            return None, None
        return name, self.resolve(link)

    def pci_addresses(self):
        """The addresses of the PCI functions (``bus/pci/devices``)."""
        return self.listdir(self.path(*_PCI_DEVICES))

    def pci_function_link(self, address):
        """The path (a link) of a PCI function, by address."""
        return self.path(*(_PCI_DEVICES + (address,)))

    def physfn(self, dev_dir):
        """The address of the PF of a VF; None for other functions."""
        return self.link_name(os.path.join(dev_dir, _PHYSFN_LINK))

    def pci_ids(self, dev_dir):
        """``{'vendor': '0x10de', 'device': '0x1eb8'}``, as far as known."""
        ids = {}
        for attr in _PCI_IDS:
            value = self.read_optional(os.path.join(dev_dir, attr))
            if value is not None:
                ids[attr] = value
        return ids

    def driver(self, dev_dir):
        """The name of the driver a device is bound to, or None."""
        return self.link_name(os.path.join(dev_dir, _DRIVER_LINK))

    def driver_version(self, dev_dir):
        """The version of the bound driver's module, or None.

        The module is the driver's ``module`` link, or the driver's name
        with ``-`` as ``_`` (built-in drivers have no link).
        """
        link = os.path.join(dev_dir, _DRIVER_LINK)
        driver = self.link_name(link)
        if driver is None:
            return None
        module = (self.link_name(os.path.join(self.resolve(link),
                                              _MODULE_LINK)) or
                  driver.replace('-', '_'))
        return self.read_optional(self.path(_MODULES, module,
                                            _MODULE_VERSION))

    def migration_version(self, dev_dir):
        """The device's ``migration_version``: ``(path, writable)`` or None.

        ``writable`` is False for an attribute without write permission
        bits: a kernel that shows its string but takes no writes (the
        August 2020 ``self``/``compatible`` revision of the interface).
        """
        path = os.path.join(dev_dir, ATTRIBUTE)
        if not os.path.lexists(path):
            return None
        try:
            mode = os.stat(self.resolve(path)).st_mode
        except OSError as e:
            raise exception.SysfsError(self.relative(path), 'cannot stat: %s'
                                       % errno_name(e.errno))
        return path, bool(mode & 0o222)

    # The one write -----------------------------------------------------

    def write_migration_version(self, path, text):
        """Write ``text`` into a ``migration_version`` attribute.

        The kernel's answer comes back as the ``OSError`` of ``os.write``
        (``EINVAL``: the device does not accept the string).

        :raises UnsafeWrite: ``path`` is not a migration_version attribute
            on a sysfs or FUSE mount inside the root.
        """
        where = self.relative(path)
        if os.path.basename(path) != ATTRIBUTE:
            raise exception.UnsafeWrite(where, 'not a %s attribute'
                                        % ATTRIBUTE)
        real = self.resolve(path)
        if os.path.basename(real) != ATTRIBUTE:
            raise exception.UnsafeWrite(where, 'resolves to %s, not a %s '
                                        'attribute' % (real, ATTRIBUTE))
        mount = mount_of(real)
        if mount is None or not writable_fstype(mount.fstype):
            raise exception.UnsafeWrite(
                where, 'on a %s file system, not sysfs or FUSE: refusing to '
                'write' % (mount.fstype if mount else 'unknown'))
        data = compat_string.validate(text, where).encode('ascii')
        fd = os.open(real, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC |
                     os.O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_dev != mount.dev:
                raise exception.UnsafeWrite(
                    where, 'changed under us: not an attribute of the %s '
                    'mount at %s' % (mount.fstype, mount.mountpoint))
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.EIO, 'short write: %d of %d bytes'
                              % (written, len(data)))
        finally:
            os.close(fd)
