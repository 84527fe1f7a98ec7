"""Opaque vendor strings: the catch-all format.

The thread's only documented shape is Intel GVT-g's
``<driver>-v<version>-<pci vendor>-<pci device>-<mdev type>-<aggregator>``,
e.g. ``i915-v1-8086-591d-i915-GVTg_V5_8-1``; it is split into fields.  Of
any other string only a leading driver name (``nvidia-...``) is taken.
Parsing never fails: the string itself stays the authority.
"""

import re

from nova_migcompat.formats import base

_GVTG_RE = re.compile(
    r'(?P<driver>[a-z0-9_]+)'
    r'-v(?P<major>\d{1,9})(?:\.(?P<minor>\d{1,9}))?'
    r'-(?P<vendor>[0-9a-fA-F]{4})-(?P<device>[0-9a-fA-F]{4})'
    r'-(?P<type>[A-Za-z0-9_.:+-]+)'
    r'-(?P<aggregator>\d{1,9})\Z')
_DRIVER_RE = re.compile(r'([a-z0-9_]+)-')


def parse_opaque(text):
    """Best-effort fields of an opaque string; never raises."""
    match = _GVTG_RE.match(text)
    if match is None:
        driver = _DRIVER_RE.match(text)
        return base.ParsedString(
            format=base.FORMAT_OPAQUE, text=text,
            driver=driver.group(1) if driver else None)
    return base.ParsedString(
        format=base.FORMAT_OPAQUE, text=text, driver=match['driver'],
        version=base.Version(int(match['major']), int(match['minor'] or 0)),
        pci_vendor=int(match['vendor'], 16),
        pci_device=int(match['device'], 16),
        mdev_type=match['type'],
        attributes={'aggregator': match['aggregator']})


class OpaqueFormat(base.StringFormat):
    """Any string: the vendor defines it, the kernel write decides."""

    name = base.FORMAT_OPAQUE
    priority = 1000

    def sniff(self, text):
        return True

    def parse(self, text):
        return parse_opaque(text)
