"""Acceptance policies: "would this target accept that source's state?".

Where the kernel cannot be asked (a synthesized descriptor, a read-only
``migration_version``), the policy of the target string's format decides.
Each policy plugin (``nova_migcompat.policies`` stevedore namespace)
declares the formats it judges: ``rules`` the JSON descriptors and opaque
vendor strings, ``keyvalue`` the ``self``/``compatible`` form.
:func:`decide` picks the policy by format; there is no option that could
send a string to a policy that cannot judge it.
"""

from nova_migcompat.policies.loader import decide
from nova_migcompat.policies.loader import get_policy
from nova_migcompat.policies.loader import policy_for

__all__ = ['decide', 'get_policy', 'policy_for']
