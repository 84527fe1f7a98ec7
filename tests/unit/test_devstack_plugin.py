"""The DevStack plugin (devstack/plugin.sh, devstack/settings), run.

Devstack cannot run here: each test runs the plugin's phases in bash, as
stack.sh, unstack.sh and clean.sh source them (one shell per script, with
errexit as stack.sh sets it), against sample nova.conf, nova-cpu.conf and
tempest.conf files as devstack writes them, with the devstack helpers of
``devstack_shim.sh`` (which records the calls that act on the machine).
With ``DEVSTACK_DIR`` pointing at a devstack tree in the environment, the
shim sources devstack's own functions-common, inc/ini-config and
inc/python instead, and the same tests run against them.

The resulting files are read with oslo.config, as Nova, the agent and
tempest read them.
"""

import os
import pathlib
import re
import shlex
import subprocess

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
import pytest
import yaml

from nova_migcompat import conf as migcompat_conf

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHIM = pathlib.Path(__file__).resolve().parent / 'devstack_shim.sh'
PLUGIN = ROOT / 'devstack' / 'plugin.sh'
SETTINGS = ROOT / 'devstack' / 'settings'

FILTER = 'MigrationCompatibilityFilter'
FILTER_PATH = ('nova_migcompat.scheduler.filters.'
               'migration_compatibility_filter.MigrationCompatibilityFilter')
ALL_FILTERS = 'nova.scheduler.filters.all_filters'
#: lib/nova's NOVA_FILTERS, which create_nova_conf writes.
NOVA_FILTERS = ('ComputeFilter,ComputeCapabilitiesFilter,'
                'ImagePropertiesFilter,ServerGroupAntiAffinityFilter,'
                'ServerGroupAffinityFilter,SameHostFilter,DifferentHostFilter')

# A nova.conf as devstack's iniset leaves it (new options go right below
# their section's header, so each section reads bottom-up).
NOVA_CONF = """\

[DEFAULT]
shutdown_timeout = 0
metadata_listen = 0.0.0.0
osapi_compute_listen = 0.0.0.0
instance_name_template = instance-%08x
my_ip = 10.0.0.5
rootwrap_config = /etc/nova/rootwrap.conf
debug = True
transport_url = rabbit://stackrabbit:secret@10.0.0.5:5672/

[wsgi]
api_paste_config = /etc/nova/api-paste.ini

[filter_scheduler]
enabled_filters = {filters}

[scheduler]
workers = 2

[placement]
project_domain_name = Default
project_name = service
user_domain_name = Default
password = s3cret&pw
username = nova
auth_url = http://10.0.0.5/identity
interface = public
auth_type = password

[api_database]
connection = mysql+pymysql://root:secret@127.0.0.1/nova_api?charset=utf8
""".format(filters=NOVA_FILTERS)

# nova-cpu.conf: a copy of nova.conf, then start_nova_compute's changes.
NOVA_CPU_CONF = NOVA_CONF.replace(
    '[api_database]\nconnection = mysql+pymysql://root:secret@127.0.0.1/'
    'nova_api?charset=utf8\n', '[api_database]\n') + """
[workarounds]
libvirt_disable_apic = True

[devices]
enabled_mdev_types = nvidia-35
"""

TEMPEST_CONF = """\
[compute]
min_compute_nodes = 2

[compute-feature-enabled]
live_migration = False
resize = True
scheduler_enabled_filters = {filters}
""".format(filters=NOVA_FILTERS)


