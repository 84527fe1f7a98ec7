"""The filter outside Nova's services, against real placement over HTTP.

Placement is the real application (the agent tests' fixture) served on a
loopback socket; Nova's scheduler report client, which needs Keystone, is
replaced by the one call the filter makes of it, ``get(url, version)``,
sent over HTTP with the same headers.
"""

from tests.functional.agent.conftest import placement_api  # noqa: F401
from tests.functional.agent.conftest import placement_http  # noqa: F401
