"""An in-process Nova + Placement cloud with emulated vGPU hosts.

Nova's own functional framework (API, conductor, scheduler, fakelibvirt
computes with mdev-capable pGPUs, as in
``nova/tests/functional/libvirt/test_vgpu.py``; it ships in the nova
wheel) and its placement fixture; every compute host gets a FUSE-emulated
sysfs tree and the real agent reporting cycle against that placement.
The functional tests and the demo act on it through the Nova API.  Import
``nova.tests.functional`` first (it monkey patches).
"""

import json
import logging
import os
import re
import sys
import warnings

import fixtures
from nova import conf as nova_conf
from nova.tests import fixtures as nova_fixtures
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.libvirt import base
from nova.tests.functional.libvirt import test_vgpu

from migcompat_lab.emulation import mount
from nova_migcompat.agent import reporter as reporter_mod
from nova_migcompat.cmd import agent
from nova_migcompat import placement

FILTER = 'MigrationCompatibilityFilter'
FILTER_PATH = ('nova_migcompat.scheduler.filters.'
               'migration_compatibility_filter.' + FILTER)
IMAGE = '155d900f-4e14-4e4c-a73d-069cbf4541e6'
PGPUS = ('0000:81:00.0', '0000:81:01.0')
VGPU_TYPE = fakelibvirt.NVIDIA_11_VGPU_TYPE
_VERSION_REGEX = r'"major":(?P<major>\d+),"minor":(?P<minor>\d+)'


def vgpu_string(version, mdev_type=VGPU_TYPE):
    """The JSON descriptor an emulated NVIDIA-style driver reports."""
    major, minor = (int(v) for v in version.split('.'))
    return json.dumps({
        'device_api': 'vfio-pci', 'vendor': 'nvidia',
        'version': {'major': major, 'minor': minor},
        'vfio-pci': {'vendor': 0x10de, 'device': 0x0ffe},
        'mdev_attrs': [{'mdev_type': mdev_type}]}, separators=(',', ':'))


def vgpu_host_spec(host, versions):
    """A host laid out like fakelibvirt's, one driver version per pGPU.

    Each pGPU's driver accepts strings of its own major version with an
    older or equal minor version.
    """
    pci = []
    for address, version in zip(PGPUS, versions):
        types = [{'name': t, 'device_api': 'vfio-pci',
                  'migration_version': {
                      'string': vgpu_string(version, t),
                      'policy': 'same_major',
                      'version_regex': _VERSION_REGEX}}
                 for t in (fakelibvirt.NVIDIA_11_VGPU_TYPE,
                           fakelibvirt.NVIDIA_12_VGPU_TYPE)]
        pci.append({'address': address, 'vendor': 0x10de,
                    'device': 0x0ffe, 'driver': 'nvidia',
                    'mdev_types': types})
    return {'host': host, 'modules': {'nvidia': {'version': '535.104.05'}},
            'pci': pci}


def agent_config(path, endpoint, nodename, sysfs_root,
                 mdev_types=(VGPU_TYPE,)):
    """An agent's configuration, through a config file as operators write.

    Placement's fixture takes the token ``admin``; by default only the
    vGPU type Nova uses is reported (empty: every type).
    """
    with open(path, 'w') as f:
        f.write('[placement]\nauth_type = admin_token\n'
                'endpoint = %(ep)s\ntoken = admin\n'
                'endpoint_override = %(ep)s\n\n'
                '[migcompat]\nnodename = %(node)s\n'
                'state_path = %(state)s\n'
                'sysfs_root = %(root)s\nmdev_types = %(type)s\n'
                % {'ep': endpoint, 'node': nodename, 'root': sysfs_root,
                   'state': os.path.join(os.path.dirname(path), 'state'),
                   'type': ','.join(mdev_types)})
    return agent.load_config(['--config-file', path],
                             default_config_files=[])


