"""The sysfs device source: mdev types, mdev instances and PCI functions.

Discovery asks :class:`~nova_migcompat.agent.sysfs.Sysfs` (the one place
that knows the kernel layout) for mdev types, mdev instances and PCI
functions and their ``migration_version`` attributes.  A device without
the attribute gets a synthesized descriptor (see
:mod:`nova_migcompat.agent.descriptor`) when ``synthesize_descriptors`` is
on.

The target-side check:

* a writable ``migration_version``: the string is written into it and the
  errno of the write answers (success: accepts; ``EINVAL``, the driver's
  refusal: refuses; any other errno, transient or our own fault:
  unknown, see :func:`classify`);
* a read-only ``migration_version`` (the ``self``/``compatible`` revision
  of the interface, where userspace does the matching) or a synthesized
  descriptor: the acceptance policy of the string's format decides
  (:func:`nova_migcompat.policies.decide`); nothing is written.

Every kernel read of a device's attributes and every write runs under
``[migcompat]device_timeout`` (:mod:`nova_migcompat.agent.deadline`): a
device that does not answer in time is unknown for the rest of the cycle
(no other string is tried on it), and for as long as its call hangs.
"""

import errno
import fnmatch
import platform

from oslo_log import log as logging

from nova_migcompat.agent import deadline
from nova_migcompat.agent import descriptor
from nova_migcompat.agent import device as device_mod
from nova_migcompat.agent import libvirt_domains
from nova_migcompat.agent import source as sources
from nova_migcompat.agent import sysfs as sysfs_mod
from nova_migcompat.agent import verdict as verdict_mod
from nova_migcompat import exception
from nova_migcompat import policies

LOG = logging.getLogger(__name__)

DEFAULT_DEVICE_API = 'vfio-pci'

#: Try again next cycle: the device is busy, or went away while we looked.
TRANSIENT_ERRNOS = frozenset([
    errno.EBUSY, errno.EAGAIN, errno.EINTR, errno.EIO, errno.ENOENT,
    errno.ENODEV, errno.ENXIO, errno.ETIMEDOUT])
#: Our own fault (not root, read-only mount): says nothing about the device.
PERMISSION_ERRNOS = frozenset([errno.EACCES, errno.EPERM, errno.EROFS])
#: The driver's answer "does not accept this string": the only errnos of
#: the write that refuse.  EINVAL is the answer of the migration_version
#: proposal for an incompatible string; any other errno (EMFILE, ENOSPC,
#: ELOOP, EISDIR, EBADF, ...) may be our own or the host's fault, and says
#: nothing about the device: unknown.
REFUSING_ERRNOS = frozenset([errno.EINVAL])


def classify(number):
    """The verdict result of a migration_version write failing with errno.

    REFUSES only for a driver's refusal (:data:`REFUSING_ERRNOS`); every
    other errno is UNKNOWN: a fault must never become an answer.
    """
    if number in REFUSING_ERRNOS:
        return verdict_mod.REFUSES
    return verdict_mod.UNKNOWN


def _hex_id(text):
    if text is None:
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


