"""nova-api's WSGI app for gunicorn.

``nova.wsgi.osapi_compute`` parses ``sys.argv`` as nova's own command line
(oslo.config), which under gunicorn holds gunicorn's options; the worker
hides them first.  The configuration files come from
``OS_NOVA_CONFIG_DIR`` (``api-paste.ini`` and ``nova.conf``).
"""

import sys

sys.argv = sys.argv[:1]

from nova.wsgi import osapi_compute  # noqa: E402

application = osapi_compute.application