def quiet_logs():
    """Nova's test framework logs to stdout (at import): silence it.

    For the commands that print their own report (the demo, the
    benchmark).  oslo.log's excepthook would send a crash to the silenced
    logs: print it.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(logging.NullHandler())
    sys.excepthook = sys.__excepthook__
    warnings.simplefilter('ignore')


class CloudTestBase(base.LibvirtMigrationMixin, test_vgpu.VGPUTestBase):
    """vGPU computes, each with an emulated sysfs and a reporting agent."""

    # Versions that support mdev live migration.
    FAKE_LIBVIRT_VERSION = 8006000
    FAKE_QEMU_VERSION = 8001000

    #: Enable the filter with the two nova.conf options.
    FILTER_ENABLED = True
    #: The available_filters value that loads it.
    FILTER_LOADER = FILTER_PATH
    #: Host weights: make stock Nova prefer some hosts deterministically.
    WEIGHTS = None

    def setUp(self):
        # pip puts api-paste.ini under the venv's etc/, not next to nova.
        self.flags(api_paste_config=os.path.join(
            sys.prefix, 'etc', 'nova', 'api-paste.ini'), group='wsgi')
        super().setUp()
        self.flags(enabled_mdev_types=[VGPU_TYPE], group='devices')
        self.flavor = self._create_flavor(
            extra_spec={'resources:VGPU': '1'})
        self.hosts = {}
        # Count scheduling attempts (the conductor calls the scheduler once
        # per attempt); the scheduler itself runs unchanged.
        self.scheduling_attempts = 0
        manager = self.scheduler.manager
        select = manager.select_destinations

        def counting_select(*args, **kwargs):
            self.scheduling_attempts += 1
            return select(*args, **kwargs)

        manager.select_destinations = counting_select
        #: Destination prechecks (check_can_live_migrate_destination calls
        #: that reached a compute host).
        self.destination_prechecks = 0

    def _setup_scheduler_service(self):
        if self.WEIGHTS:
            self.useFixture(nova_fixtures.HostNameWeigherFixture(
                self.WEIGHTS))
        if self.FILTER_ENABLED:
            self.flags(available_filters=[
                'nova.scheduler.filters.all_filters', self.FILTER_LOADER],
                group='filter_scheduler')
            self.flags(enabled_filters=list(
                nova_conf.CONF.filter_scheduler.enabled_filters) + [FILTER],
                group='filter_scheduler')
        return self.start_service('scheduler')

    # Hosts ---------------------------------------------------------------

    def start_host(self, hostname, versions=('2.1', '2.1'), spec=None,
                   mdev_types=(VGPU_TYPE,)):
        """A vGPU compute with an emulated sysfs and its agent.

        :param spec: the emulated tree (default: :func:`vgpu_host_spec` of
            ``versions``).
        :param mdev_types: the types its agent reports (empty: all).
        """
        self.start_compute_with_vgpu(hostname)
        self._count_prechecks(self.computes[hostname].manager)
        workdir = self.useFixture(fixtures.TempDir()).path
        fs = mount.EmulatedSysfs(spec or vgpu_host_spec(hostname, versions),
                                 os.path.join(workdir, 'sys'),
                                 workdir=os.path.join(workdir, 'work'))
        fs.start()
        self.addCleanup(self._check_writes, fs)
        self.addCleanup(fs.stop)
        conf = agent_config(os.path.join(workdir, 'agent.conf'),
                            self.placement.fixture.endpoint, hostname,
                            fs.root, mdev_types)
        self.addCleanup(conf.reset)
        self.hosts[hostname] = {
            'fs': fs, 'versions': versions,
            'reporter': reporter_mod.Reporter(
                conf, placement.PlacementClient.from_conf(conf))}
        return self.computes[hostname]

    def _count_prechecks(self, manager):
        precheck = manager.check_can_live_migrate_destination

        def counting_precheck(*args, **kwargs):
            self.destination_prechecks += 1
            return precheck(*args, **kwargs)

        manager.check_can_live_migrate_destination = counting_precheck

    def _check_writes(self, fs):
        self.assertEqual([], fs.foreign_writes())

    def upgrade_driver(self, hostname, versions):
        """The host's vendor driver changes: its strings change."""
        host = self.hosts[hostname]
        host['fs'].update(vgpu_host_spec(hostname, versions))
        host['versions'] = versions

    def report(self, *hostnames):
        """Agent cycles until the fleet agrees (two rounds)."""
        names = hostnames or sorted(self.hosts)
        for _round in range(2):
            for name in names:
                result = self.hosts[name]['reporter'].run_cycle()
                self.assertTrue(result.ok, result.failure)

    # Servers -------------------------------------------------------------

    def boot(self, host, flavor=None):
        return self._create_server(
            image_uuid=IMAGE, flavor_id=flavor or self.flavor,
            networks='none', host=host)

    def _migrate_stub(self, domain, destination, params, flags):
        # The live migration's destination is in the libvirt URI.
        dest = re.search(r'://([^/]+)/', destination).group(1)
        self.computes[dest].driver._host.get_connection().createXML(
            params['destination_xml'],
            'fake-createXML-doesnt-care-about-flags')
        domain.complete_job()
        self.migrate_stub_ran = True

    def host_of(self, server):
        return self.api.get_server(server['id'])[
            'OS-EXT-SRV-ATTR:host']

    def pgpu_of(self, server):
        """The pGPU provider name the server's vGPU is allocated from."""
        allocs = self.placement.get(
            '/allocations/%s' % server['id'], version='1.28').body[
            'allocations']
        for rp_uuid, alloc in allocs.items():
            if 'VGPU' in alloc['resources']:
                return self.placement.get(
                    '/resource_providers/%s' % rp_uuid,
                    version='1.14').body['name']
        return None
