"""The Nova half of the multi-process cloud.

On top of ``infra.Infra``: nova-api (gunicorn, ``nova.wsgi.osapi_compute``),
nova-conductor, nova-scheduler and one nova-compute per host, each its
own OS process reading its own configuration files, and one
``nova-migcompat-agent`` per compute on a FUSE-emulated device tree of its
own.  The filter and the agents' configuration files are written by the
DevStack plugin itself (``devstack.py``), so the cloud is configured as
the plugin configures a DevStack cloud.

The fleet (``FLEET``): three hosts with two physical GPUs each, vGPU type
nvidia-35, vGPU manager migration versions 2.1, 2.0 and 2.3 (policy
``same_major``: a host accepts the strings of its own major version up to
its own minor).  The scheduler weighs by free RAM only
(``weight_classes = RAMWeigher``): servers boot on compute1 (most RAM);
among the others it prefers compute2, which *refuses* compute1's 2.1
string, over compute3, which accepts it.  Only the filter sends a live
migration from compute1 to compute3.
"""

import copy
import json
import os
import shutil
import sys
import time

from migcompat_lab.multicloud import devstack
from migcompat_lab.multicloud import procs

FILTER = 'MigrationCompatibilityFilter'
MDEV_TYPE = 'nvidia-35'
PGPUS = ('0000:81:00.0', '0000:82:00.0')
VGPUS_PER_PGPU = 4
#: nova_compute.COMPUTE_DRIVER (not imported here: it monkey-patches).
COMPUTE_DRIVER = 'migcompat_multicloud.VGPUFakeDriver'


class Host:
    def __init__(self, name, version, memory_mb, driver_version):
        self.name = name
        self.version = version          # (major, minor)
        self.memory_mb = memory_mb
        self.driver_version = driver_version

    def __repr__(self):
        return '%s (vGPU migration version %d.%d, %d MiB)' % (
            self.name, self.version[0], self.version[1], self.memory_mb)


FLEET = (
    Host('compute1', (2, 1), 16384, '535.104.05'),
    Host('compute2', (2, 0), 12288, '525.60.13'),
    Host('compute3', (2, 3), 8192, '550.54.14'),
)


def device_spec(host):
    """The emulated device tree of ``host`` (migcompat_lab.emulation spec).

    The format of the bundled examples ``nvidia-a``/``nvidia-b``, with the
    driver's physical GPUs and the host's version.
    """
    string = json.dumps({
        'device_api': 'vfio-pci', 'vendor': 'nvidia',
        'version': {'major': host.version[0], 'minor': host.version[1]},
        'vfio-pci': {'vendor': 4318, 'device': 7864},
        'mdev_attrs': [{'mdev_type': MDEV_TYPE}]}, separators=(',', ':'))
    mv = {'string': string, 'policy': 'same_major',
          'version_regex': r'"major":(?P<major>\d+),"minor":(?P<minor>\d+)'}
    return {
        'host': host.name,
        'modules': {'nvidia': {'version': host.driver_version}},
        'pci': [{
            'address': address, 'vendor': 0x10de, 'device': 0x1eb8,
            'class': 0x030200, 'driver': 'nvidia',
            'mdev_types': [{
                'name': MDEV_TYPE, 'pretty_name': 'GRID T4-2Q',
                'device_api': 'vfio-pci',
                'available_instances': VGPUS_PER_PGPU,
                'migration_version': copy.deepcopy(mv)}],
        } for address in PGPUS],
    }


def _ini(sections):
    """An ini file's text from {section: {option: value or [values]}}."""
    out = []
    for section, options in sections.items():
        out.append('[%s]' % section)
        for k, v in options.items():
            for value in (v if isinstance(v, list) else [v]):
                out.append('%s = %s' % (k, value))
        out.append('')
    return '\n'.join(out)


def _auth_section(creds, **extra):
    s = {'auth_type': 'password', 'auth_url': creds['auth_url'],
         'username': creds['username'], 'password': creds['password'],
         'project_name': creds['project_name'],
         'user_domain_name': creds['user_domain_name'],
         'project_domain_name': creds['project_domain_name'],
         'region_name': creds['region_name']}
    s.update(extra)
    return s


