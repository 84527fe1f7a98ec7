"""The real ``openstack`` CLI, in-process, against the test cloud.

Nova's test API authenticates from ``X-Auth-User``/``X-Auth-Project-Id``/
``X-Roles`` headers, which OpenStackClient never sends.  A second
wsgi-intercept host wraps the same Nova API application and turns the
token ``user:project`` (sent by keystoneauth's ``admin_token`` plugin) into
those headers; it also answers the identity v3 version document the
client asks for.  Placement commands (osc-placement) go straight to the
placement fixture, whose noauth middleware accepts the token ``admin``.
The ``nova`` cloud also names placement (``placement_endpoint_override``)
for clients that take both APIs from one cloud (``openstack migcompat``).
"""

import io
import json
import logging
import os
import sys
import time
import uuid
import warnings

import fixtures
from openstackclient.common import clientmanager
from openstackclient import shell
from osc_lib import clientmanager as osc_clientmanager
from wsgi_intercept import interceptor

ADMIN_ROLES = 'reader,member,admin'
MEMBER_ROLES = 'reader,member'
# Variables of nova's and oslotest's test machinery, not of the client.
_TEST_ENV = ('OS_NOVA_', 'OS_TEST_', 'OS_DEBUG', 'OS_LOG_', 'OS_STDOUT_',
             'OS_STDERR_')


class IdentityShim(object):
    """WSGI middleware: token ``user:project`` to the test auth headers."""

    def __init__(self, app, prefix='/identity/v3'):
        self.app = app
        self.prefix = prefix

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        if path.rstrip('/') == self.prefix:
            return self._version(environ, start_response)
        token = environ.pop('HTTP_X_AUTH_TOKEN', '')
        user, _sep, project = token.partition(':')
        if not user or not project:
            start_response('401 Unauthorized',
                           [('Content-Type', 'application/json')])
            return [b'{"error": {"code": 401, "message": "bad token"}}']
        environ['HTTP_X_AUTH_USER'] = user
        environ['HTTP_X_AUTH_PROJECT_ID'] = project
        environ['HTTP_X_ROLES'] = (ADMIN_ROLES if user == 'admin'
                                   else MEMBER_ROLES)
        return self.app(environ, start_response)

    def _version(self, environ, start_response):
        href = '%s://%s%s/' % (environ['wsgi.url_scheme'],
                               environ['HTTP_HOST'], self.prefix)
        body = {'version': {
            'id': 'v3.14', 'status': 'stable',
            'updated': '2020-04-07T00:00:00Z',
            'links': [{'rel': 'self', 'href': href}],
            'media-types': [{
                'base': 'application/json',
                'type': 'application/vnd.openstack.identity-v3+json'}]}}
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [json.dumps(body).encode()]


