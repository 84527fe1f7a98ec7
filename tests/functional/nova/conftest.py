"""Nova's own functional test framework, for the tests in this directory.

Nova's functional framework monkey patches (eventlet) at import: it must be
imported before anything imports urllib3, oslo.context or other nova
modules, so these tests run in a pytest session of their own (see
tox.ini), never together with the agent's tests.
"""

import nova.tests.functional  # noqa: F401,I100  isort:skip

from nova import test as nova_test  # noqa: I100


def _keep_test_methods(clear_attrs):
    # nova's TestCase deletes every public attribute at cleanup, including
    # the test method itself; pytest's unittest runner looks it up again
    # afterwards.  Keep the test* attributes.
    def wrapper(self):
        kept = {k: v for k, v in self.__dict__.items()
                if k.startswith('test')}
        clear_attrs(self)
        self.__dict__.update(kept)
    return wrapper


nova_test.TestCase._clear_attrs = _keep_test_methods(
    nova_test.TestCase._clear_attrs)
