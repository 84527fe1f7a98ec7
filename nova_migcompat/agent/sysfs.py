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
    kernel/debug/vfio/<device>/             debugfs (6.8+, where mounted):
        migration/features                  a VFIO device; migration/ only
                                            if its driver migrates;
                                            features (6.18) one a line

Device sources ask :class:`Sysfs` for these facts and never build a path
of their own.  Every path is confined to the root: links are resolved, and
one that leads out of the root raises
:class:`~nova_migcompat.exception.OutsideRoot` instead of being followed.
Reads are bounded.  The only write is
:meth:`Sysfs.write_migration_version`, which refuses anything that is not
a ``migration_version`` attribute on a sysfs or FUSE file system.

What is opened is what was checked: an attribute is opened without
following a link at its last component, and ``/proc/self/fd`` must name
the resolved path (a directory swapped for a link in between is refused).
A ``migration_version`` is read and written only as a regular file of that
name, never through a link.  The mount table is parsed as bytes once per
cycle (:meth:`Sysfs.check_root`, at the start of discovery, which also
refuses a root that is not a mounted sysfs), and mounts are found by
device number.
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
_DEBUGFS_VFIO = ('kernel', 'debug', 'vfio')
_MIGRATION_DIR = 'migration'
_FEATURES = 'features'
#: What every VFIO migration driver implements (VFIO_MIGRATION_STOP_COPY
#: is mandatory): a device whose migration directory predates the
#: features file (6.8 to 6.17) has it.
STOP_COPY = 'stop-copy'
_FEATURE = re.compile(r'[a-z][a-z0-9-]{0,31}\Z')
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
_OCTAL_ESCAPE = re.compile(rb'\\([0-3][0-7]{2})')
MOUNTINFO = '/proc/self/mountinfo'
#: The top directories of the layout: a root with neither is not a sysfs.
_TOP_DIRS = ('bus', 'class')
#: The directories discovery lists: one gone during a cycle is a tree
#: that went away, not a host without devices.
_LISTED = (_MDEV_BUS, _MDEV_DEVICES, _PCI_DEVICES)


def errno_name(number):
    return errno.errorcode.get(number, str(number))


_ESCAPES = {'\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\'}


def printable(text):
    """A name from the tree as it may be shown: in logs, on terminals.

    Entry names are the kernel's (or whoever made the tree): a newline
    would forge log lines, an ESC sequence rewrite a terminal.  Printable
    ASCII is kept; anything else is escaped (``\\n``, ``\\x1b``,
    ``\\u00e9``), so a real device's name (a PCI address, a uuid, a type
    name) is unchanged and a hostile one never matches a real one.
    """
    if all(' ' <= c <= '~' and c != '\\' for c in text):
        return text
    out = []
    for c in text:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif ' ' <= c <= '~':
            out.append(c)
        elif ord(c) < 0x100:
            out.append('\\x%02x' % ord(c))
        else:
            out.append('\\u%04x' % ord(c) if ord(c) < 0x10000
                       else '\\U%08x' % ord(c))
    return ''.join(out)


class Mount(object):
    def __init__(self, mountpoint, fstype, dev):
        #: The mount point, as a str (undecodable bytes surrogate-escaped).
        self.mountpoint = mountpoint
        self.fstype = fstype
        self.dev = dev


def _unescape(field):
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    return _OCTAL_ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), field)


def parse_mountinfo(data):
    """``{device number: Mount}`` of the bytes of a mountinfo file.

    Parsed as bytes: a mount point need not be UTF-8 (any local user can
    make one with fusermount3), and must not stop the parse.  Lines that
    do not parse are skipped.  Later lines win: they are mounted on top.
    """
    mounts = {}
    for line in data.split(b'\n'):
        fields = line.split(b' ')
        try:
            sep = fields.index(b'-', 6)
            major, minor = fields[2].split(b':')
            dev = os.makedev(int(major), int(minor))
            fstype = fields[sep + 1].decode('ascii')
        except (ValueError, IndexError, UnicodeDecodeError):
            continue
        mounts[dev] = Mount(os.fsdecode(_unescape(fields[4])), fstype, dev)
    return mounts


def read_mountinfo(source=MOUNTINFO):
    """:func:`parse_mountinfo` of a file (a path) or of bytes."""
    if isinstance(source, bytes):
        return parse_mountinfo(source)
    with open(source, 'rb') as f:
        return parse_mountinfo(f.read())