class SysfsDeviceSource(sources.DeviceSource):
    name = 'sysfs'

    def __init__(self, conf):
        super().__init__(conf)
        self.sysfs = sysfs_mod.Sysfs(conf.migcompat.sysfs_root)
        self.synthesize = conf.migcompat.synthesize_descriptors
        self.pci_drivers = conf.migcompat.synthesis_pci_drivers
        self.timeout = conf.migcompat.device_timeout
        self.domains_dir = conf.migcompat.libvirt_domains_dir
        #: Devices (paths) that overran their deadline since the last
        #: discovery: unknown without another try until the next cycle.
        self._overran = set()

    @staticmethod
    def _key(dev):
        """Whose driver answers a device's calls: one worker each.

        The types of an mdev parent are answered by the parent's driver:
        they share its worker (a host with thousands of types has one
        thread per parent, and a parent that hangs makes all its types
        unknown at once); mdevs and PCI functions have their own.
        """
        if dev.kind == device_mod.MDEV_TYPE and dev.parent is not None:
            return 'mdev parent %s' % dev.parent
        return dev.path

    def _device_call(self, dev, fn, *args):
        """``fn(*args)`` for ``dev`` within the deadline (see the module).

        :raises DeadlineExceeded: the call overran, or an earlier call of
            the device still hangs.
        """
        key = self._key(dev)
        try:
            return deadline.call(key, self.timeout, fn, *args)
        except exception.DeadlineExceeded as e:
            if key not in self._overran:
                self._overran.add(key)
                LOG.error('Device %s (%s) does not answer: %s', dev.name,
                          self.sysfs.relative(dev.path), e.reason)
            raise

    # Discovery ---------------------------------------------------------

    def discover(self):
        # An unmounted or mistyped root fails the cycle; reads the mount
        # table for this cycle's write checks.
        self.sysfs.check_root()
        self._overran = set()
        devices = []
        devices.extend(self._mdev_types())
        devices.extend(self._mdevs())
        devices.extend(self._pci_functions())
        # A tree that went away while it was listed reads as empty
        # listings: the cycle fails instead.
        self.sysfs.confirm_root()
        holders = libvirt_domains.holders(self.domains_dir)
        for dev in devices:
            if dev.kind == device_mod.MDEV:
                dev.instance = holders.get((libvirt_domains.MDEV, dev.name))
            elif dev.kind == device_mod.PCI:
                dev.instance = holders.get((libvirt_domains.PCI, dev.name))
        for dev in devices:
            if dev.error:
                LOG.error('Device %s (%s): %s', dev.name,
                          self.sysfs.relative(dev.path), dev.error)
        return devices

    def confirm(self):
        self.sysfs.confirm_root()

    def _pci_facts(self, dev_dir):
        s = self.sysfs
        facts = s.pci_ids(dev_dir)
        driver = s.driver(dev_dir)
        if driver:
            facts['driver'] = driver
            version = s.driver_version(dev_dir)
            if version:
                facts['driver_version'] = version
        return facts

    def _string(self, dev_dir, facts, device_api, mdev_type):
        """``(string, origin, writable attribute or None)`` of a device."""
        attr = self.sysfs.migration_version(dev_dir)
        if attr is not None:
            path, writable = attr
            string = self.sysfs.read_compat_string(path)
            if writable:
                return string, device_mod.FROM_ATTRIBUTE, path
            return string, device_mod.FROM_READONLY, None
        if self.synthesize and facts.get('driver'):
            return descriptor.synthesize(
                device_api, facts['driver'], facts.get('driver_version'),
                _hex_id(facts.get('vendor')), _hex_id(facts.get('device')),
                mdev_type, kernel_release=platform.release()), \
                device_mod.FROM_SYNTHESIS, None
        return None, None, None

    @staticmethod
    def _apply(dev, facts, described):
        dev.facts = facts
        dev.string, dev.origin, dev.attribute = described
        features = facts.get('migration_features')
        if features is not None and sysfs_mod.STOP_COPY not in \
                features.split(','):
            dev.unmigratable = (
                'debugfs vfio/%s has no migration directory: its VFIO '
                'driver cannot migrate it' % dev.name if not features else
                'its VFIO driver migrates without stop-copy (debugfs '
                'migration/features: %s)' % features)
            dev.string = dev.origin = dev.attribute = None
        return dev

    def _migration_facts(self, facts, name):
        """Add debugfs's migration features (when it tells) to facts."""
        features = self.sysfs.vfio_migration(name)
        if features is not None:
            facts['migration_features'] = ','.join(sorted(features))
        return facts

    # Every read of a device's attributes (drivers answer them: one may
    # hang) runs in one call per device under its deadline; the call
    # returns what it read, and only a call that answered in time is
    # applied (a late answer changes nothing).  Resolving links inside the
    # root (no driver involved) is done before, to key the call by the
    # device's own directory.

    def _mdev_types(self):
        s = self.sysfs
        devices = []
        for parent in s.mdev_parents():
            link = s.mdev_parent_link(parent)
            shown = sysfs_mod.printable(parent)
            dev = device_mod.Device(kind=device_mod.MDEV_TYPE,
                                    name=shown + '/*', path=link,
                                    parent=shown)
            try:
                dev.path = s.resolve(link)
                parent_dir = dev.path
                facts, types = self._device_call(dev, self._parent,
                                                 parent_dir)
            except exception.MigCompatError as e:
                dev.error = str(e)
                devices.append(dev)
                continue
            for type_name in types:
                devices.append(self._mdev_type(
                    shown, sysfs_mod.printable(type_name),
                    s.mdev_type_path(parent_dir, type_name), facts))
        return devices

    def _parent(self, parent_dir):
        return (self._pci_facts(parent_dir),
                self.sysfs.mdev_type_names(parent_dir))

    def _mdev_type(self, parent, type_name, type_dir, parent_facts):
        name = '%s/%s' % (parent, type_name)
        dev = device_mod.Device(kind=device_mod.MDEV_TYPE, name=name,
                                path=type_dir, parent=parent,
                                mdev_type=type_name)
        try:
            dev.path = self.sysfs.resolve(type_dir)
            self._apply(dev, *self._device_call(
                dev, self._describe_mdev_type, dev.path, parent_facts,
                type_name))
        except exception.MigCompatError as e:
            dev.error = str(e)
        return dev

    def _describe_mdev_type(self, type_dir, parent_facts, type_name):
        facts = dict(parent_facts)
        facts.update(self.sysfs.mdev_type_facts(type_dir))
        return facts, self._string(
            type_dir, facts, facts.get('device_api', DEFAULT_DEVICE_API),
            type_name)

    def _each(self, kind, names, link_of, describe):
        """A Device per name; ``describe(dev)`` returns what to apply.

        ``describe`` gets the device with its directory resolved inside
        the root, and returns ``(facts, (string, origin, attribute))``, or
        None for a device that is not ours.  An error becomes the
        device's, never the other devices'.
        """
        devices = []
        for name in names:
            dev = device_mod.Device(kind=kind, name=sysfs_mod.printable(name),
                                    path=link_of(name))
            try:
                dev.path = self.sysfs.resolve(dev.path)
                described = describe(dev)
                if described is None:
                    continue
                self._apply(dev, *described)
            except exception.MigCompatError as e:
                dev.error = str(e)
            devices.append(dev)
        return devices

    def _mdevs(self):
        s = self.sysfs

        def describe(dev):
            dev.parent, parent_dir = s.mdev_parent(dev.path)
            dev.mdev_type, type_dir = s.mdev_type_of(dev.path)
            return self._device_call(dev, self._describe_mdev, dev.path,
                                     parent_dir, type_dir, dev.mdev_type,
                                     dev.name)
        return self._each(device_mod.MDEV, s.mdev_uuids(), s.mdev_link,
                          describe)

    def _describe_mdev(self, mdev_dir, parent_dir, type_dir, mdev_type,
                       name):
        facts = self._pci_facts(parent_dir)
        if type_dir is not None:
            api = self.sysfs.mdev_type_facts(type_dir).get('device_api')
            if api:
                facts['device_api'] = api
        self._migration_facts(facts, name)
        return facts, self._string(
            mdev_dir, facts, facts.get('device_api', DEFAULT_DEVICE_API),
            mdev_type)

    def _wanted_pci(self, facts):
        driver = facts.get('driver')
        return driver is not None and any(
            fnmatch.fnmatchcase(driver, pattern)
            for pattern in self.pci_drivers)

    def _pci_functions(self):
        s = self.sysfs

        def describe(dev):
            described = self._device_call(dev, self._describe_pci, dev.path,
                                          dev.name)
            if described is not None:
                dev.parent = s.physfn(dev.path)
            return described
        return self._each(device_mod.PCI, s.pci_addresses(),
                          s.pci_function_link, describe)

    def _describe_pci(self, dev_dir, name):
        """The function's facts and string; None if it is not ours.

        Ours: a function with a ``migration_version``, or bound to one of
        the ``synthesis_pci_drivers`` (whether or not descriptors are
        synthesized: it is then managed without a string).
        """
        has_attr = self.sysfs.migration_version(dev_dir) is not None
        facts = self._pci_facts(dev_dir)
        if not has_attr and not self._wanted_pci(facts):
            return None
        self._migration_facts(facts, name)
        return facts, self._string(dev_dir, facts, DEFAULT_DEVICE_API,
                                   None)

    # The target-side check ---------------------------------------------

    def check(self, device, text):
        """Would ``device`` accept the state of a device with string text?

        The kernel write where the attribute is writable, else the
        acceptance policy of the string's format.
        """
        if not device.tracked:
            return verdict_mod.Verdict(
                verdict_mod.UNKNOWN, 'device has no usable string: %s'
                % (device.error or 'not tracked'))
        if device.attribute is not None:
            if self._key(device) in self._overran:
                return verdict_mod.Verdict(
                    verdict_mod.UNKNOWN, 'the device did not answer an '
                    'earlier call in time this cycle; not tried again')
            try:
                return self._device_call(device, self._write_check, device,
                                         text)
            except exception.DeadlineExceeded as e:
                return verdict_mod.Verdict(
                    verdict_mod.UNKNOWN, 'no answer in time: %s' % e.reason)
        return verdict_mod.from_decision(policies.decide(text,
                                                         device.string))

    def _write_check(self, device, text):
        """Write ``text`` into the device's attribute: the errno answers."""
        driver = device.facts.get('driver', 'device')
        try:
            self.sysfs.write_migration_version(device.attribute, text)
        except exception.UnsafeWrite as e:
            LOG.error('Refusing the target-side check of %s: %s',
                      device.name, e)
            return verdict_mod.Verdict(
                verdict_mod.UNKNOWN, 'unsafe write refused: %s' % e.reason)
        except exception.SysfsError as e:
            return verdict_mod.Verdict(verdict_mod.UNKNOWN, str(e))
        except OSError as e:
            name = sysfs_mod.errno_name(e.errno)
            if e.errno in TRANSIENT_ERRNOS:
                return verdict_mod.Verdict(
                    verdict_mod.UNKNOWN, 'write failed with %s (transient, '
                    'retried next cycle)' % name)
            if e.errno in PERMISSION_ERRNOS:
                LOG.error('Cannot write %s: %s; the agent must run as root',
                          device.attribute, name)
                return verdict_mod.Verdict(
                    verdict_mod.UNKNOWN, 'write failed with %s (not '
                    'permitted)' % name)
            if classify(e.errno) == verdict_mod.REFUSES:
                return verdict_mod.Verdict(
                    verdict_mod.REFUSES, 'the %s driver refused the string '
                    '(%s)' % (driver, name))
            return verdict_mod.Verdict(
                verdict_mod.UNKNOWN, 'write failed with %s (not an answer '
                'of the driver)' % name)
        return verdict_mod.Verdict(
            verdict_mod.ACCEPTS, 'the %s driver accepted the string'
            % driver)