class Devstack:
    """One node's /etc and data directory, and the scripts run on it."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.etc = tmp_path / 'etc' / 'nova'
        self.etc.mkdir(parents=True)
        self.dest = tmp_path / 'opt' / 'stack'
        self.data = self.dest / 'data'
        self.data.mkdir(parents=True)
        self.nova_conf = self.etc / 'nova.conf'
        self.nova_cpu_conf = self.etc / 'nova-cpu.conf'
        self.agent_conf = self.etc / 'nova-migcompat-agent.conf'
        self.tempest_conf = tmp_path / 'tempest' / 'etc' / 'tempest.conf'
        self.tempest_conf.parent.mkdir(parents=True)
        self.log = tmp_path / 'calls.log'
        self.log.touch()
        self.bin = tmp_path / 'bin'
        self.bin.mkdir()
        self.nova_conf.write_text(NOVA_CONF)
        self.nova_cpu_conf.write_text(NOVA_CPU_CONF)
        self.tempest_conf.write_text(TEMPEST_CONF)
        self.user = subprocess.run(['id', '-un'], capture_output=True,
                                   text=True, check=True).stdout.strip()
        #: localrc: variables set before the plugin's settings are sourced.
        self.localrc = {
            'DEST': str(self.dest),
            'DATA_DIR': str(self.data),
            'STACK_USER': self.user,
            'GLOBAL_VENV': 'True',
            'DEVSTACK_VENV': str(self.data / 'venv'),
            'NOVA_CONF': str(self.nova_conf),
            'NOVA_CPU_CONF': str(self.nova_cpu_conf),
            'TEMPEST_CONFIG': str(self.tempest_conf),
            'NOVA_FILTERS': NOVA_FILTERS,
            'TEMPEST_PLUGINS': '0',
            'ENABLE_DEBUG_LOG_LEVEL': 'True',
            'VIRT_DRIVER': 'fake',
            'LIVE_MIGRATION_AVAILABLE': 'True',
            'NOVA_MIGCOMPAT_AGENT_CONF': str(self.agent_conf),
            # The agent's directories are created with sudo install -o.
            'NOVA_MIGCOMPAT_AGENT_USER': self.user,
            'ENABLED_SERVICES': 'key,n-api,n-cond,n-sch,n-cpu,placement-api,'
                                'tempest',
        }
        self.runs = 0

    def run(self, *phases, localrc_lines=()):
        """One script (stack.sh, unstack.sh, clean.sh) running phases.

        ``phases``: ("stack", "post-config"), ("unstack",)...  Returns the
        script's output and the variables it ends with.
        """
        self.runs += 1
        state = self.tmp / ('vars-%d' % self.runs)
        lines = ['set -o errexit',
                 'export PATH=%s:"$PATH"' % shlex.quote(str(self.bin)),
                 'DEVSTACK_SHIM_LOG=%s' % shlex.quote(str(self.log)),
                 'source %s' % shlex.quote(str(SHIM))]
        lines += ['%s=%s' % (k, shlex.quote(v))
                  for k, v in self.localrc.items()]
        lines += list(localrc_lines)
        lines.append('source %s' % shlex.quote(str(SETTINGS)))
        for phase in phases:
            lines.append('source %s %s' % (
                shlex.quote(str(PLUGIN)), ' '.join(phase)))
        lines.append('for v in NOVA_FILTERS TEMPEST_PLUGINS ENABLED_SERVICES '
                     'NOVA_MIGCOMPAT_BIN_DIR; do '
                     'echo "$v=${!v}"; done > %s' % shlex.quote(str(state)))
        env = {k: v for k, v in os.environ.items()
               if k in ('PATH', 'HOME', 'LANG', 'DEVSTACK_DIR')}
        proc = subprocess.run(['bash', '-c', '\n'.join(lines)],
                              capture_output=True, text=True, env=env,
                              cwd=self.tmp)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        variables = dict(line.split('=', 1)
                         for line in state.read_text().splitlines())
        return proc.stdout, variables

    def calls(self, name=None):
        rows = [line.split('|') for line in self.log.read_text().splitlines()]
        return [r for r in rows if name is None or r[0] == name]


@pytest.fixture
def devstack(tmp_path):
    return Devstack(tmp_path)


def read_conf(path, opts_by_group):
    """The values oslo.config reads from one file for these options."""
    conf = cfg.ConfigOpts()
    for group, opts in opts_by_group.items():
        conf.register_opts(opts, group=group)
    conf([], default_config_files=[str(path)])
    return conf


def scheduler_filters(path):
    """[filter_scheduler] as nova-scheduler reads it (nova.conf.scheduler)."""
    conf = read_conf(path, {'filter_scheduler': [
        cfg.ListOpt('enabled_filters'),
        cfg.MultiStrOpt('available_filters', default=[ALL_FILTERS])]})
    return (conf.filter_scheduler.enabled_filters,
            conf.filter_scheduler.available_filters)


def ini_sections(path):
    """{section: [(option, value), ...]} in file order, repeats kept."""
    sections = {}
    current = None
    for line in pathlib.Path(path).read_text().splitlines():
        if re.match(r'^\[.*\]$', line):
            current = sections.setdefault(line[1:-1], [])
        elif '=' in line and current is not None and not line.startswith(
                '#'):
            option, value = line.split('=', 1)
            current.append((option.strip(), value.strip()))
    return sections


# stack install
# -------------

def test_install_develops_the_project_and_registers_the_tempest_plugin(
        devstack):
    _, variables = devstack.run(('stack', 'install'))

    project = str(devstack.dest / 'nova-migcompat')
    assert devstack.calls('setup_develop') == [['setup_develop', project]]
    # The project too: the plugin requires it, and it is not on PyPI.
    assert variables['TEMPEST_PLUGINS'].split() == [
        project, project + '/tempest_plugin']
    assert variables['NOVA_MIGCOMPAT_BIN_DIR'] == str(
        devstack.data / 'venv' / 'bin')


def test_install_adds_the_tempest_plugin_to_others_once(devstack):
    devstack.localrc['TEMPEST_PLUGINS'] = '/opt/stack/other-tempest-plugin'
    _, variables = devstack.run(('stack', 'install'), ('stack', 'install'))

    assert variables['TEMPEST_PLUGINS'].split() == [
        '/opt/stack/other-tempest-plugin',
        str(devstack.dest / 'nova-migcompat'),
        str(devstack.dest / 'nova-migcompat' / 'tempest_plugin')]


def test_install_without_tempest_leaves_tempest_plugins(devstack):
    devstack.localrc['ENABLED_SERVICES'] = 'n-cpu'
    _, variables = devstack.run(('stack', 'install'))

    assert variables['TEMPEST_PLUGINS'] == '0'
    assert len(devstack.calls('setup_develop')) == 1


# stack post-config: nova.conf
# ----------------------------

def test_post_config_enables_the_filter_and_keeps_nova_conf(devstack):
    before = ini_sections(devstack.nova_conf)
    _, variables = devstack.run(('stack', 'post-config'))

    enabled, available = scheduler_filters(devstack.nova_conf)
    assert enabled == NOVA_FILTERS.split(',') + [FILTER]
    assert available == [ALL_FILTERS, FILTER_PATH]
    # lib/tempest writes NOVA_FILTERS to scheduler_enabled_filters.
    assert variables['NOVA_FILTERS'] == NOVA_FILTERS + ',' + FILTER
    # Every other option as it was.
    after = ini_sections(devstack.nova_conf)
    assert after.pop('filter_scheduler') == [
        ('available_filters', ALL_FILTERS),
        ('available_filters', FILTER_PATH),
        ('enabled_filters', NOVA_FILTERS + ',' + FILTER)]
    before.pop('filter_scheduler')
    assert after == before


def test_post_config_twice_changes_nothing_more(devstack):
    devstack.run(('stack', 'post-config'), ('stack', 'post-config'))
    once = devstack.nova_conf.read_text()
    # A second stack.sh on the same nova.conf.
    devstack.run(('stack', 'post-config'))

    assert devstack.nova_conf.read_text() == once
    enabled, available = scheduler_filters(devstack.nova_conf)
    assert enabled.count(FILTER) == 1
    assert available == [ALL_FILTERS, FILTER_PATH]


def test_post_config_keeps_other_available_filters(devstack):
    # Another plugin (blazar's, say) went first.
    text = devstack.nova_conf.read_text().replace(
        '[filter_scheduler]\n',
        '[filter_scheduler]\navailable_filters = %s\n'
        'available_filters = blazarnova.scheduler.filters.blazar_filter.'
        'BlazarFilter\n' % ALL_FILTERS)
    text = text.replace(NOVA_FILTERS, NOVA_FILTERS + ',BlazarFilter')
    devstack.nova_conf.write_text(text)

    devstack.run(('stack', 'post-config'), ('stack', 'post-config'))

    enabled, available = scheduler_filters(devstack.nova_conf)
    assert enabled == NOVA_FILTERS.split(',') + ['BlazarFilter', FILTER]
    assert available == [
        ALL_FILTERS,
        'blazarnova.scheduler.filters.blazar_filter.BlazarFilter',
        FILTER_PATH]


def test_post_config_without_enabled_filters_starts_from_devstacks(devstack):
    devstack.nova_conf.write_text(devstack.nova_conf.read_text().replace(
        'enabled_filters = %s\n' % NOVA_FILTERS, ''))

    devstack.run(('stack', 'post-config'))

    enabled, available = scheduler_filters(devstack.nova_conf)
    assert enabled == NOVA_FILTERS.split(',') + [FILTER]
    assert available == [ALL_FILTERS, FILTER_PATH]


def test_post_config_with_the_filter_listed_already(devstack):
    listed = 'ComputeFilter, %s, ImagePropertiesFilter' % FILTER
    devstack.nova_conf.write_text(devstack.nova_conf.read_text().replace(
        'enabled_filters = %s' % NOVA_FILTERS, 'enabled_filters = ' + listed))

    devstack.run(('stack', 'post-config'))

    enabled, _ = scheduler_filters(devstack.nova_conf)
    assert enabled == ['ComputeFilter', FILTER, 'ImagePropertiesFilter']


def test_post_config_only_where_the_scheduler_runs(devstack):
    devstack.localrc['ENABLED_SERVICES'] = 'n-cpu,placement-client'
    devstack.run(('stack', 'post-config'))

    assert devstack.nova_conf.read_text() == NOVA_CONF


def test_post_config_with_the_filter_turned_off(devstack):
    devstack.localrc['NOVA_MIGCOMPAT_ENABLE_FILTER'] = 'false'
    devstack.run(('stack', 'post-config'), ('stack', 'test-config'))

    assert devstack.nova_conf.read_text() == NOVA_CONF
    conf = read_conf(devstack.tempest_conf,
                     {'migcompat': [cfg.BoolOpt('filter_enabled')]})
    assert conf.migcompat.filter_enabled is False


# stack extra: the agent
# ----------------------

def agent_conf(path):
    """The agent's file, read with the agent's own options."""
    conf = cfg.ConfigOpts()
    migcompat_conf.register_opts(conf)
    migcompat_conf.register_placement_opts(conf)
    migcompat_conf.register_nova_device_opts(conf)
    conf([], default_config_files=[str(path)])
    return conf


def test_extra_writes_the_agents_conf_from_nova_cpu_conf(devstack):
    devstack.run(('stack', 'extra'))

    sections = ini_sections(devstack.agent_conf)
    cpu = ini_sections(devstack.nova_cpu_conf)
    assert sorted(sections['placement']) == sorted(cpu['placement'])
    assert sections['devices'] == [('enabled_mdev_types', 'nvidia-35')]
    assert sorted(sections) == ['DEFAULT', 'devices', 'migcompat',
                                'placement']
    assert dict(sections['migcompat']) == {
        'nodename': os.uname().nodename,
        'sysfs_root': '/sys',
        'interval': '15',
        'state_path': str(devstack.data / 'nova-migcompat' / 'state'),
        'lock_path': str(devstack.data / 'nova-migcompat' / 'agent.lock'),
    }
    assert (devstack.data / 'nova-migcompat' / 'state').is_dir()
    assert devstack.agent_conf.stat().st_mode & 0o777 == 0o640

    # As the agent reads it: the keystone credentials nova-compute has.
    conf = agent_conf(devstack.agent_conf)
    assert conf.placement.auth_type == 'password'
    assert conf.migcompat.nodename == os.uname().nodename
    assert migcompat_conf.mdev_types(conf) == ['nvidia-35']
    auth = ks_loading.load_auth_from_conf_options(conf, 'placement')
    assert auth.auth_url == 'http://10.0.0.5/identity'
    assert (auth._username, auth._password) == ('nova', 's3cret&pw')
    assert conf.placement.password == 's3cret&pw'


def test_extra_starts_the_agent_with_run_process(devstack):
    devstack.run(('stack', 'extra'))

    venv_bin = devstack.data / 'venv' / 'bin'
    assert devstack.calls('run_process') == [[
        'run_process', 'migcompat-agent',
        '%s/nova-migcompat-agent --config-file %s' % (
            venv_bin, devstack.agent_conf),
        '', devstack.user]]


def test_extra_runs_the_agent_as_root_by_default(devstack):
    del devstack.localrc['NOVA_MIGCOMPAT_AGENT_USER']
    if devstack.user != 'root':
        # sudo install -o root needs root: record it, do not run it.
        (devstack.bin / 'install').write_text('#!/bin/sh\nexit 0\n')
        (devstack.bin / 'install').chmod(0o755)
    devstack.run(('stack', 'extra'))

    (call,) = devstack.calls('run_process')
    assert call[4] == 'root'
    assert ['sudo', 'install', '-d', '-m', '0700', '-o', 'root',
            str(devstack.data / 'nova-migcompat' / 'state')] in \
        devstack.calls('sudo')


def test_extra_the_node_name_libvirt_reports(devstack):
    devstack.localrc['VIRT_DRIVER'] = 'libvirt'
    virsh = devstack.bin / 'virsh'
    virsh.write_text('#!/bin/sh\n[ "$*" = "-c qemu:///system hostname" ] '
                     '&& echo compute-7.example.org\n')
    virsh.chmod(0o755)
    devstack.run(('stack', 'extra'))

    assert agent_conf(devstack.agent_conf).migcompat.nodename == \
        'compute-7.example.org'


def test_extra_the_node_name_of_nova_cpu_conf_or_local_conf(devstack):
    devstack.nova_cpu_conf.write_text(devstack.nova_cpu_conf.read_text(
    ).replace('[DEFAULT]\n', '[DEFAULT]\nhost = fake-host-1\n'))
    devstack.run(('stack', 'extra'))
    assert agent_conf(devstack.agent_conf).migcompat.nodename == 'fake-host-1'

    devstack.localrc['NOVA_MIGCOMPAT_NODENAME'] = 'node-b'
    devstack.run(('stack', 'extra'))
    assert agent_conf(devstack.agent_conf).migcompat.nodename == 'node-b'


def test_extra_twice_writes_the_same_file(devstack):
    devstack.run(('stack', 'extra'))
    first = devstack.agent_conf.read_text()
    devstack.run(('stack', 'extra'))

    assert devstack.agent_conf.read_text() == first


def test_extra_without_n_cpu_starts_no_agent(devstack):
    devstack.localrc['ENABLED_SERVICES'] = 'n-api,n-sch,n-cond,placement-api'
    devstack.run(('stack', 'extra'))

    assert devstack.calls('run_process') == []
    assert not devstack.agent_conf.exists()


def test_extra_with_the_agent_disabled_in_local_conf(devstack):
    out, variables = devstack.run(
        ('stack', 'extra'),
        localrc_lines=['disable_service migcompat-agent'])

    assert 'migcompat-agent' not in variables['ENABLED_SERVICES'].split(',')
    assert devstack.calls('run_process') == []
    assert not devstack.agent_conf.exists()


def test_settings_enable_the_agent_service(devstack):
    _, variables = devstack.run()

    assert 'migcompat-agent' in variables['ENABLED_SERVICES'].split(',')


# stack test-config: tempest.conf
# -------------------------------

def test_test_config_configures_the_tempest_plugin(devstack):
    devstack.run(('stack', 'test-config'))

    conf = read_conf(devstack.tempest_conf, {
        'migcompat': [cfg.BoolOpt('filter_enabled')],
        'compute-feature-enabled': [
            cfg.BoolOpt('live_migration'), cfg.BoolOpt('resize'),
            cfg.ListOpt('scheduler_enabled_filters')],
        'compute': [cfg.IntOpt('min_compute_nodes')]})
    assert conf.migcompat.filter_enabled is True
    assert conf['compute-feature-enabled'].live_migration is True
    # What was there stays.
    assert conf['compute-feature-enabled'].resize is True
    assert conf.compute.min_compute_nodes == 2


def test_test_config_follows_devstacks_live_migration(devstack):
    devstack.localrc['LIVE_MIGRATION_AVAILABLE'] = 'False'
    devstack.run(('stack', 'test-config'))

    conf = read_conf(devstack.tempest_conf, {'compute-feature-enabled': [
        cfg.BoolOpt('live_migration')]})
    assert conf['compute-feature-enabled'].live_migration is False


def test_a_whole_stack_on_one_node(devstack):
    _, variables = devstack.run(('stack', 'install'),
                                ('stack', 'post-config'),
                                ('stack', 'extra'),
                                ('stack', 'test-config'))

    assert [c[0] for c in devstack.calls()
            if c[0] in ('setup_develop', 'run_process')] == [
        'setup_develop', 'run_process']
    assert FILTER in variables['NOVA_FILTERS'].split(',')
    assert scheduler_filters(devstack.nova_conf)[1] == [
        ALL_FILTERS, FILTER_PATH]


# unstack, clean
# --------------

def test_unstack_stops_the_agent(devstack):
    devstack.run(('stack', 'extra'))
    devstack.run(('unstack',))

    assert devstack.calls('stop_process') == [
        ['stop_process', 'migcompat-agent']]


def test_clean_removes_the_agents_files(devstack):
    devstack.run(('stack', 'extra'))
    (devstack.data / 'nova-migcompat' / 'agent.lock').write_text('1')
    devstack.run(('unstack',))
    devstack.run(('clean',))

    assert not devstack.agent_conf.exists()
    assert not (devstack.data / 'nova-migcompat').exists()
    # nova.conf is devstack's to recreate.
    assert devstack.nova_conf.read_text() == NOVA_CONF


# The scripts themselves
# ----------------------

@pytest.mark.parametrize('path', [PLUGIN, SETTINGS, SHIM],
                         ids=lambda p: p.name)
def test_bash_parses(path):
    proc = subprocess.run(['bash', '-n', str(path)], capture_output=True,
                          text=True)
    # bash -n reports some errors (a broken [[ ]]) with status 0.
    assert (proc.returncode, proc.stderr) == (0, '')


# .zuul.yaml
# ----------

def zuul():
    items = yaml.safe_load((ROOT / '.zuul.yaml').read_text())
    jobs = {i['job']['name']: i['job'] for i in items if 'job' in i}
    (project,) = [i['project'] for i in items if 'project' in i]
    return jobs, project


def settings_value(pattern):
    match = re.search(pattern, SETTINGS.read_text(), re.M)
    assert match, pattern
    return match.group(1)


def test_zuul_jobs_enable_the_plugin_and_its_service():
    jobs, project = zuul()
    plugin = settings_value(r'^define_plugin (\S+)$')
    service = settings_value(r'^enable_service (\S+)$')
    assert 'run_process %s ' % service in PLUGIN.read_text().replace(
        '\\\n', '').replace('  ', ' ').replace('  ', ' ')
    assert 'stop_process %s' % service in PLUGIN.read_text()

    devstack_jobs = {name: job for name, job in jobs.items()
                     if 'devstack_plugins' in job.get('vars', {})}
    assert devstack_jobs
    for name, job in devstack_jobs.items():
        plugins = job['vars']['devstack_plugins']
        assert plugins == {
            plugin: 'https://opendev.org/openstack/%s' % plugin}, name
        assert job['vars']['devstack_services'][service] is True, name
        assert re.match(job['vars']['tempest_test_regex'],
                        'nova_migcompat_tempest_plugin.tests.scenario.'
                        'test_live_migration.TestX.test_y'), name
        assert not re.match(job['vars']['tempest_test_regex'],
                            'tempest.api.compute.servers.test_servers'), name
        assert 'openstack/%s' % plugin in job['required-projects'], name


def test_zuul_multinode_job_runs_the_agent_on_the_subnode():
    jobs, _ = zuul()
    service = settings_value(r'^enable_service (\S+)$')
    multinode = [job for job in jobs.values()
                 if 'subnode' in job.get('group-vars', {})]
    assert multinode
    for job in multinode:
        subnode = job['group-vars']['subnode']
        assert subnode['devstack_services'][service] is True
        assert job['vars']['devstack_localrc'][
            'LIVE_MIGRATION_AVAILABLE'] is True


def test_zuul_project_runs_the_jobs_and_tox():
    jobs, project = zuul()
    for pipeline in ('check', 'gate'):
        names = [j if isinstance(j, str) else next(iter(j))
                 for j in project[pipeline]['jobs']]
        assert set(jobs) <= set(names), pipeline
        assert {'openstack-tox-pep8', 'openstack-tox-py311',
                'nova-migcompat-tox-functional'} <= set(names), pipeline
    # tox.ini's functional environment, not a functional-py311 one (tox
    # would fall back to the unit tests' commands).
    assert jobs['nova-migcompat-tox-functional']['vars'][
        'tox_envlist'] == 'functional'


def test_the_docs_enable_the_plugin_as_the_settings_name_it():
    plugin = settings_value(r'^define_plugin (\S+)$')
    service = settings_value(r'^enable_service (\S+)$')
    page = (ROOT / 'doc' / 'source' / 'devstack.rst').read_text()
    assert ('enable_plugin %s https://opendev.org/openstack/%s' % (
        plugin, plugin)) in page
    assert service in page
