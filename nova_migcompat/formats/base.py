"""The parsed-string model and the format plugin interface."""

import abc
import dataclasses
import typing

#: Formats whose strings describe a device in identity fields.
FORMAT_JSON = 'json'
FORMAT_KEYVALUE = 'keyvalue'
FORMAT_OPAQUE = 'opaque'


@dataclasses.dataclass(frozen=True)
class Version:
    major: int
    minor: int

    def __str__(self):
        return '%d.%d' % (self.major, self.minor)


@dataclasses.dataclass(frozen=True)
class ParsedString:
    """What nova-migcompat understood of one compatibility string.

    Fields a format cannot tell are ``None`` (or empty).  ``text`` is always
    the exact string that was parsed.
    """

    format: str
    text: str
    #: "vfio-pci", "vfio-ccw", ...
    device_api: typing.Optional[str] = None
    #: The vendor driver name ("i915", "nvidia", "hisi_acc_vfio_pci").
    driver: typing.Optional[str] = None
    version: typing.Optional[Version] = None
    pci_vendor: typing.Optional[int] = None
    pci_device: typing.Optional[int] = None
    mdev_type: typing.Optional[str] = None
    #: Further identity attributes (JSON ``mdev_attrs``, key=value ``self``
    #: keys not mapped above, the parts of an opaque vendor string).
    attributes: typing.Mapping[str, str] = dataclasses.field(
        default_factory=dict)
    #: JSON ``vendor_fields``: both sides must carry exactly the same.
    vendor_fields: typing.Mapping[str, str] = dataclasses.field(
        default_factory=dict)
    #: key=value form: the ``compatible`` sections, each a mapping of key to
    #: a pattern (see nova_migcompat.formats.keyvalue).
    compatible: typing.Tuple[typing.Mapping[str, str], ...] = ()

    def summary(self):
        """A short description, e.g. ``nvidia 2.1 10de:1eb8 nvidia-35``."""
        parts = []
        if self.driver:
            parts.append(self.driver)
        if self.version is not None:
            parts.append(str(self.version))
        if self.pci_vendor is not None and self.pci_device is not None:
            parts.append('%04x:%04x' % (self.pci_vendor, self.pci_device))
        if self.mdev_type:
            parts.append(self.mdev_type)
        if not parts:
            text = self.text.replace('\n', ' ')
            return text if len(text) <= 60 else text[:57] + '...'
        return ' '.join(parts)


class StringFormat(metaclass=abc.ABCMeta):
    """A format plugin.

    Formats are tried in ascending ``priority``; the first whose
    :meth:`sniff` says yes parses the string.  A format that sniffs yes but
    fails to parse raises :class:`~nova_migcompat.exception.ParseError`: the
    string is then reported as malformed, not silently treated as opaque.
    """

    #: The entry point name.
    name = None
    priority = 100

    @abc.abstractmethod
    def sniff(self, text):
        """Return True if ``text`` looks like this format (cheap)."""

    @abc.abstractmethod
    def parse(self, text):
        """Return a :class:`ParsedString`; raise ParseError if malformed."""
