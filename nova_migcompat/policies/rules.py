"""The documented rule policy for structured strings.

A target accepts a source iff both describe the same device (device API,
vendor driver, PCI vendor/device, mdev type, attributes and vendor fields
all equal) and the driver versions have the same major and a target minor
at least the source's.  This is the rule the later RFCs of the 2020 thread
state; it is what nova-migcompat applies to synthesized JSON descriptors.
"""

from nova_migcompat.formats import base as format_base
from nova_migcompat.policies import base

#: Without these on both sides the rule cannot be applied.
_NEEDED = ('driver', 'version')


def _pci(parsed):
    def part(value):
        return '?' if value is None else '%04x' % value
    return '%s:%s' % (part(parsed.pci_vendor), part(parsed.pci_device))


def _shown(value):
    return 'none' if value is None else value


def _first_difference(source, target):
    """The first key whose value differs, as ``key=src != tgt``."""
    for key in sorted(set(source) | set(target)):
        if source.get(key) != target.get(key):
            return '%s=%s != %s' % (key, source.get(key, '(absent)'),
                                    target.get(key, '(absent)'))
    return None


def _identity(source, target):
    """A refusal reason if the two strings describe different devices."""
    if source.device_api != target.device_api:
        return 'device API %s != %s' % (_shown(source.device_api),
                                        _shown(target.device_api))
    if source.driver != target.driver:
        return 'driver %s != %s' % (source.driver, target.driver)
    if (source.pci_vendor, source.pci_device) != (target.pci_vendor,
                                                  target.pci_device):
        return 'PCI device %s != %s' % (_pci(source), _pci(target))
    if source.mdev_type != target.mdev_type:
        return 'mdev type %s != %s' % (_shown(source.mdev_type),
                                       _shown(target.mdev_type))
    return None


def _version(source, target):
    """A refusal reason if the target driver is not new enough."""
    src, tgt = source.version, target.version
    if src.major != tgt.major:
        return 'driver %s %s cannot accept %s: major version differs' % (
            target.driver, tgt, src)
    if tgt.minor < src.minor:
        return 'driver %s: target minor %s is older than source %s' % (
            target.driver, tgt, src)
    return None


def _fields(source, target):
    diff = _first_difference(source.attributes, target.attributes)
    if diff:
        return 'attributes differ: %s' % diff
    diff = _first_difference(source.vendor_fields, target.vendor_fields)
    if diff:
        return 'vendor_fields differ: %s' % diff
    return None


def _unstructured(source, target):
    missing = [
        '%s has no %s' % (side, field)
        for side, parsed in (('source', source), ('target', target))
        for field in _NEEDED if getattr(parsed, field) is None]
    if not missing:
        return None
    if source.format == target.format == format_base.FORMAT_OPAQUE:
        if source.text == target.text:
            return base.Decision(True, 'identical strings')
        return base.Decision(False, 'opaque strings differ')
    return base.Decision(None, 'rules cannot tell: %s' % ', '.join(missing))


class RulePolicy(base.AcceptancePolicy):
    """Same device, same major version, target minor >= source minor."""

    name = 'rules'
    formats = (format_base.FORMAT_JSON, format_base.FORMAT_OPAQUE)

    def decide(self, source, target):
        decision = _unstructured(source, target)
        if decision is not None:
            return decision
        if source.format != target.format:
            return base.Decision(None, 'rules cannot tell: %s string'
                                 ' against %s string' % (source.format,
                                                         target.format))
        refusal = (_identity(source, target) or _version(source, target)
                   or _fields(source, target))
        if refusal:
            return base.Decision(False, refusal)
        return base.Decision(True, 'driver %s %s accepts %s' % (
            target.driver, target.version, source.version))
