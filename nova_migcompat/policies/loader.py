"""Load acceptance policy plugins by name."""

import functools

from stevedore import driver
from stevedore import exception as stevedore_exc
from stevedore import extension

from nova_migcompat import exception

NAMESPACE = 'nova_migcompat.policies'
DEFAULT = 'rules'


def policy_names():
    """The names of the installed policies, sorted."""
    return sorted(extension.ExtensionManager(NAMESPACE).names())


@functools.lru_cache(maxsize=None)
def get_policy(name):
    """The (shared) policy object registered as ``name``.

    :raises MigCompatError: if no such policy is installed.
    """
    try:
        manager = driver.DriverManager(NAMESPACE, name, invoke_on_load=True)
    except stevedore_exc.NoMatches:
        raise exception.MigCompatError(
            'unknown acceptance policy %r (installed: %s)' % (
                name, ', '.join(policy_names()))) from None
    return manager.driver


def decide(source, target, policy=DEFAULT):
    """Decide with the named policy; returns a Decision."""
    return get_policy(policy).decide(source, target)
