"""Keystone's WSGI app for gunicorn.

``keystone.wsgi.api`` parses ``sys.argv`` as keystone's own command line
(oslo.config), which under gunicorn holds gunicorn's options; the worker
hides them first.  The configuration comes from
``OS_KEYSTONE_CONFIG_DIR``.
"""

import sys

sys.argv = sys.argv[:1]

from keystone.wsgi import api  # noqa: E402

application = api.application
