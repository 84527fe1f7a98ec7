"""Compatibility string formats.

Each format is a stevedore plugin in the ``nova_migcompat.formats``
namespace (a :class:`~nova_migcompat.formats.base.StringFormat`).  They turn
a string into one model, :class:`~nova_migcompat.formats.base.ParsedString`,
used to explain decisions and by the rule-based acceptance policies.  Where a
device has a writable ``migration_version`` attribute, the kernel write is
the authority and parsing is only for explanation.
"""

from nova_migcompat.formats.loader import parse
from nova_migcompat.formats.loader import summary

__all__ = ['parse', 'summary']
