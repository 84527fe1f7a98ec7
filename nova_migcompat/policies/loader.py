"""Load acceptance policy plugins, and decide with the one of a format."""

import functools

from stevedore import extension

from nova_migcompat import exception
from nova_migcompat import formats
from nova_migcompat.policies import base

NAMESPACE = 'nova_migcompat.policies'


@functools.lru_cache(maxsize=None)
def _policies():
    manager = extension.ExtensionManager(NAMESPACE, invoke_on_load=True)
    return tuple(sorted((ext.obj for ext in manager),
                        key=lambda policy: policy.name))


def get_policy(name):
    """The (shared) policy object registered as ``name``.

    :raises MigCompatError: if no such policy is installed.
    """
    for policy in _policies():
        if policy.name == name:
            return policy
    raise exception.MigCompatError(
        'unknown acceptance policy %r (installed: %s)' % (
            name, ', '.join(p.name for p in _policies())))


def policy_for(fmt):
    """The policy that judges target strings of format ``fmt``, or None."""
    for policy in _policies():
        if fmt in policy.formats:
            return policy
    return None


def decide(source_text, target_text):
    """Would a device whose string is ``target_text`` accept ``source_text``?

    The policy of the target string's format decides.  Identical strings
    are accepted; a source the target cannot parse is refused; strings of
    different formats, or of a format no policy judges, cannot be told
    (``Decision(None, reason)``).
    """
    if source_text == target_text:
        return base.Decision(True, 'identical strings')
    try:
        source = formats.parse(source_text, where='source string')
        target = formats.parse(target_text, where='target string')
    except exception.MigCompatError as e:
        return base.Decision(False, 'cannot compare: %s' % e)
    if source.format != target.format:
        return base.Decision(None, 'cannot tell: a %s string against a %s '
                             'string' % (source.format, target.format))
    policy = policy_for(target.format)
    if policy is None:
        return base.Decision(None, 'cannot tell: no acceptance policy '
                             'judges %s strings' % target.format)
    return policy.decide(source, target)
