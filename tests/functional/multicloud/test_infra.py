"""The multi-process cloud's infrastructure, started for real, then gone.

MariaDB and RabbitMQ (Debian packages; installed when missing), Keystone
and Placement under gunicorn, the image/network stand-ins: checked
through the clients the services' users have (keystoneauth1, the clients
Nova uses for the image and network APIs, kombu, the mariadb client, the
``openstack`` CLI), then torn down, and the test checks that nothing it
started is left: no process, no listening port, no run directory.

Run by ``tox -e multicloud``, whose environment has keystone, placement,
gunicorn and PyMySQL (``MIGCOMPAT_MULTICLOUD_PYTHON`` points it at another
one); as root (packages, ports).  It fails, never skips, when something is
missing.
"""

import os
import subprocess
import sys
import uuid

from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ks_exc
import kombu
import psutil
import pytest

from migcompat_lab.multicloud import infra as infra_mod
from migcompat_lab.multicloud import procs
from migcompat_lab.multicloud import standins

PYTHON = os.environ.get('MIGCOMPAT_MULTICLOUD_PYTHON', sys.executable)


def _python_ready():
    r = subprocess.run([PYTHON, '-c', 'import keystone, placement, '
                        'gunicorn, pymysql'], capture_output=True)
    return r.returncode == 0


@pytest.fixture(scope='module', autouse=True)
def ready():
    """What the run needs is here, or the test fails saying what is not."""
    assert os.geteuid() == 0, 'the multi-process cloud needs root'
    assert _python_ready(), (
        '%s lacks keystone/placement/gunicorn/PyMySQL: run it with tox -e '
        'multicloud, or set MIGCOMPAT_MULTICLOUD_PYTHON' % PYTHON)


SEEN = {}


@pytest.fixture(scope='module')
def infra(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp('multicloud-logs'))
    cloud = infra_mod.Infra(python=PYTHON, logdir=logdir, timeout=180)
    try:
        cloud.start()
        SEEN['processes'] = cloud.process_records()
        SEEN['ports'] = dict(cloud.ports)
        SEEN['rundir'] = cloud.rundir
        yield cloud
    finally:
        cloud.stop()


def _adapter(infra, service_type, creds=None):
    return adapter.Adapter(infra.session(creds), service_type=service_type,
                           interface='public', region_name=infra_mod.REGION)


def test_everything_listens_on_loopback_only(infra):
    addrs = set()
    for pid in infra.pids():
        try:
            conns = psutil.Process(pid).net_connections('inet')
        except psutil.Error:
            continue
        addrs |= {c.laddr.ip for c in conns
                  if c.status == psutil.CONN_LISTEN}
    assert addrs and addrs <= {'127.0.0.1', '::1'}, addrs


def test_keystone_auth_and_catalog(infra):
    admin = infra.session()
    assert admin.get_token()
    access = admin.auth.get_access(admin)
    assert 'admin' in access.role_names
    catalog = access.service_catalog
    for stype, url in (('identity', infra.identity_endpoint),
                       ('placement', infra.placement_url),
                       ('compute', infra.compute_url),
                       ('image', infra.image_url),
                       ('network', infra.network_url)):
        for interface in ('public', 'internal'):
            assert catalog.url_for(service_type=stype,
                                   interface=interface) == url
    member = infra.session(infra.member_credentials)
    access = member.auth.get_access(member)
    assert access.project_name == 'demo'
    assert 'member' in access.role_names
    assert 'admin' not in access.role_names
    for name in infra_mod.SERVICE_USERS:
        s = infra.session(infra.service_credentials(name))
        roles = s.auth.get_access(s).role_names
        assert {'admin', 'service'} <= set(roles)


def test_placement_with_a_token(infra):
    placement = _adapter(infra, 'placement')
    r = placement.get('/resource_providers',
                      headers={'OpenStack-API-Version': 'placement latest'})
    assert r.status_code == 200
    assert r.json() == {'resource_providers': []}
    status, _ = procs.http_get(infra.placement_url + '/resource_providers')
    assert status == 401
    member = _adapter(infra, 'placement', infra.member_credentials)
    with pytest.raises(ks_exc.Forbidden):
        member.get('/resource_providers')


def test_database(infra):
    out = infra.sql('SHOW DATABASES', user=infra_mod.DB_USER,
                    password=infra.password)
    assert set(infra_mod.DATABASES) <= set(out.split())
    tables = infra.sql('SHOW TABLES FROM keystone').split()
    assert 'project' in tables
    tables = infra.sql('SHOW TABLES FROM placement').split()
    assert 'resource_providers' in tables
    url = infra.create_database('nova_extra')
    assert url.endswith('/nova_extra?charset=utf8mb4')
    assert 'nova_extra' in infra.sql('SHOW DATABASES').split()


