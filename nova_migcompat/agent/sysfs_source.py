"""The sysfs device source: mdev types, mdev instances and PCI functions.

Layout (of the kernel proposal; every path relative to the configured root):

* ``class/mdev_bus/<parent>/mdev_supported_types/<type>/migration_version``
* ``bus/mdev/devices/<uuid>/migration_version``
* ``bus/pci/devices/<address>/migration_version``

A device without the attribute gets a synthesized descriptor (see
:mod:`nova_migcompat.agent.descriptor`) when ``synthesize_descriptors`` is on.
"""

import fnmatch
import os
import platform

from oslo_log import log as logging

from nova_migcompat.agent import descriptor
from nova_migcompat.agent import device as device_mod
from nova_migcompat.agent import source as sources
from nova_migcompat.agent import sysfs as sysfs_mod
from nova_migcompat import exception

LOG = logging.getLogger(__name__)

DEFAULT_DEVICE_API = 'vfio-pci'


def _hex_id(text):
    if text is None:
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


class SysfsDeviceSource(sources.DeviceSource):
    name = 'sysfs'

    def __init__(self, conf, sysfs=None):
        super().__init__(conf)
        self.sysfs = sysfs or sysfs_mod.Sysfs(conf.migcompat.sysfs_root)
        self.synthesize = conf.migcompat.synthesize_descriptors
        self.pci_drivers = conf.migcompat.synthesis_pci_drivers

    def discover(self):
        devices = []
        devices.extend(self._mdev_types())
        devices.extend(self._mdevs())
        devices.extend(self._pci_functions())
        for dev in devices:
            if dev.error:
                LOG.error('Device %s (%s): %s', dev.name,
                          self.sysfs.relative(dev.path), dev.error)
        return devices

    def _entries(self, parts):
        # A listing that fails raises: "no devices" would withdraw every
        # published trait on the strength of a failed read.
        return self.sysfs.listdir(self.sysfs.path(*parts))

    def _pci_facts(self, dev_dir):
        s = self.sysfs
        facts = {}
        for attr in ('vendor', 'device'):
            value = s.read_optional(os.path.join(dev_dir, attr))
            if value is not None:
                facts[attr] = value
        driver_link = os.path.join(dev_dir, 'driver')
        driver = s.link_name(driver_link)
        if driver:
            facts['driver'] = driver
            module_link = os.path.join(s.resolve(driver_link), 'module')
            module = s.link_name(module_link) or driver.replace('-', '_')
            version = s.read_optional(
                s.path(*(sysfs_mod.MODULES + (module, 'version'))))
            if version:
                facts['driver_version'] = version
        return facts

    def _string(self, dev, facts, device_api, mdev_type):
        attr = os.path.join(dev.path, sysfs_mod.ATTRIBUTE)
        if self.sysfs.exists(attr):
            dev.attribute = attr
            dev.origin = device_mod.FROM_ATTRIBUTE
            dev.string = self.sysfs.read_compat_string(attr)
        elif self.synthesize and facts.get('driver'):
            dev.origin = device_mod.FROM_SYNTHESIS
            dev.string = descriptor.synthesize(
                device_api, facts['driver'], facts.get('driver_version'),
                _hex_id(facts.get('vendor')), _hex_id(facts.get('device')),
                mdev_type, kernel_release=platform.release())
        return dev

    def _mdev_types(self):
        s = self.sysfs
        devices = []
        for parent in self._entries(sysfs_mod.MDEV_BUS):
            link = s.path(*(sysfs_mod.MDEV_BUS + (parent,)))
            try:
                parent_dir = s.resolve(link)
                facts = self._pci_facts(parent_dir)
                types = s.listdir(os.path.join(parent_dir,
                                               sysfs_mod.MDEV_TYPES))
            except exception.MigCompatError as e:
                devices.append(device_mod.Device(
                    kind=device_mod.MDEV_TYPE, name=parent + '/*',
                    path=link, parent=parent, error=str(e)))
                continue
            for type_name in types:
                type_dir = os.path.join(parent_dir, sysfs_mod.MDEV_TYPES,
                                        type_name)
                devices.append(self._mdev_type(parent, type_name, type_dir,
                                               facts))
        return devices

    def _mdev_type(self, parent, type_name, type_dir, parent_facts):
        s = self.sysfs
        name = '%s/%s' % (parent, type_name)
        dev = device_mod.Device(kind=device_mod.MDEV_TYPE, name=name,
                                path=type_dir, parent=parent,
                                mdev_type=type_name)
        try:
            dev.path = s.resolve(type_dir)
            facts = dict(parent_facts)
            for attr, key in (('name', 'type_name'),
                              ('device_api', 'device_api'),
                              ('available_instances',
                               'available_instances')):
                value = s.read_optional(os.path.join(dev.path, attr))
                if value is not None:
                    facts[key] = value
            dev.facts = facts
            self._string(dev, facts,
                         facts.get('device_api', DEFAULT_DEVICE_API),
                         type_name)
        except exception.MigCompatError as e:
            dev.error = str(e)
        return dev

    def _mdevs(self):
        s = self.sysfs
        devices = []
        for uuid in self._entries(sysfs_mod.MDEV_DEVICES):
            link = s.path(*(sysfs_mod.MDEV_DEVICES + (uuid,)))
            dev = device_mod.Device(kind=device_mod.MDEV, name=uuid,
                                    path=link)
            try:
                dev.path = s.resolve(link)
                dev.parent = os.path.basename(os.path.dirname(dev.path))
                type_link = os.path.join(dev.path, 'mdev_type')
                dev.mdev_type = s.link_name(type_link)
                facts = self._pci_facts(os.path.dirname(dev.path))
                if dev.mdev_type:
                    api = s.read_optional(os.path.join(
                        s.resolve(type_link), 'device_api'))
                    if api:
                        facts['device_api'] = api
                dev.facts = facts
                self._string(dev, facts,
                             facts.get('device_api', DEFAULT_DEVICE_API),
                             dev.mdev_type)
            except exception.MigCompatError as e:
                dev.error = str(e)
            devices.append(dev)
        return devices

    def _wanted_pci(self, facts):
        driver = facts.get('driver')
        return driver is not None and any(
            fnmatch.fnmatchcase(driver, pattern)
            for pattern in self.pci_drivers)

    def _pci_functions(self):
        s = self.sysfs
        devices = []
        for address in self._entries(sysfs_mod.PCI_DEVICES):
            link = s.path(*(sysfs_mod.PCI_DEVICES + (address,)))
            dev = device_mod.Device(kind=device_mod.PCI, name=address,
                                    path=link)
            try:
                dev.path = s.resolve(link)
                has_attr = s.exists(os.path.join(dev.path,
                                                 sysfs_mod.ATTRIBUTE))
                facts = self._pci_facts(dev.path)
                if not has_attr and not (self.synthesize and
                                         self._wanted_pci(facts)):
                    continue
                dev.parent = s.link_name(os.path.join(dev.path, 'physfn'))
                dev.facts = facts
                self._string(dev, facts, DEFAULT_DEVICE_API, None)
            except exception.MigCompatError as e:
                dev.error = str(e)
            devices.append(dev)
        return devices