def api_paste_ini():
    """Nova's api-paste.ini, as installed with Nova (``<prefix>/etc``)."""
    import nova
    # <prefix>/lib/pythonX.Y/site-packages/nova/__init__.py
    prefix = os.path.abspath(nova.__file__)
    for _ in range(5):
        prefix = os.path.dirname(prefix)
    for base in (prefix, sys.prefix):
        path = os.path.join(base, 'etc', 'nova', 'api-paste.ini')
        if os.path.exists(path):
            return path
    raise procs.StartError('api-paste.ini not found under %s' % prefix)


class NovaCloud:
    """Nova and the agents on an ``Infra`` that has started.

    ``NovaCloud(infra).start()``; its processes, mounts and files are torn
    down with the infra (``infra.stop()``).
    """

    def __init__(self, infra, fleet=FLEET, filter_enabled=True,
                 agent_interval=5, debug=True, timeout=180):
        self.infra = infra
        self.fleet = fleet
        self.filter_enabled = filter_enabled
        self.agent_interval = agent_interval
        self.debug = debug
        self.timeout = timeout
        self.timings = {}
        self.sysfs = {}
        self.services = {}

    # ----------------------------------------------------------- paths ---

    @property
    def etc(self):
        return os.path.join(self.infra.rundir, 'nova')

    @property
    def nova_conf(self):
        return os.path.join(self.etc, 'nova.conf')

    def host_dir(self, host):
        return os.path.join(self.infra.rundir, host.name)

    def cpu_conf(self, host):
        return os.path.join(self.host_dir(host), 'nova-cpu.conf')

    def agent_conf(self, host):
        return os.path.join(self.host_dir(host), 'nova-migcompat-agent.conf')

    def sysfs_root(self, host):
        return os.path.join(self.host_dir(host), 'sys')

    def state_path(self, host):
        """[migcompat]state_path, as the plugin wrote it."""
        import configparser
        p = configparser.ConfigParser(interpolation=None, strict=False)
        p.read(self.agent_conf(host))
        return p.get('migcompat', 'state_path')

    # ---------------------------------------------------------- config ---

    def _common(self, name, state_path):
        infra = self.infra
        nova = infra.service_credentials('nova')
        return {
            'DEFAULT': {
                'debug': self.debug, 'transport_url': infra.transport_url,
                'my_ip': '127.0.0.1', 'state_path': state_path,
                'use_stderr': 'true', 'host': name,
                'graceful_shutdown_timeout': 5,
            },
            'oslo_concurrency': {'lock_path': os.path.join(state_path,
                                                           'locks')},
            # As devstack's configure_placement_nova_compute: the
            # placement service user.
            'placement': _auth_section(infra.service_credentials(
                'placement'), valid_interfaces='public'),
            'service_user': _auth_section(
                nova, send_service_user_token='true'),
            'neutron': _auth_section(nova, valid_interfaces='public'),
            'glance': {'region_name': nova['region_name'],
                       'valid_interfaces': 'public'},
            'cinder': {'os_region_name': nova['region_name']},
            'vnc': {'enabled': 'false'},
            'wsgi': {'api_paste_config': os.path.join(self.etc,
                                                      'api-paste.ini')},
        }

    def write_configs(self):
        infra = self.infra
        os.makedirs(self.etc, exist_ok=True)
        shutil.copy(api_paste_ini(), os.path.join(self.etc, 'api-paste.ini'))
        conf = self._common('controller', os.path.join(self.etc, 'state'))
        nova = infra.service_credentials('nova')
        conf.update({
            'api_database': {'connection': infra.db_url('nova_api')},
            'database': {'connection': infra.db_url('nova')},
            'api': {'auth_strategy': 'keystone'},
            'keystone_authtoken': dict(_auth_section(nova), **{
                'www_authenticate_uri': infra.keystone_url,
                'service_token_roles_required': 'true'}),
            'scheduler': {'workers': 1,
                          'discover_hosts_in_cells_interval': -1},
            'conductor': {'workers': 1},
            # devstack's create_nova_conf writes NOVA_FILTERS; the plugin
            # then adds the filter (post-config).
            'filter_scheduler': {
                'enabled_filters': devstack.NOVA_FILTERS,
                'weight_classes': 'nova.scheduler.weights.ram.RAMWeigher',
            },
        })
        with open(self.nova_conf, 'w') as f:
            f.write(_ini(conf))
        devstack.configure_filter(os.path.join(self.etc, 'devstack'),
                                  self.nova_conf)
        if not self.filter_enabled:
            self._remove_filter()
        for host in self.fleet:
            d = self.host_dir(host)
            os.makedirs(d, exist_ok=True)
            conf = self._common(host.name, os.path.join(d, 'state'))
            conf['DEFAULT'].update({
                'compute_driver': COMPUTE_DRIVER,
                'instances_path': os.path.join(d, 'instances')})
            conf['compute'] = {'live_migration_wait_for_vif_plug': 'false'}
            conf['devices'] = {'enabled_mdev_types': MDEV_TYPE}
            conf['multicloud_driver'] = {
                'memory_mb': host.memory_mb, 'pgpus': ','.join(PGPUS),
                'vgpus_per_pgpu': VGPUS_PER_PGPU}
            with open(self.cpu_conf(host), 'w') as f:
                f.write(_ini(conf))

    def _remove_filter(self):
        """Take the filter out of enabled_filters, as an operator would."""
        lines = []
        with open(self.nova_conf) as f:
            for line in f:
                if line.startswith('enabled_filters'):
                    key, value = line.split('=', 1)
                    kept = [v.strip() for v in value.split(',')
                            if v.strip() and v.strip() != FILTER]
                    line = '%s= %s\n' % (key, ','.join(kept))
                lines.append(line)
        with open(self.nova_conf, 'w') as f:
            f.writelines(lines)

    def enabled_filters(self):
        with open(self.nova_conf) as f:
            for line in f:
                if line.startswith('enabled_filters'):
                    return [v.strip() for v in line.split('=', 1)[1].split(
                        ',') if v.strip()]
        return []

    # ----------------------------------------------------------- start ---

    def _mark(self, what, t0):
        self.timings[what] = round(time.monotonic() - t0, 2)

    def _manage(self, *args):
        self.infra.run('nova-manage', self.infra.python_cmd(
            'nova.cmd.manage') + ['--config-file', self.nova_conf] +
            list(args), timeout=300)

    def start(self):
        infra = self.infra
        t0 = time.monotonic()
        self.write_configs()
        self._manage('api_db', 'sync')
        self._manage('cell_v2', 'map_cell0')
        self._manage('cell_v2', 'create_cell', '--name', 'cell1')
        self._manage('db', 'sync')
        self._mark('nova_db_sync', t0)
        env = {'OS_NOVA_CONFIG_DIR': self.etc}
        api = infra.gunicorn('nova-api', 'migcompat_lab.multicloud.'
                             'nova_api_wsgi:application',
                             infra.ports['nova-api'],
                             env=env, threads=4)
        self.services['nova-api'] = api
        for name, module in (('nova-conductor', 'nova.cmd.conductor'),
                             ('nova-scheduler', 'nova.cmd.scheduler')):
            self.services[name] = infra.spawn(name, infra.python_cmd(
                module) + ['--config-file', self.nova_conf])
        self._mount_device_trees()
        # LIFO: runs before the unmounts, and before Infra stops its
        # services one by one (nova-compute takes its time on SIGTERM).
        infra.add_cleanup(self._stop_services)
        for host in self.fleet:
            name = 'nova-compute-%s' % host.name
            self.services[name] = infra.spawn(name, infra.python_cmd(
                'migcompat_lab.multicloud.nova_compute') + [
                    '--config-file', self.cpu_conf(host)])
        procs.wait_http('http://127.0.0.1:%d/' % infra.ports['nova-api'],
                        self.timeout, api)
        self._mark('nova_api', t0)
        self._wait_services()
        self._mark('computes_up', t0)
        self._manage('cell_v2', 'discover_hosts', '--verbose')
        self._wait_hypervisors()
        self._mark('hosts_discovered', t0)
        self._start_agents()
        self._wait_agents()
        self._mark('agents_converged', t0)
        return self

    def _mount_device_trees(self):
        from migcompat_lab.emulation import mount
        for host in self.fleet:
            fs = mount.EmulatedSysfs(
                device_spec(host), self.sysfs_root(host),
                workdir=os.path.join(self.host_dir(host), 'emulation'))
            self.infra.add_cleanup(fs.stop)
            fs.start()
            self.sysfs[host.name] = fs

    def _stop_services(self):
        """Stop the Nova services and agents side by side."""
        import threading
        threads = [threading.Thread(target=svc.stop, kwargs={'timeout': 10})
                   for svc in self.services.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _check_alive(self):
        for svc in self.services.values():
            svc.check_alive()

    def get(self, path):
        """GET on the compute API as admin (microversion 2.53)."""
        r = self.infra.session().get(
            self.infra.compute_url + path,
            headers={'OpenStack-API-Version': 'compute 2.53'},
            raise_exc=False)
        if r.status_code != 200:
            raise RuntimeError('GET %s: %s %s' % (path, r.status_code,
                                                  r.text[:300]))
        return r.json()

    def _wait_services(self):
        want = {h.name for h in self.fleet}

        def up():
            self._check_alive()
            svcs = self.get('/os-services')['services']
            ups = {s['host'] for s in svcs if s['binary'] == 'nova-compute'
                   and s['state'] == 'up'}
            others = {s['binary'] for s in svcs if s['state'] == 'up'}
            return want <= ups and {'nova-conductor',
                                    'nova-scheduler'} <= others
        procs.wait_for('nova services up', up, self.timeout)

    def _wait_hypervisors(self):
        want = {h.name for h in self.fleet}

        def listed():
            self._check_alive()
            hs = self.get('/os-hypervisors/detail')['hypervisors']
            return want <= {h['hypervisor_hostname'] for h in hs
                            if h['state'] == 'up'}
        procs.wait_for('hypervisors', listed, self.timeout)

    def _start_agents(self):
        bindir = os.path.join(self.infra.rundir, 'bin')
        os.makedirs(bindir, exist_ok=True)
        script = os.path.join(bindir, 'nova-migcompat-agent')
        with open(script, 'w') as f:
            f.write('#!%s\nimport sys\nfrom nova_migcompat.cmd.agent '
                    'import main\nsys.exit(main())\n' % self.infra.python)
        os.chmod(script, 0o755)
        for host in self.fleet:
            argv = devstack.configure_agent(
                os.path.join(self.host_dir(host), 'devstack'),
                self.cpu_conf(host), self.agent_conf(host),
                self.sysfs_root(host), self.agent_interval, bindir)
            name = 'migcompat-agent-%s' % host.name
            self.services[name] = self.infra.spawn(name, argv)

    def last_cycle(self, host):
        path = os.path.join(self.state_path(host), 'last-cycle.json')
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _wait_agents(self):
        """Every agent published, then completed one more cycle.

        A host publishes its own strings in one cycle; the others check
        them and publish their verdicts in their next cycle.
        """
        def all_ok(after):
            self._check_alive()
            found = [self.last_cycle(h) for h in self.fleet]
            if all(c and c['ok'] and c['finished_at'] > after
                   for c in found):
                return max(c['finished_at'] for c in found)
            return None
        first = procs.wait_for('agents: first cycle',
                               lambda: all_ok(0), self.timeout)
        procs.wait_for('agents: a cycle after every host published',
                       lambda: all_ok(first), self.timeout)

    # ------------------------------------------------------------ info ---

    def describe(self):
        lines = ['fleet      %s' % '; '.join(repr(h) for h in self.fleet),
                 'filters    %s' % ','.join(self.enabled_filters()),
                 'nova       %s' % ', '.join(
                     '%s %.1fs' % kv for kv in self.timings.items())]
        return '\n'.join(lines)