def writable_fstype(fstype):
    base = fstype.split('.', 1)[0]
    return base in WRITABLE_FSTYPES


class Sysfs(object):
    """A sysfs tree under ``root`` (``/sys`` in production)."""

    def __init__(self, root):
        self.root = os.path.realpath(root)
        #: ``{device number: Mount}``, read by :meth:`load_mounts`.
        self._mounts = None
        #: What :meth:`check_root` saw: ``(device, inode, fstype, top
        #: directories present)``.
        self._seen = None

    # Mounts and the root ----------------------------------------------

    def load_mounts(self, mountinfo=MOUNTINFO):
        """Read the mount table (a path, or its bytes); once per cycle.

        The write checks of the cycle look mounts up by device number in
        this table instead of reading it for every write.
        """
        self._mounts = read_mountinfo(mountinfo)
        return self._mounts

    def writable_mount(self, dev):
        """The sysfs or FUSE :class:`Mount` of device number ``dev``.

        None when ``dev`` is on no such mount (or on none we know of).
        """
        if self._mounts is None:
            self.load_mounts()
        mount = self._mounts.get(dev)
        if mount is None or not writable_fstype(mount.fstype):
            return None
        return mount

    def check_root(self, mountinfo=MOUNTINFO):
        """Refuse a root that cannot be the sysfs: before each discovery.

        Reads the mount table for the cycle (:meth:`load_mounts`).  An
        unmounted or mistyped root would otherwise look like a host
        without devices, and withdraw every published trait.

        :raises SysfsRootError: the root is not a directory on a sysfs or
            FUSE mount, or has neither a ``bus`` nor a ``class`` directory.
        """
        self.load_mounts(mountinfo)
        try:
            st = os.stat(self.root)
        except OSError as e:
            raise exception.SysfsRootError(
                self.root, 'sysfs root cannot be read: %s'
                % errno_name(e.errno))
        if not stat.S_ISDIR(st.st_mode):
            raise exception.SysfsRootError(self.root,
                                           'sysfs root is not a directory')
        if self.writable_mount(st.st_dev) is None:
            mount = self._mounts.get(st.st_dev)
            raise exception.SysfsRootError(
                self.root, 'sysfs root is on a %s file system, not on a '
                'sysfs or FUSE mount: is it mounted, and is '
                '[migcompat]sysfs_root right?'
                % (mount.fstype if mount else 'unknown'))
        present = self._layout_dirs()
        if not any(name in present for name in _TOP_DIRS):
            raise exception.SysfsRootError(
                self.root, 'sysfs root has no %s directory: not the top of '
                'a sysfs tree; is [migcompat]sysfs_root right?'
                % ' or '.join(_TOP_DIRS))
        self._seen = (st.st_dev, st.st_ino,
                      self._mounts[st.st_dev].fstype, present)

    def _layout_dirs(self):
        """The directories of the layout that exist (relative paths)."""
        present = set()
        for parts in tuple((name,) for name in _TOP_DIRS) + _LISTED:
            try:
                if stat.S_ISDIR(os.lstat(self.path(*parts)).st_mode):
                    present.add(os.path.join(*parts))
            except FileNotFoundError:
                continue
            except OSError as e:
                raise exception.SysfsRootError(
                    self.root, 'sysfs root: cannot look at %s: %s'
                    % (os.path.join(*parts), errno_name(e.errno)))
        return frozenset(present)

    def confirm_root(self):
        """The root is still the tree :meth:`check_root` saw.

        After discovery, and again before anything is published: a tree
        unmounted (even lazily) or replaced while a cycle reads it, or a
        directory of the layout gone since (which reads as an empty
        listing), would look like a host whose devices went away.

        :raises SysfsRootError: it is not (the cycle fails, withdrawing
            nothing).
        """
        if self._seen is None:
            raise exception.SysfsRootError(self.root, 'sysfs root was '
                                           'never checked')
        dev, ino, fstype, present = self._seen
        try:
            st = os.stat(self.root)
        except OSError as e:
            raise exception.SysfsRootError(
                self.root, 'sysfs root went away during the cycle: %s'
                % errno_name(e.errno))
        # A mount has a device number of its own: another number (or
        # inode) is another tree, or the directory under an unmounted one.
        if (st.st_dev, st.st_ino) != (dev, ino):
            raise exception.SysfsRootError(
                self.root, 'sysfs root changed during the cycle (the %s '
                'mount it was is gone: unmounted or replaced); nothing is '
                'withdrawn' % fstype)
        gone = sorted(present - self._layout_dirs())
        if gone:
            raise exception.SysfsRootError(
                self.root, 'sysfs root: %s went away during the cycle; '
                'nothing is withdrawn' % ', '.join(gone))

    # Paths -------------------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def relative(self, path):
        """``path`` as shown to people: relative to the root, with a /.

        Escaped (:func:`printable`): entry names are not to be trusted.
        """
        rel = os.path.relpath(path, self.root)
        return printable('/' + rel if rel != '.' else '/')

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

    def _open(self, path, flags, error=exception.SysfsError,
              follow_last=True):
        """Open an attribute: ``(fd, resolved path, fstat)``.

        Links are resolved inside the root first (:meth:`resolve`); then the
        resolved path is opened without following a link at its last
        component, and what was opened must be that path, a regular file:
        a directory swapped for a link between the two (a race) leads the
        open elsewhere, and is caught here instead of being read or written.
        With ``follow_last`` False, ``path`` itself must not be a link.

        :raises OSError: the open failed (the caller says what it means).
        :raises error: what was opened is not the attribute.
        """
        where = self.relative(path)
        if follow_last:
            real = self.resolve(path)
        else:
            real = os.path.join(self.resolve(os.path.dirname(path)),
                                os.path.basename(path))
        try:
            fd = os.open(real, flags | os.O_NOFOLLOW | os.O_CLOEXEC |
                         os.O_NONBLOCK)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise error(where, 'is a link, not an attribute file')
            raise
        try:
            try:
                opened = os.readlink('/proc/self/fd/%d' % fd)
                st = os.fstat(fd)
            except OSError as e:
                raise error(where, 'cannot tell what was opened: %s'
                            % errno_name(e.errno))
            if opened != real:
                raise error(where, 'changed while being opened: opened %s, '
                            'not %s' % (opened, real))
            if not stat.S_ISREG(st.st_mode):
                raise error(where, 'not an attribute file')
        except BaseException:
            os.close(fd)
            raise
        return fd, real, st

    def read_bytes(self, path, limit, follow_last=True):
        """Read at most ``limit`` bytes of an attribute.

        :raises SysfsError: unreadable, not a regular file, or longer than
            ``limit``.
        """
        where = self.relative(path)
        try:
            fd, _real, _st = self._open(path, os.O_RDONLY,
                                        follow_last=follow_last)
        except OSError as e:
            raise exception.SysfsError(where, 'cannot open: %s'
                                       % errno_name(e.errno))
        try:
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
        """A short ASCII attribute, surrounding white space stripped.

        Control characters inside are escaped (:func:`printable`).
        """
        data = self.read_bytes(path, limit)
        try:
            return printable(data.decode('ascii').strip())
        except UnicodeDecodeError:
            raise exception.SysfsError(self.relative(path),
                                       'not ASCII text')

    def read_optional(self, path, limit=SMALL_ATTR_BYTES):
        """Like :meth:`read_text`, but None if the attribute is absent."""
        if not os.path.lexists(path):
            return None
        return self.read_text(path, limit)

    def read_compat_string(self, path):
        """Read and validate a migration_version attribute.

        Only a regular file named ``migration_version`` is read: not a link
        (to a module's ``version``, to another device's attribute).
        """
        if os.path.basename(path) != ATTRIBUTE:
            raise exception.SysfsError(self.relative(path), 'not a %s '
                                       'attribute' % ATTRIBUTE)
        data = self.read_bytes(path, compat_string.MAX_BYTES + 1,
                               follow_last=False)
        return compat_string.from_bytes(data, self.relative(path))

    def link_name(self, path):
        """The last component of where a link leads (inside the root).

        Escaped (:func:`printable`): a name to show and compare, not to
        build a path with.
        """
        if not os.path.islink(path):
            return None
        return printable(os.path.basename(self.resolve(path)))

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
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return None
        except OSError as e:
            raise exception.SysfsError(self.relative(path), 'cannot stat: %s'
                                       % errno_name(e.errno))
        if stat.S_ISLNK(mode):
            # A link (to a module's version, another device's attribute)
            # is not this device's string.
            raise exception.SysfsError(self.relative(path),
                                       'is a link, not an attribute file')
        if not stat.S_ISREG(mode):
            raise exception.SysfsError(self.relative(path),
                                       'not an attribute file')
        return path, bool(mode & 0o222)

    def vfio_migration(self, name):
        """What debugfs says of the migration of VFIO device ``name``.

        ``name`` is the device's name (a PCI address, an mdev uuid).
        Returns None when debugfs cannot tell: no ``kernel/debug/vfio``
        (debugfs not mounted, a kernel before 6.8 or without
        ``CONFIG_VFIO_DEBUGFS``), or no entry for the device (not bound
        to a VFIO driver).  Else the features its driver supports: the
        tokens of ``migration/features`` (6.18: ``stop-copy``, ``p2p``,
        ``pre-copy``, ``dirty-tracking``), ``{'stop-copy'}`` for a
        ``migration`` directory without that file, and an empty set when
        the device has no ``migration`` directory: its driver cannot
        migrate.

        :raises SysfsError: debugfs holds something else than expected.
        """
        vfio = self.path(*_DEBUGFS_VFIO)
        if not os.path.isdir(vfio) or '/' in name or name in ('.', '..'):
            return None
        device = os.path.join(vfio, name)
        if not os.path.lexists(device):
            return None
        if not os.path.isdir(self.resolve(device)):
            raise exception.SysfsError(self.relative(device),
                                       'not a directory')
        migration = os.path.join(device, _MIGRATION_DIR)
        if not os.path.lexists(migration):
            return frozenset()
        features = os.path.join(migration, _FEATURES)
        if not os.path.lexists(features):
            return frozenset([STOP_COPY])
        try:
            tokens = self.read_bytes(features, SMALL_ATTR_BYTES).decode(
                'ascii').split()
        except UnicodeDecodeError:
            raise exception.SysfsError(self.relative(features),
                                       'not ASCII text')
        bad = [t for t in tokens if not _FEATURE.match(t)]
        if bad:
            raise exception.SysfsError(self.relative(features),
                                       'not a feature: %r'
                                       % printable(bad[0][:40]))
        return frozenset(tokens)

    # The one write -----------------------------------------------------

    def write_migration_version(self, path, text):
        """Write ``text`` into a ``migration_version`` attribute.

        The kernel's answer comes back as the ``OSError`` of ``os.write``
        (``EINVAL``: the device does not accept the string).  Mounts are
        looked up in the table of the cycle (:meth:`load_mounts`), by the
        device number of the file.

        :raises UnsafeWrite: ``path`` is not a migration_version attribute
            (a regular file, not a link) on a sysfs or FUSE mount inside the
            root, or what was opened is not that file.
        """
        where = self.relative(path)
        if os.path.basename(path) != ATTRIBUTE:
            raise exception.UnsafeWrite(where, 'not a %s attribute'
                                        % ATTRIBUTE)
        real = self.resolve(path)
        if os.path.basename(real) != ATTRIBUTE:
            raise exception.UnsafeWrite(where, 'resolves to %s, not a %s '
                                        'attribute' % (real, ATTRIBUTE))
        own = os.path.join(self.resolve(os.path.dirname(path)), ATTRIBUTE)
        if real != own:
            raise exception.UnsafeWrite(where, 'is a link to %s, not an '
                                        'attribute file' % real)
        data = compat_string.validate(text, where).encode('ascii')
        # Nothing that is not on sysfs or FUSE is even opened for writing.
        try:
            dev = os.lstat(real).st_dev
        except OSError as e:
            raise exception.UnsafeWrite(where, 'cannot stat: %s'
                                        % errno_name(e.errno))
        self._writable_mount_of(where, dev)
        fd, _real, st = self._open(path, os.O_WRONLY,
                                   error=exception.UnsafeWrite,
                                   follow_last=False)
        try:
            if st.st_dev != dev:
                raise exception.UnsafeWrite(
                    where, 'changed while being opened: on device %d:%d, '
                    'not %d:%d' % (os.major(st.st_dev), os.minor(st.st_dev),
                                   os.major(dev), os.minor(dev)))
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.EIO, 'short write: %d of %d bytes'
                              % (written, len(data)))
        finally:
            os.close(fd)

    def _writable_mount_of(self, where, dev):
        mount = self.writable_mount(dev)
        if mount is None:
            known = self._mounts.get(dev)
            raise exception.UnsafeWrite(
                where, 'on a %s file system, not sysfs or FUSE: refusing to '
                'write' % (known.fstype if known else 'unknown'))
        return mount
