"""Real placement, in-process, for the agent's functional tests.

Placement's own fixture serves the placement WSGI application (in-memory
database, noauth2) behind a wsgi-intercept URL; the agent reaches it with
its real keystoneauth1 code, configured like nova-compute's
``[placement]`` section (``admin_token`` auth with the token ``admin``).
The test itself shapes provider trees the way Nova does, through the
placement API.
"""

import contextlib
import datetime
import os
import threading
import uuid
from wsgiref import simple_server

from oslo_utils import timeutils
from placement import deploy
from placement.tests.functional.fixtures import placement as placement_fx
import pytest
import requests
from wsgi_intercept import interceptor

from nova_migcompat.agent import provider_names
from nova_migcompat.agent import record as record_mod
from nova_migcompat.agent import reporter
from nova_migcompat.cmd import agent
from nova_migcompat import placement


class PlacementAPI(object):
    """What the test (playing Nova and operators) does in placement."""

    def __init__(self, endpoint, app):
        self.endpoint = endpoint
        self._app = app
        self._intercept = None

    def serve(self):
        self._intercept = interceptor.RequestsInterceptor(
            lambda: self._app, url=self.endpoint)
        self._intercept.install_intercept()

    def stop(self):
        if self._intercept is not None:
            self._intercept.uninstall_intercept()
            self._intercept = None

    @contextlib.contextmanager
    def outage(self):
        """Placement's address answers 503 (a proxy with no backend)."""
        def unavailable(environ, start_response):
            start_response('503 Service Unavailable',
                           [('Content-Type', 'application/json')])
            return [b'{"errors": [{"status": 503, "detail": "down"}]}']
        self.stop()
        broken = interceptor.RequestsInterceptor(lambda: unavailable,
                                                 url=self.endpoint)
        broken.install_intercept()
        try:
            yield
        finally:
            broken.uninstall_intercept()
            self.serve()

    def request(self, method, path, body=None, version='1.23'):
        resp = requests.request(
            method, self.endpoint + path, json=body,
            headers={'X-Auth-Token': 'admin',
                     'OpenStack-API-Version': 'placement %s' % version})
        return resp

    def ok(self, method, path, body=None, version='1.23'):
        resp = self.request(method, path, body, version)
        assert resp.status_code < 300, (method, path, resp.status_code,
                                        resp.text)
        return resp.json() if resp.content else None

    def create_provider(self, name, parent=None):
        body = {'name': name, 'uuid': str(uuid.uuid4())}
        if parent:
            body['parent_provider_uuid'] = parent
        self.ok('POST', '/resource_providers', body)
        return body['uuid']

    def create_compute(self, nodename, pgpus=()):
        """A Nova-shaped provider tree; returns ``{name: uuid}``.

        The root is named after the node, and there is one child per
        physical GPU, named as nova's libvirt driver names them.
        """
        root = self.create_provider(nodename)
        tree = {nodename: root}
        for address in pgpus:
            name = provider_names.pgpu_provider_name(nodename, address)
            tree[name] = self.create_provider(name, parent=root)
        return tree

    def delete_provider(self, rp_uuid):
        self.ok('DELETE', '/resource_providers/%s' % rp_uuid)

    def traits(self, rp_uuid):
        return set(self.ok('GET', '/resource_providers/%s/traits'
                           % rp_uuid)['traits'])

    def add_traits(self, rp_uuid, *names):
        body = self.ok('GET', '/resource_providers/%s/traits' % rp_uuid)
        for name in names:
            if name.startswith('CUSTOM_'):
                self.ok('PUT', '/traits/%s' % name)
        self.ok('PUT', '/resource_providers/%s/traits' % rp_uuid,
                {'traits': sorted(set(body['traits']) | set(names)),
                 'resource_provider_generation':
                     body['resource_provider_generation']})

    def all_traits(self, prefix='CUSTOM_MIGCOMPAT_'):
        return set(self.ok('GET', '/traits?name=startswith:%s'
                           % prefix)['traits'])


