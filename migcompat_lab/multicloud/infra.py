"""The infrastructure half of the multi-process cloud.

MariaDB and RabbitMQ (Debian packages, started directly, private data
under the run directory), Keystone and Placement (real WSGI apps under
gunicorn), and the image/network stand-ins (``standins``), each its own
OS process on 127.0.0.1 with its own configuration files, all logging to
one directory.  ``Infra`` starts them, waits until each is ready, and
stops them all, removing the run directory, also on failure, SIGINT,
SIGTERM or SIGHUP; the Nova half starts its services through
``Infra.spawn`` so that they get the same supervision.

Python: the services run with ``python`` (default: this interpreter),
which must import keystone, placement, gunicorn and pymysql; the
supervisor itself needs psutil, kombu, keystoneauth1 and
python-keystoneclient only (Nova's environment has them).
"""

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import psutil

from migcompat_lab.multicloud import packages
from migcompat_lab.multicloud import procs
from migcompat_lab.multicloud import standins

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DATABASES = ('keystone', 'placement', 'nova_api', 'nova', 'nova_cell0')
REGION = 'RegionOne'
DB_USER = 'migcompat'
MQ_USER = 'migcompat'
ADMIN_CLOUD = 'multicloud-admin'
MEMBER_CLOUD = 'multicloud-member'
SERVICE_USERS = ('nova', 'placement')
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_MY_CNF = """\
[mysqld]
datadir = {datadir}
socket = {socket}
pid-file = {rundir}/mysqld.pid
tmpdir = {rundir}/tmp
log-error = {log}
bind-address = 127.0.0.1
port = {port}
skip-name-resolve
skip-external-locking
user = root
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
max_connections = 400
innodb_buffer_pool_size = 32M
innodb_log_file_size = 16M
innodb_log_buffer_size = 4M
innodb_flush_log_at_trx_commit = 0
innodb_doublewrite = 0
key_buffer_size = 1M
aria_pagecache_buffer_size = 1M
query_cache_size = 0
performance_schema = OFF
table_open_cache = 400
thread_cache_size = 8
"""

_RABBITMQ_CONF = """\
listeners.tcp.default = 127.0.0.1:{port}
loopback_users = none
default_user = {user}
default_pass = {password}
default_vhost = /
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
log.file.level = info
log.console = false
vm_memory_high_watermark.absolute = 512MiB
disk_free_limit.absolute = 50MB
"""

_KEYSTONE_CONF = """\
[DEFAULT]
debug = {debug}
use_stderr = true

[database]
connection = {db}

[token]
provider = fernet
expiration = 14400

[fernet_tokens]
key_repository = {dir}/fernet-keys

[credential]
key_repository = {dir}/credential-keys

[cache]
enabled = true
backend = dogpile.cache.memory

[identity]
password_hash_rounds = 4
"""

_PLACEMENT_CONF = """\
[DEFAULT]
debug = {debug}
use_stderr = true

[placement_database]
connection = {db}

[api]
auth_strategy = keystone

[keystone_authtoken]
www_authenticate_uri = {auth_url}
auth_url = {auth_url}
auth_type = password
username = placement
password = {password}
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = {region}
service_token_roles_required = true
"""