class OpenStackCLI(fixtures.Fixture):
    """``openstack`` commands run in-process against a CloudTestBase.

    Two clouds are configured: ``nova`` (the compute API through the
    identity shim, as the admin of the test project) and ``placement``.
    """

    def __init__(self, test, project_id=None):
        super().__init__()
        self.test = test
        self.project_id = project_id or test.api_fixture.project_id

    def _setUp(self):
        self.endpoint = 'http://%s' % uuid.uuid4()
        app = IdentityShim(self.test.api_fixture.app())
        intercept = interceptor.RequestsInterceptor(
            lambda: app, url=self.endpoint)
        intercept.install_intercept()
        self.addCleanup(intercept.uninstall_intercept)

        clouds = {'clouds': {
            'nova': {
                'auth_type': 'admin_token',
                'auth': {'endpoint': self.endpoint + '/v2.1',
                         'token': 'admin:%s' % self.project_id},
                'identity_api_version': '3',
                'identity_endpoint_override':
                    self.endpoint + '/identity/v3',
                'placement_endpoint_override':
                    self.test.placement.fixture.endpoint,
            },
            'placement': {
                'auth_type': 'admin_token',
                'auth': {'endpoint': self.test.placement.fixture.endpoint,
                         'token': 'admin'},
            },
        }}
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'clouds.yaml')
        with open(path, 'w') as f:
            # JSON is YAML: no YAML writer needed.
            json.dump(clouds, f)
        self.useFixture(fixtures.EnvironmentVariable(
            'OS_CLIENT_CONFIG_FILE', path))
        # The client merges OS_* variables (OS_CLOUD, OS_TOKEN, ...) into
        # the cloud: drop the caller's, but not the test runner's own.
        for name in list(os.environ):
            if (name.startswith('OS_') and name != 'OS_CLIENT_CONFIG_FILE'
                    and not name.startswith(_TEST_ENV)):
                self.useFixture(fixtures.EnvironmentVariable(name))

    def run(self, *argv, cloud='nova'):
        """``openstack --os-cloud CLOUD ARGV...`` -> (exit code, stdout)."""
        self._reset_client_caches()
        out = io.StringIO()
        err = io.StringIO()
        root = logging.getLogger()
        saved_handlers, saved_level = root.handlers[:], root.level
        saved_stdout, saved_stderr = sys.stdout, sys.stderr
        with warnings.catch_warnings():
            try:
                sys.stdout, sys.stderr = out, err
                app = shell.OpenStackShell()
                app.stdout, app.stderr = out, err
                code = app.run(['--os-cloud', cloud] + list(argv))
            except SystemExit as e:
                # argparse errors and --help exit.
                code = e.code if isinstance(e.code, int) else int(
                    e.code is not None)
            finally:
                sys.stdout, sys.stderr = saved_stdout, saved_stderr
                root.handlers[:] = saved_handlers
                root.setLevel(saved_level)
        self.last_stderr = err.getvalue()
        return code, out.getvalue()

    def run_json(self, *argv, cloud='nova'):
        """Run a command with ``-f json`` and decode its output."""
        code, out = self.run(*(argv + ('-f', 'json')), cloud=cloud)
        if code != 0:
            raise AssertionError('openstack %s failed (%s): %s' % (
                ' '.join(argv), code, self.last_stderr))
        return json.loads(out)

    def wait_for_migration(self, server_id, statuses, max_retries=20):
        """Poll ``server migration list`` until the latest one gets a status.

        Bounded like nova's ``_wait_for_migration_status``.
        """
        statuses = [s.lower() for s in statuses]
        actual = None
        for _attempt in range(max_retries):
            migrations = self.run_json('server', 'migration', 'list',
                                       '--server', server_id)
            if migrations:
                # Earlier migrations of the server do not count.
                latest = max(migrations, key=lambda m: m['Id'])
                actual = latest['Status']
                if actual.lower() in statuses:
                    return latest
            time.sleep(0.5)
        raise AssertionError('migration of %s: expected %s, got %s'
                             % (server_id, statuses, actual))

    @staticmethod
    def _reset_client_caches():
        # OSC keeps each plugin's client on the ClientManager class, for
        # the life of the process: without this, a later run (another
        # cloud, another test's endpoints) reuses the first run's client.
        for cls in clientmanager.ClientManager.__mro__:
            for value in vars(cls).values():
                if isinstance(value, osc_clientmanager.ClientCache):
                    value._handle = None


class FleetMixin(object):
    """The CLI tests' fleet, and the CLI fixture as ``self.cli``.

    A source with driver 2.1, ``old`` (2.0, refuses 2.1) weighed above
    ``newer`` (2.3, accepts it).
    """

    WEIGHTS = {'old': 100, 'newer': 10, 'src': 0}

    def setUp(self):
        super().setUp()
        self.start_host('src', ('2.1', '2.1'))
        self.start_host('old', ('2.0', '2.0'))
        self.start_host('newer', ('2.3', '2.3'))
        self.report()
        self.cli = self.useFixture(OpenStackCLI(self))