@pytest.fixture
def placement_api():
    fixture = placement_fx.PlacementFixture(token='admin',
                                            use_intercept=False)
    fixture.setUp()
    api = PlacementAPI('http://%s/placement' % uuid.uuid4(),
                       deploy.loadapp(fixture.conf_fixture.conf))
    api.serve()
    try:
        yield api
    finally:
        api.stop()
        fixture.cleanUp()


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _Server(simple_server.WSGIServer):
    # One request at a time (placement's in-memory database is one
    # connection), but many clients may wait for their turn.
    request_queue_size = 128


@pytest.fixture
def placement_http(placement_api):
    """The same placement, on a real socket (for other processes)."""
    server = simple_server.make_server('127.0.0.1', 0, placement_api._app,
                                       server_class=_Server,
                                       handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d' % server.server_port
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def agent_conf(tmp_path, placement_api):
    """agent_conf(nodename, sysfs_root, **migcompat) -> a parsed config.

    The configuration goes through a real config file, as an operator
    writes it.
    """
    confs = []

    def make(nodename, sysfs_root, endpoint=None, **options):
        path = tmp_path / ('%s.conf' % nodename)
        lines = ['[placement]', 'auth_type = admin_token',
                 'endpoint = %s' % (endpoint or placement_api.endpoint),
                 'token = admin',
                 'endpoint_override = %s' % (endpoint or
                                             placement_api.endpoint),
                 '', '[migcompat]', 'nodename = %s' % nodename,
                 'sysfs_root = %s' % sysfs_root,
                 'lock_path = %s' % (tmp_path / 'agent.lock')]
        options.setdefault('state_path', tmp_path / ('%s.state' % nodename))
        lines += ['%s = %s' % item for item in options.items()]
        path.write_text('\n'.join(lines) + '\n')
        conf = agent.load_checked(['--config-file', str(path)])
        confs.append(conf)
        return conf

    yield make
    for conf in confs:
        conf.reset()


class Clock(object):
    """The agent's notion of now, moved by the test (a system boundary)."""

    def __init__(self, now=1.8e9):
        self.now = now

    def __call__(self):
        return self.now


class PlacementClock(Clock):
    """The agent's clock and placement's, moved together by the test.

    Placement stamps ``updated_at`` and ``created_at`` with oslo.utils'
    ``timeutils.utcnow``: it returns this clock's time, which stands
    still until the test moves it (``advance``), as if every request came
    within the same second; the agent's record and monotonic clock read
    the same time.
    """

    def advance(self, seconds):
        self.now += seconds

    def utcnow(self, with_timezone=False):
        moment = datetime.datetime.fromtimestamp(self.now,
                                                 datetime.timezone.utc)
        return moment if with_timezone else moment.replace(tzinfo=None)


@pytest.fixture
def placement_clock(monkeypatch):
    clock = PlacementClock()
    monkeypatch.setattr(timeutils, 'utcnow', clock.utcnow)
    return clock


@pytest.fixture
def make_reporter(agent_conf):
    """make_reporter(nodename, emulated_fs, clock=None, **options).

    A Reporter with its verdict record in the test's own state directory;
    ``clock`` replaces the record's clock and the reporter's monotonic
    clock.
    """
    def make(nodename, fs, client_class=placement.PlacementClient,
             clock=None, **options):
        conf = agent_conf(nodename, fs.root, **options)
        record = None
        if clock is not None:
            record = record_mod.VerdictRecord.load(
                os.path.join(conf.migcompat.state_path,
                             record_mod.FILE_NAME),
                nodename, conf.migcompat.recheck_age, clock=clock)
        made = reporter.Reporter(conf, client_class.from_conf(conf),
                                 record=record)
        if clock is not None:
            made.monotonic = clock
        return made
    return make
