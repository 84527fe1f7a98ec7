"""Acceptance policies: rule-based "would this target accept that source".

Used where a device has no writable ``migration_version`` attribute (its
string was synthesized from standard sysfs facts), and to explain why a
kernel write failed.  Plugins live in the ``nova_migcompat.policies``
stevedore namespace.
"""

from nova_migcompat.policies.loader import decide
from nova_migcompat.policies.loader import get_policy
from nova_migcompat.policies.loader import policy_names

__all__ = ['decide', 'get_policy', 'policy_names']