def test_message_bus(infra):
    url = 'amqp' + infra.transport_url[len('rabbit'):]
    body = {'probe': str(uuid.uuid4())}
    with kombu.Connection(url, connect_timeout=5) as conn:
        queue = conn.SimpleQueue('migcompat-probe')
        queue.put(body)
        assert queue.get(timeout=5).payload == body
        queue.clear()
        queue.close()


def test_rabbitmq_tools(infra):
    assert 'Ping succeeded' in infra.rabbitmqctl(
        'ping', tool='rabbitmq-diagnostics')
    assert infra_mod.MQ_USER in infra.rabbitmqctl('list_users')


def test_rpc_round_trip_with_oslo_messaging(infra):
    from oslo_config import cfg
    import oslo_messaging

    class Echo:
        def echo(self, ctxt, value):
            return value

    from oslo_messaging import conffixture

    conf = cfg.ConfigOpts()
    conf([])
    # oslo.messaging registers some of its options on cfg.CONF only (Nova
    # uses cfg.CONF); its fixture registers them all on a private one.
    fixture = conffixture.ConfFixture(conf)
    fixture.setUp()
    fixture.addCleanup(conf.reset)
    transport = oslo_messaging.get_rpc_transport(conf,
                                                 url=infra.transport_url)
    target = oslo_messaging.Target(topic='migcompat-rpc-probe', server='s1')
    server = oslo_messaging.get_rpc_server(transport, target, [Echo()],
                                           executor='threading')
    server.start()
    try:
        client = oslo_messaging.get_rpc_client(transport, target,
                                               timeout=30)
        assert client.call({}, 'echo', value='ping') == 'ping'
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
        fixture.cleanUp()


def test_image_standin_through_glanceclient(infra):
    import glanceclient
    glance = glanceclient.Client('2', session=infra.session(),
                                 endpoint=infra.image_url)
    image = glance.images.get(standins.IMAGE_ID)
    assert image.status == 'active'
    assert image.disk_format == 'raw'
    assert [i.id for i in glance.images.list()] == [standins.IMAGE_ID]


def test_network_standin_through_neutronclient(infra):
    from neutronclient.v2_0 import client as neutron_client
    neutron = neutron_client.Client(session=infra.session(),
                                    endpoint_override=infra.network_url)
    device = str(uuid.uuid4())
    assert neutron.list_ports(device_id=device) == {'ports': []}
    assert neutron.list_extensions() == {'extensions': []}
    assert neutron.list_networks(shared=True) == {'networks': []}
    assert neutron.list_security_groups() == {'security_groups': []}
    assert neutron.show_quota('p')['quota']['port'] == -1


def test_openstack_cli(infra):
    cli = os.path.join(os.path.dirname(sys.executable), 'openstack')
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env['OS_CLIENT_CONFIG_FILE'] = infra.clouds_yaml

    def osc(cloud, *args):
        return subprocess.run([cli, '--os-cloud', cloud] + list(args),
                              env=env, capture_output=True, text=True,
                              check=True, timeout=120).stdout
    assert osc(infra_mod.ADMIN_CLOUD, 'token', 'issue', '-f', 'value',
               '-c', 'id').strip()
    catalog = osc(infra_mod.ADMIN_CLOUD, 'catalog', 'list', '-f', 'value',
                  '-c', 'Type')
    assert {'identity', 'placement', 'compute', 'image',
            'network'} <= set(catalog.split())
    osc(infra_mod.ADMIN_CLOUD, 'resource', 'provider', 'list')
    assert osc(infra_mod.MEMBER_CLOUD, 'token', 'issue', '-f', 'value',
               '-c', 'project_id').strip()


def test_teardown_leaves_nothing(infra):
    # Last in the module: stop here, then look for what was started.
    infra.stop()
    assert len(SEEN['processes']) >= 7
    assert procs.still_running(SEEN['processes']) == []
    open_ports = [name for name, port in SEEN['ports'].items()
                  if name != 'nova-api' and procs.port_open(port)]
    assert open_ports == []
    assert not os.path.exists(SEEN['rundir'])
    assert infra.stop() == []   # idempotent


class _Boom(Exception):
    pass


def test_failed_start_leaves_nothing(monkeypatch):
    # A failure after every service is up (the catalog step): the context
    # manager tears down what was started and re-raises.
    seen = {}

    def populate(self):
        seen['processes'] = self.process_records()
        seen['ports'] = dict(self.ports)
        seen['rundir'] = self.rundir
        raise _Boom()

    monkeypatch.setattr(infra_mod.Infra, '_populate_keystone', populate)
    with pytest.raises(_Boom):
        with infra_mod.Infra(python=PYTHON, timeout=180):
            pytest.fail('started')
    assert len(seen['processes']) >= 6
    assert procs.still_running(seen['processes']) == []
    assert [n for n, p in seen['ports'].items() if procs.port_open(p)] == []
    assert not os.path.exists(seen['rundir'])
