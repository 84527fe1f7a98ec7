"""Synthesized descriptors for devices without a migration_version.

No upstream kernel implements the attribute, so a device is described by a
JSON descriptor in the shape of the kernel thread, built from facts every
kernel has: the device API, the driver name and version, the PCI ids and the
mdev type.  Keys are always in the same order and the JSON is compact, so
two hosts with the same facts produce the same string.
"""

import json
import re

_VERSION = re.compile(r'(\d{1,9})(?:\.(\d{1,9}))?')


def parse_driver_version(text):
    """``(major, minor)`` of a module version such as ``535.104.05``.

    None when the text has no number (many in-tree modules have no
    version at all).
    """
    if not text:
        return None
    match = _VERSION.search(text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def synthesize(device_api, driver, driver_version=None, pci_vendor=None,
               pci_device=None, mdev_type=None, kernel_release=None):
    """The descriptor string for a set of sysfs facts.

    A driver without a version (in-tree modules rarely have one) is as old
    as the kernel it came with: the kernel release then goes into
    ``vendor_fields``, so only hosts running the same kernel have identical
    descriptors, and the rule policy cannot tell about the others.
    """
    desc = {'device_api': device_api, 'vendor': driver}
    version = parse_driver_version(driver_version)
    if version is not None:
        desc['version'] = {'major': version[0], 'minor': version[1]}
    if pci_vendor is not None and pci_device is not None:
        desc[device_api] = {'vendor': pci_vendor, 'device': pci_device}
    if mdev_type is not None:
        desc['mdev_attrs'] = [{'mdev_type': mdev_type}]
    if version is None and kernel_release:
        desc['vendor_fields'] = [{'kernel': kernel_release}]
    return json.dumps(desc, separators=(',', ':'))