class Infra:
    """MariaDB, RabbitMQ, Keystone, Placement and the stand-ins.

    ``with Infra() as infra:`` or ``infra.start()`` / ``infra.stop()``.
    After ``start()``: ``keystone_url`` (the v3 auth URL),
    ``placement_url``, ``image_url``, ``network_url``, ``compute_url``
    (registered in the catalog for the nova-api the Nova half serves on
    ``ports['nova-api']``), ``transport_url``, ``db_url(name)``,
    ``admin_credentials``, ``member_credentials``,
    ``service_credentials(name)``, ``clouds_yaml``, ``rundir``,
    ``logdir``.
    """

    def __init__(self, rundir=None, logdir=None, keep=False, python=None,
                 timeout=120, debug=False, handle_signals=True,
                 log=None):
        self._own_rundir = rundir is None
        self.rundir = os.path.abspath(rundir) if rundir else None
        self.logdir = os.path.abspath(logdir) if logdir else None
        self.keep = keep
        self.python = python or sys.executable
        self.timeout = timeout
        self.debug = debug
        self.handle_signals = handle_signals
        self._log = log or (lambda msg: print(msg, file=sys.stderr,
                                              flush=True))
        self.services = []
        self.ports = {}
        self.password = 'mc-' + os.urandom(6).hex()
        self.timings = {}
        self._cleanups = []
        self._old_handlers = {}
        self._started = False
        self._stopped = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------ API ---

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def keystone_url(self):
        return 'http://127.0.0.1:%d/v3' % self.ports['keystone']

    @property
    def identity_endpoint(self):
        return 'http://127.0.0.1:%d' % self.ports['keystone']

    @property
    def placement_url(self):
        return 'http://127.0.0.1:%d' % self.ports['placement']

    @property
    def image_url(self):
        return 'http://127.0.0.1:%d' % self.ports['image']

    @property
    def network_url(self):
        return 'http://127.0.0.1:%d' % self.ports['network']

    @property
    def compute_url(self):
        return 'http://127.0.0.1:%d/v2.1' % self.ports['nova-api']

    @property
    def transport_url(self):
        return 'rabbit://%s:%s@127.0.0.1:%d/' % (
            MQ_USER, self.password, self.ports['rabbitmq'])

    @property
    def db_socket(self):
        return os.path.join(self.rundir, 'mysql', 'mysqld.sock')

    def db_url(self, name):
        return 'mysql+pymysql://%s:%s@127.0.0.1:%d/%s?charset=utf8mb4' % (
            DB_USER, self.password, self.ports['mariadb'], name)

    def _creds(self, user, project):
        return {'auth_url': self.keystone_url, 'username': user,
                'password': self.password, 'project_name': project,
                'user_domain_name': 'Default',
                'project_domain_name': 'Default', 'region_name': REGION}

    @property
    def admin_credentials(self):
        return self._creds('admin', 'admin')

    @property
    def member_credentials(self):
        return self._creds('demo', 'demo')

    def service_credentials(self, name):
        """Credentials of the ``nova`` or ``placement`` service user."""
        return self._creds(name, 'service')

    @property
    def clouds_yaml(self):
        return os.path.join(self.rundir, 'clouds.yaml')

    @property
    def image_id(self):
        return standins.IMAGE_ID

    def session(self, creds=None):
        """A keystoneauth1 session (admin unless ``creds`` is given)."""
        from keystoneauth1.identity import v3
        from keystoneauth1 import session
        c = dict(creds or self.admin_credentials)
        c.pop('region_name', None)
        return session.Session(auth=v3.Password(**c))

    def reserve_port(self, name):
        """A free 127.0.0.1 port, remembered in ``ports[name]``."""
        if name not in self.ports:
            self.ports[name] = procs.free_port(
                taken=set(self.ports.values()))
        return self.ports[name]

    def spawn(self, name, argv, env=None, cwd=None):
        """Start a supervised service logging to ``<logdir>/<name>.log``.

        ``env`` is added to a copy of this process's environment (without
        ``OS_*`` variables), with the repository on ``PYTHONPATH``.
        """
        full = {k: v for k, v in os.environ.items()
                if not k.startswith('OS_')}
        full['PYTHONPATH'] = os.pathsep.join(
            p for p in (REPO, os.environ.get('PYTHONPATH')) if p)
        full.update(env or {})
        with self._lock:
            if self._stopped:
                raise procs.StartError('stopping; not starting %s' % name)
            svc = procs.Service(name, argv,
                                os.path.join(self.logdir, name + '.log'),
                                env=full, cwd=cwd or self.rundir)
            self.services.append(svc)
        self._save_state()
        return svc

    def run(self, name, argv, env=None, timeout=None, log=None):
        """Run a one-shot command (supervised while it runs); fail loudly."""
        svc = self.spawn(log or name, argv, env=env)
        try:
            svc.popen.wait(timeout=timeout or self.timeout)
        except Exception:
            svc.stop()
            raise procs.StartError('%s timed out; see %s' % (name,
                                                             svc.logfile))
        finally:
            with self._lock:
                if svc in self.services:
                    self.services.remove(svc)
        if svc.popen.returncode != 0:
            raise procs.StartError('%s failed (%s); end of %s:\n%s' % (
                name, svc.popen.returncode, svc.logfile,
                procs.tail(svc.logfile)))

    def python_cmd(self, module, func='main'):
        """argv running ``module:func`` as a console script would."""
        return [self.python, '-c',
                'import sys; from %s import %s; sys.exit(%s())'
                % (module, func, func)]

    def gunicorn(self, name, app, port, env=None, threads=4):
        """Serve the WSGI ``app`` ("module:callable") on 127.0.0.1:port.

        ``port`` may be a list of ports.
        """
        binds = []
        for p in (port if isinstance(port, (list, tuple)) else [port]):
            binds += ['--bind', '127.0.0.1:%d' % p]
        return self.spawn(name, [self.python, '-m', 'gunicorn'] + binds + [
            '--workers', '1', '--worker-class', 'gthread',
            '--threads', str(threads), '--timeout', '300',
            '--graceful-timeout', '5', '--access-logfile', '-',
            '--error-logfile', '-', '--no-control-socket', app], env=env)

    def add_cleanup(self, func, *args):
        """Call ``func(*args)`` at teardown (LIFO, before the processes)."""
        self._cleanups.append((func, args))

    def memory(self):
        """{service: (rss, pss)} in bytes over each service's processes."""
        out = {}
        for svc in list(self.services):
            rss = pss = 0
            for p in svc.processes():
                try:
                    mi = p.memory_full_info()
                    rss += mi.rss
                    pss += getattr(mi, 'pss', mi.rss)
                except psutil.Error:
                    pass
            out[svc.name] = (rss, pss)
        return out

    def pids(self):
        return sorted({p.pid for s in self.services for p in s.processes()})

    def process_records(self):
        """[(pid, create_time)] of every live process of every service."""
        return sorted({(p.pid, p.create_time())
                       for s in self.services for p in s.processes()})

    # ---------------------------------------------------------- start ---

    def start(self):
        if self._started:
            return self
        self._started = True
        t0 = time.monotonic()
        atexit.register(self.stop)
        if (self.handle_signals
                and threading.current_thread() is threading.main_thread()):
            for sig in _SIGNALS:
                self._old_handlers[sig] = signal.signal(sig, _raise_signal)
        packages.ensure_packages(log=self._log)
        self._check_python()
        if self.rundir is None:
            self.rundir = tempfile.mkdtemp(prefix='migcompat-multicloud-')
        os.makedirs(self.rundir, exist_ok=True)
        self.logdir = self.logdir or os.path.join(self.rundir, 'logs')
        os.makedirs(self.logdir, exist_ok=True)
        for name in ('mariadb', 'rabbitmq', 'rabbitmq-dist', 'epmd',
                     'keystone', 'placement', 'image', 'network',
                     'nova-api'):
            self.reserve_port(name)
        self._log('run dir %s, logs %s' % (self.rundir, self.logdir))

        mysqld = self._start_mariadb()
        beam = self._start_rabbitmq()
        stand = self.gunicorn(
            'standins', 'migcompat_lab.multicloud.standins:app',
            [self.ports['image'], self.ports['network']], threads=2,
            env={'MC_IMAGE_PORT': str(self.ports['image'])})
        self._wait_mariadb(mysqld)
        self._mark('mariadb', t0)
        self._setup_keystone_and_placement_db()
        self._mark('db_sync', t0)
        ks_env = {'OS_KEYSTONE_CONFIG_DIR': os.path.join(self.rundir,
                                                         'keystone')}
        keystone = self.gunicorn('keystone', 'migcompat_lab.multicloud.'
                                 'keystone_wsgi:application',
                                 self.ports['keystone'], env=ks_env)
        pl_env = {'OS_PLACEMENT_CONFIG_DIR': os.path.join(self.rundir,
                                                          'placement')}
        placement = self.gunicorn('placement',
                                  'placement.wsgi.api:application',
                                  self.ports['placement'], env=pl_env)
        procs.wait_http(self.keystone_url, self.timeout, keystone)
        self._mark('keystone', t0)
        self._populate_keystone()
        self._mark('catalog', t0)
        procs.wait_http(self.placement_url, self.timeout, placement)
        procs.wait_http(self.image_url + '/versions', self.timeout, stand)
        procs.wait_http(self.network_url + '/', self.timeout, stand)
        self._wait_rabbitmq(beam)
        self._mark('rabbitmq', t0)
        self._write_clouds_yaml()
        self._save_state()
        self._mark('ready', t0)
        self._log('ready in %.1fs' % self.timings['ready'])
        return self

    def _mark(self, what, t0):
        self.timings[what] = round(time.monotonic() - t0, 2)

    def _check_python(self):
        code = 'import keystone, placement, gunicorn, pymysql'
        r = subprocess.run([self.python, '-c', code], capture_output=True,
                           text=True)
        if r.returncode:
            raise procs.StartError(
                '%s cannot import the services (%s); use the venv of '
                'doc/source/multicloud.rst'
                % (self.python, r.stderr.strip()[-300:]))

    def _start_mariadb(self):
        d = os.path.join(self.rundir, 'mysql')
        datadir = os.path.join(d, 'data')
        os.makedirs(os.path.join(d, 'tmp'), exist_ok=True)
        cnf = os.path.join(d, 'my.cnf')
        with open(cnf, 'w') as f:
            f.write(_MY_CNF.format(datadir=datadir, socket=self.db_socket,
                                   rundir=d, port=self.ports['mariadb'],
                                   log=os.path.join(self.logdir,
                                                    'mariadb.log')))
        self.run('mariadb-install-db', [
            'mariadb-install-db', '--defaults-file=' + cnf,
            '--datadir=' + datadir, '--user=root', '--skip-test-db',
            '--auth-root-authentication-method=normal'],
            log='mariadb-install')
        return self.spawn('mariadb', [shutil.which('mariadbd') or
                                      '/usr/sbin/mariadbd',
                                      '--defaults-file=' + cnf])

    def sql(self, statements, user='root', password=''):
        """Run SQL with the ``mariadb`` client (root over the socket).

        Returns the tab-separated output.  The supervisor needs no MySQL
        driver: only the services' Python has PyMySQL.
        """
        argv = ['mariadb', '--no-defaults', '--batch', '--skip-column-names']
        if user == 'root':
            argv += ['--socket=' + self.db_socket, '--user=root']
        else:
            argv += ['--host=127.0.0.1', '--port=%d' % self.ports['mariadb'],
                     '--user=' + user]
        env = dict(os.environ, MYSQL_PWD=password)
        r = subprocess.run(argv + ['-e', statements], capture_output=True,
                           text=True, env=env, timeout=30)
        if r.returncode:
            raise procs.StartError('SQL failed: %s' % r.stderr.strip())
        return r.stdout

    def _wait_mariadb(self, mysqld):
        procs.wait_for('mariadb', lambda: self.sql('SELECT 1'),
                       self.timeout, mysqld)
        self.sql("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s';" % (
            DB_USER, self.password) + ''.join(
                self._create_db_sql(db) for db in DATABASES))

    def _create_db_sql(self, name):
        return ("CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4; "
                "GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'127.0.0.1';"
                % (name, name, DB_USER))

    def create_database(self, name):
        """One more database the DB user may use (the Nova half's)."""
        self.sql(self._create_db_sql(name))
        return self.db_url(name)

    def _start_rabbitmq(self):
        d = os.path.join(self.rundir, 'rabbitmq')
        for sub in ('mnesia', 'log', 'home'):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(os.path.join(d, 'rabbitmq.conf'), 'w') as f:
            f.write(_RABBITMQ_CONF.format(port=self.ports['rabbitmq'],
                                          user=MQ_USER,
                                          password=self.password))
        with open(os.path.join(d, 'enabled_plugins'), 'w') as f:
            f.write('[].\n')
        open(os.path.join(d, 'rabbitmq-env.conf'), 'w').close()
        self._mq_env = self.rabbitmq_env()
        # Ours by construction: a port nobody listened on before.
        if procs.port_open(self.ports['epmd']):
            raise procs.StartError('epmd port %d taken' % self.ports['epmd'])
        return self.spawn('rabbitmq', [os.path.join(
            packages.RABBITMQ_BIN, 'rabbitmq-server')], env=self._mq_env)

    def rabbitmq_env(self):
        """The environment for ``rabbitmqctl``/``rabbitmq-diagnostics``."""
        d = os.path.join(self.rundir, 'rabbitmq')
        only_lo = '-kernel inet_dist_use_interface {127,0,0,1}'
        return {
            'RABBITMQ_NODENAME': 'migcompat-%d@localhost'
                                 % self.ports['rabbitmq'],
            'RABBITMQ_NODE_IP_ADDRESS': '127.0.0.1',
            'RABBITMQ_NODE_PORT': str(self.ports['rabbitmq']),
            'RABBITMQ_DIST_PORT': str(self.ports['rabbitmq-dist']),
            'RABBITMQ_MNESIA_BASE': os.path.join(d, 'mnesia'),
            'RABBITMQ_LOG_BASE': os.path.join(d, 'log'),
            'RABBITMQ_LOGS': os.path.join(self.logdir, 'rabbitmq.log'),
            'RABBITMQ_CONFIG_FILE': os.path.join(d, 'rabbitmq'),
            'RABBITMQ_ADVANCED_CONFIG_FILE': os.path.join(d, 'advanced'
                                                          '.config'),
            'RABBITMQ_CONF_ENV_FILE': os.path.join(d, 'rabbitmq-env.conf'),
            'RABBITMQ_ENABLED_PLUGINS_FILE': os.path.join(
                d, 'enabled_plugins'),
            'RABBITMQ_PID_FILE': os.path.join(d, 'rabbitmq.pid'),
            'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS': (
                '+S 1:1 +A 4 +sbwt none +sbwtdcpu none +sbwtdio none '
                '+MBas ageffcbf +MHas ageffcbf +MBlmbcs 512 +MHlmbcs 512 '
                '+MMmcs 30 +P 65536 ' + only_lo),
            'RABBITMQ_CTL_ERL_ARGS': only_lo,
            # The script then execs the VM instead of forking it behind a
            # signal-forwarding shell: the VM keeps the pid we started
            # (and PR_SET_PDEATHSIG); SIGTERM still stops it cleanly.
            # Nothing else depends on it without a NOTIFY_SOCKET.
            'RUNNING_UNDER_SYSTEMD': 'true',
            'ERL_EPMD_ADDRESS': '127.0.0.1',
            'ERL_EPMD_PORT': str(self.ports['epmd']),
            'HOME': os.path.join(d, 'home'),
        }

    def rabbitmqctl(self, *args, tool='rabbitmqctl'):
        """Run ``rabbitmqctl`` (or ``rabbitmq-diagnostics``, ...) on it."""
        r = subprocess.run(
            [os.path.join(packages.RABBITMQ_BIN, tool), '-q'] + list(args),
            env=dict(os.environ, **self.rabbitmq_env()),
            capture_output=True, text=True, timeout=120)
        if r.returncode:
            raise procs.StartError('%s %s failed: %s' % (
                tool, ' '.join(args), r.stderr.strip()[-500:]))
        return r.stdout

    def _wait_rabbitmq(self, beam):
        import kombu

        def connect():
            url = 'amqp' + self.transport_url[len('rabbit'):]
            with kombu.Connection(url, connect_timeout=2) as c:
                c.connect()
                return c.connected
        procs.wait_for('rabbitmq', connect, self.timeout, beam)
        # epmd daemonised itself: adopt it (the port was free before); the
        # VM too, should it not be the process we started.
        known = {p.pid for p in beam.processes()}
        for port, name in ((self.ports['epmd'], 'epmd'),
                           (self.ports['rabbitmq'], 'beam.smp')):
            for pid in procs.listeners(port):
                if pid not in known and psutil.Process(pid).name() == name:
                    beam.adopt(pid)

    def _setup_keystone_and_placement_db(self):
        kd = os.path.join(self.rundir, 'keystone')
        pd = os.path.join(self.rundir, 'placement')
        os.makedirs(kd, exist_ok=True)
        os.makedirs(pd, exist_ok=True)
        kconf = os.path.join(kd, 'keystone.conf')
        with open(kconf, 'w') as f:
            f.write(_KEYSTONE_CONF.format(db=self.db_url('keystone'),
                                          dir=kd, debug=self.debug))
        pconf = os.path.join(pd, 'placement.conf')
        with open(pconf, 'w') as f:
            f.write(_PLACEMENT_CONF.format(
                db=self.db_url('placement'), auth_url=self.keystone_url,
                password=self.password, region=REGION, debug=self.debug))
        ksm = self.python_cmd('keystone.cmd.manage') + [
            '--config-file', kconf]
        # The two schema migrations run side by side.
        psync = self.spawn('placement-manage', self.python_cmd(
            'placement.cmd.manage') + ['--config-file', pconf, 'db',
                                       'sync'])
        self.run('keystone-manage', ksm + ['db_sync'])
        for what in ('fernet_setup', 'credential_setup'):
            self.run('keystone-manage', ksm + [
                what, '--keystone-user', 'root', '--keystone-group', 'root'])
        self.run('keystone-manage', ksm + [
            'bootstrap', '--bootstrap-password', self.password,
            '--bootstrap-username', 'admin',
            '--bootstrap-project-name', 'admin',
            '--bootstrap-role-name', 'admin',
            '--bootstrap-service-name', 'keystone',
            '--bootstrap-region-id', REGION,
            '--bootstrap-admin-url', self.identity_endpoint,
            '--bootstrap-internal-url', self.identity_endpoint,
            '--bootstrap-public-url', self.identity_endpoint])
        try:
            psync.popen.wait(self.timeout)
        finally:
            with self._lock:
                self.services.remove(psync)
        if psync.popen.returncode:
            raise procs.StartError('placement-manage db sync failed; end of '
                                   '%s:\n%s' % (psync.logfile,
                                                procs.tail(psync.logfile)))

    def _populate_keystone(self):
        from keystoneclient.v3 import client
        ks = client.Client(session=self.session(), interface='public',
                           region_name=REGION)
        roles = {r.name: r for r in ks.roles.list()}
        for name in ('member', 'reader', 'service'):
            if name not in roles:
                roles[name] = ks.roles.create(name)
        service_project = ks.projects.create('service', 'default',
                                             description='service users')
        demo = ks.projects.create('demo', 'default', description='member')
        user = ks.users.create('demo', domain='default',
                               password=self.password,
                               default_project=demo)
        ks.roles.grant(roles['member'], user=user, project=demo)
        for name in SERVICE_USERS:
            u = ks.users.create(name, domain='default',
                                password=self.password,
                                default_project=service_project)
            for role in ('admin', 'service'):
                ks.roles.grant(roles[role], user=u, project=service_project)
        for name, stype, url in (
                ('placement', 'placement', self.placement_url),
                ('nova', 'compute', self.compute_url),
                ('glance', 'image', self.image_url),
                ('neutron', 'network', self.network_url)):
            svc = ks.services.create(name, type=stype,
                                     description='%s (%s)' % (name, stype))
            for interface in ('public', 'internal', 'admin'):
                ks.endpoints.create(svc, url, interface=interface,
                                    region=REGION)

    def _write_clouds_yaml(self):
        clouds = {}
        for cloud, creds in ((ADMIN_CLOUD, self.admin_credentials),
                             (MEMBER_CLOUD, self.member_credentials)):
            c = dict(creds)
            region = c.pop('region_name')
            clouds[cloud] = {'auth': c, 'region_name': region,
                             'identity_api_version': 3,
                             'interface': 'public'}
        # JSON is YAML; no YAML writer needed.
        with open(self.clouds_yaml, 'w') as f:
            json.dump({'clouds': clouds}, f, indent=2)

    def _save_state(self):
        if not self.rundir or not os.path.isdir(self.rundir):
            return
        state = {'pid': os.getpid(), 'ports': self.ports,
                 'services': [s.record() for s in list(self.services)]}
        tmp = os.path.join(self.rundir, '.state.json.tmp')
        with open(tmp, 'w') as f:
            json.dump(state, f, indent=1)
        os.replace(tmp, os.path.join(self.rundir, 'state.json'))

    # ----------------------------------------------------------- stop ---

    def stop(self):
        """Stop everything started; remove the run dir unless ``keep``.

        Idempotent.  Returns the pids still alive afterwards (none).
        """
        with self._lock:
            if self._stopped or not self._started:
                return []
            self._stopped = True
        if self._old_handlers:
            # A second Ctrl-C must not interrupt the teardown itself.
            for sig in self._old_handlers:
                signal.signal(sig, signal.SIG_IGN)
        for func, args in reversed(self._cleanups):
            try:
                func(*args)
            except Exception as e:
                self._log('cleanup %s failed: %s' % (func, e))
        left = []
        for svc in reversed(self.services):
            left += svc.stop()
        if 'epmd' in self.ports:
            # An epmd nobody adopted (rabbit died before readiness): the
            # port was free when we started, so what listens now is ours.
            for pid in procs.listeners(self.ports['epmd']):
                try:
                    p = psutil.Process(pid)
                    if p.name() == 'epmd':
                        p.kill()
                        p.wait(5)
                except psutil.Error:
                    pass
        if left:
            self._log('still alive after teardown: %s' % left)
        if self.rundir and os.path.isdir(self.rundir) and not self.keep:
            shutil.rmtree(self.rundir, ignore_errors=True)
        for sig, old in self._old_handlers.items():
            try:
                signal.signal(sig, old)
            except (ValueError, TypeError):
                pass
        self._old_handlers = {}
        try:
            atexit.unregister(self.stop)
        except Exception:
            pass
        return left


def _raise_signal(signum, frame):
    """SIGTERM/SIGHUP as SIGINT: unwinds through every ``finally``."""
    raise KeyboardInterrupt('signal %d' % signum)
