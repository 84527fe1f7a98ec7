"""An in-process Nova + Placement cloud with emulated vGPU hosts.

Nova's own functional framework (API, conductor, scheduler, fakelibvirt
computes with mdev-capable pGPUs, as in
``nova/tests/functional/libvirt/test_vgpu.py``; it ships in the nova
wheel) and its placement fixture; every compute host gets a FUSE-emulated
sysfs tree and the real agent reporting cycle against that placement.
The functional tests and the demo act on it through the Nova API.  Import
``nova.tests.functional`` first (it monkey patches).

A host has any number of pGPUs (fakelibvirt's mdev-capable devices, at
``0000:81:<n>.0``) and, with :attr:`CloudTestBase.SRIOV`, SR-IOV VFs of
one PF after them (flavor PCI alias :data:`VF_ALIAS`, ``live_migratable``,
as in ``nova/tests/functional/libvirt/test_pci_sriov_servers.py``).  The
emulated tree lists the same devices at the same addresses, with the same
PCI ids.
"""

import copy
import json
import logging
import os
import re
import sys
import warnings

import fixtures
from nova import conf as nova_conf
from nova import context as nova_context
from nova import objects
from nova.tests import fixtures as nova_fixtures
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.libvirt import base
from nova.tests.functional.libvirt import test_vgpu

from migcompat_lab.emulation import mount
from nova_migcompat.agent import device as device_mod
from nova_migcompat.agent import provider_names
from nova_migcompat.agent import reporter as reporter_mod
from nova_migcompat.agent import source as sources_mod
from nova_migcompat.cmd import agent
from nova_migcompat import placement
from nova_migcompat.scheduler import cache as scheduler_cache

FILTER = 'MigrationCompatibilityFilter'
FILTER_PATH = ('nova_migcompat.scheduler.filters.'
               'migration_compatibility_filter.' + FILTER)
IMAGE = '155d900f-4e14-4e4c-a73d-069cbf4541e6'
PGPUS = ('0000:81:00.0', '0000:81:01.0')
VGPU_TYPE = fakelibvirt.NVIDIA_11_VGPU_TYPE
_VERSION_REGEX = r'"major":(?P<major>\d+),"minor":(?P<minor>\d+)'
#: The emulated NVIDIA module version (synthesized descriptors use it).
NVIDIA_VERSION = '535.104.05'
#: fakelibvirt's mdev-capable device: NVIDIA 10de:0ffe, driver nvidia.
PGPU_IDS = (int(fakelibvirt.MDEV_CAPABLE_VEND_ID, 16),
            int(fakelibvirt.MDEV_CAPABLE_PROD_ID, 16))
#: The SR-IOV devices: a Mellanox ConnectX-6 Dx PF (mlx5_core) and its VFs
#: bound to the vendor's VFIO variant driver, which migrates device state.
PF_IDS = (0x15b3, 0x101d)
VF_IDS = (0x15b3, 0x101e)
PF_DRIVER = 'mlx5_core'
VF_DRIVER = 'mlx5_vfio_pci'
#: The flavor PCI alias of the VFs.
VF_ALIAS = 'migcompat-vf'
#: fakelibvirt puts a PF (function 0) and its VFs in one PCI slot, and
#: computes a VF's PF address wrongly from the 7th VF on.
MAX_VFS = 6
#: PCI slots of bus 0x81 (five bits); the PF takes the slot after the
#: pGPUs.
MAX_PGPUS = 31
#: libvirt and QEMU versions Nova requires for live_migratable PCI
#: devices (MIN_VFIO_PCI_VARIANT_*_VERSION); they support mdev live
#: migration too.
SRIOV_LIBVIRT_VERSION = 10000000
SRIOV_QEMU_VERSION = 8002002


def pgpu_addresses(count):
    """The PCI addresses fakelibvirt gives ``count`` mdev-capable pGPUs."""
    if not 0 <= count <= MAX_PGPUS:
        raise ValueError('0 to %d pGPUs, not %d' % (MAX_PGPUS, count))
    return tuple('0000:81:%02x.0' % slot for slot in range(count))


def vf_addresses(pgpus, vfs):
    """``(PF address, VF addresses)`` after ``pgpus`` pGPUs (None: no PF)."""
    if not 0 <= vfs <= MAX_VFS:
        raise ValueError('0 to %d VFs, not %d' % (MAX_VFS, vfs))
    if not vfs:
        return None, ()
    slot = len(pgpu_addresses(pgpus))
    return ('0000:81:%02x.0' % slot,
            tuple('0000:81:%02x.%d' % (slot, fn) for fn in range(1, vfs + 1)))


def host_pci_info(pgpus=2, vfs=0):
    """fakelibvirt's devices for a host: pGPUs, then a PF and its VFs."""
    info = fakelibvirt.HostPCIDevicesInfo(
        num_pci=0, num_pfs=0, num_vfs=0, num_mdevcap=pgpus)
    pf, vf_list = vf_addresses(pgpus, vfs)
    if pf is None:
        return info
    slot = pgpus
    group = 40 + pgpus
    info.add_device(
        dev_type='PF', bus=0x81, slot=slot, function=0, iommu_group=group,
        numa_node=0, vf_ratio=vfs, vend_id='%04x' % PF_IDS[0],
        vend_name='Mellanox Technologies', prod_id='%04x' % PF_IDS[1],
        prod_name='MT2892 Family [ConnectX-6 Dx]', driver_name=PF_DRIVER)
    for function in range(1, len(vf_list) + 1):
        info.add_device(
            dev_type='VF', bus=0x81, slot=slot, function=function,
            iommu_group=group + function, numa_node=0, vf_ratio=vfs,
            parent=(0x81, slot, 0), vend_id='%04x' % VF_IDS[0],
            vend_name='Mellanox Technologies', prod_id='%04x' % VF_IDS[1],
            prod_name='ConnectX Family mlx5Gen Virtual Function',
            driver_name=VF_DRIVER)
    return info


def vf_string(version):
    """The JSON descriptor an emulated VF's variant driver reports."""
    major, minor = (int(v) for v in version.split('.'))
    return json.dumps({
        'device_api': 'vfio-pci', 'vendor': VF_DRIVER,
        'version': {'major': major, 'minor': minor},
        'vfio-pci': {'vendor': VF_IDS[0], 'device': VF_IDS[1]}},
        separators=(',', ':'))


def vf_migration_version(version):
    """The attribute spec of a VF whose driver has ``version``.

    Same acceptance as :func:`vgpu_migration_version`.
    """
    return {'string': vf_string(version), 'policy': 'same_major',
            'version_regex': _VERSION_REGEX}


def vgpu_migration_version(version, mdev_type=VGPU_TYPE):
    """The attribute spec of an NVIDIA-style driver of ``version``.

    It accepts strings of its own major version with an older or equal
    minor version (emulator policy ``same_major``).
    """
    return {'string': vgpu_string(version, mdev_type),
            'policy': 'same_major', 'version_regex': _VERSION_REGEX}


def host_spec(host, pgpus=(), vfs=(), driver_version=NVIDIA_VERSION,
              mdev_types=(VGPU_TYPE,)):
    """An emulated tree with fakelibvirt's layout.

    :param pgpus: one ``migration_version`` attribute spec per pGPU (the
        emulator's format, see :mod:`migcompat_lab.emulation.spec`; None:
        no attribute), given to each of its ``mdev_types``.
    :param vfs: the same per VF of the host's PF.
    :param driver_version: the version of the nvidia and mlx5 modules.
    """
    pci = []
    for address, attr in zip(pgpu_addresses(len(pgpus)), pgpus):
        pci.append({'address': address, 'vendor': PGPU_IDS[0],
                    'device': PGPU_IDS[1], 'class': 0x030200,
                    'driver': 'nvidia',
                    'mdev_types': [{'name': t, 'device_api': 'vfio-pci',
                                    'available_instances': 16,
                                    'migration_version': attr}
                                   for t in mdev_types]})
    modules = {'nvidia': {'version': driver_version}}
    pf, vf_list = vf_addresses(len(pgpus), len(vfs))
    if pf is not None:
        modules[PF_DRIVER] = {'version': driver_version}
        modules[VF_DRIVER] = {'version': driver_version}
        pci.append({'address': pf, 'vendor': PF_IDS[0],
                    'device': PF_IDS[1], 'class': 0x020000,
                    'driver': PF_DRIVER})
        for address, attr in zip(vf_list, vfs):
            pci.append({'address': address, 'vendor': VF_IDS[0],
                        'device': VF_IDS[1], 'class': 0x020000,
                        'driver': VF_DRIVER, 'physfn': pf,
                        'migration_version': attr})
    return {'host': host, 'modules': modules, 'pci': pci}


def _pci_address(libvirt_name):
    """``pci_0000_81_00_0`` -> ``0000:81:00.0``."""
    parts = libvirt_name[len('pci_'):].split('_')
    return '%s:%s:%s.%s' % tuple(parts)


def provider_address(hostname, provider):
    """``host_pci_0000_81_00_0`` -> ``0000:81:00.0`` (None: not a pGPU)."""
    prefix = '%s_pci_' % hostname
    if not provider.startswith(prefix):
        return None
    parts = provider[len(prefix):].split('_')
    if len(parts) != 4:
        return None
    return '%s:%s:%s.%s' % tuple(parts)


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
    for address, version in zip(pgpu_addresses(len(versions)), versions):
        types = [{'name': t, 'device_api': 'vfio-pci',
                  'migration_version': vgpu_migration_version(version, t)}
                 for t in (fakelibvirt.NVIDIA_11_VGPU_TYPE,
                           fakelibvirt.NVIDIA_12_VGPU_TYPE)]
        pci.append({'address': address, 'vendor': PGPU_IDS[0],
                    'device': PGPU_IDS[1], 'driver': 'nvidia',
                    'mdev_types': types})
    return {'host': host, 'modules': {'nvidia': {'version': NVIDIA_VERSION}},
            'pci': pci}


def agent_config(path, endpoint, nodename, sysfs_root,
                 mdev_types=(VGPU_TYPE,), options=None):
    """An agent's configuration, through a config file as operators write.

    Placement's fixture takes the token ``admin``; by default only the
    vGPU type Nova uses is reported (empty: every type).  ``options``:
    more ``[migcompat]`` options, by name.
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
        for name, value in sorted((options or {}).items()):
            f.write('%s = %s\n' % (name, value))
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
    #: SR-IOV VFs (start_host(vfs=N)): their device spec and flavor alias
    #: (live_migratable), PciPassthroughFilter, and the libvirt and QEMU
    #: versions Nova needs to live-migrate them.
    SRIOV = False

    def setUp(self):
        if self.SRIOV:
            self.FAKE_LIBVIRT_VERSION = SRIOV_LIBVIRT_VERSION
            self.FAKE_QEMU_VERSION = SRIOV_QEMU_VERSION
            ids = {'vendor_id': '%04x' % VF_IDS[0],
                   'product_id': '%04x' % VF_IDS[1],
                   'live_migratable': 'yes'}
            self.flags(device_spec=[json.dumps(ids)],
                       alias=[json.dumps(dict(
                           ids, name=VF_ALIAS, device_type='type-VF'))],
                       group='pci')
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
        enabled = list(nova_conf.CONF.filter_scheduler.enabled_filters)
        if self.SRIOV:
            enabled.append('PciPassthroughFilter')
        if self.FILTER_ENABLED:
            self.flags(available_filters=[
                'nova.scheduler.filters.all_filters', self.FILTER_LOADER],
                group='filter_scheduler')
            enabled.append(FILTER)
        self.flags(enabled_filters=enabled, group='filter_scheduler')
        # A scheduler process that just started remembers nothing (the
        # filter's caches are per process, and this one runs many clouds).
        scheduler_cache.clear()
        self.addCleanup(scheduler_cache.clear)
        return self.start_service('scheduler')

    # Hosts ---------------------------------------------------------------

    def start_host(self, hostname, versions=('2.1', '2.1'), spec=None,
                   mdev_types=(VGPU_TYPE,), pgpus=None, vfs=0,
                   agent_options=None):
        """A vGPU compute with an emulated sysfs and its agent.

        :param spec: the emulated tree (default: :func:`vgpu_host_spec` of
            ``versions``); see :func:`host_spec` for other devices.
        :param mdev_types: the types its agent reports (empty: all).
        :param pgpus: how many pGPUs fakelibvirt gives the host (default:
            as many as the tree has mdev parents).
        :param vfs: how many VFs its PF has (needs :attr:`SRIOV`).
        :param agent_options: more ``[migcompat]`` options of its agent.
        """
        spec = spec or vgpu_host_spec(hostname, versions)
        if pgpus is None:
            pgpus = sum(1 for dev in spec['pci'] if dev.get('mdev_types'))
        if vfs and not self.SRIOV:
            raise ValueError('VFs need a cloud with SRIOV = True')
        self.start_compute_with_vgpu(hostname, host_pci_info(pgpus, vfs))
        self._count_prechecks(self.computes[hostname].manager)
        workdir = self.useFixture(fixtures.TempDir()).path
        fs = mount.EmulatedSysfs(spec, os.path.join(workdir, 'sys'),
                                 workdir=os.path.join(workdir, 'work'))
        fs.start()
        self.addCleanup(self._check_writes, fs)
        self.addCleanup(fs.stop)
        # The host's running domains, as libvirt keeps them (written by
        # give_instance_strings); never the machine's own.
        domains = os.path.join(workdir, 'libvirt-qemu')
        os.mkdir(domains)
        options = dict(agent_options or {})
        options.setdefault('libvirt_domains_dir', domains)
        conf = agent_config(os.path.join(workdir, 'agent.conf'),
                            self.placement.fixture.endpoint, hostname,
                            fs.root, mdev_types, options)
        self.addCleanup(conf.reset)
        reporter = reporter_mod.Reporter(
            conf, placement.PlacementClient.from_conf(conf))
        self.addCleanup(reporter.close)
        self.hosts[hostname] = {'fs': fs, 'versions': versions,
                                'reporter': reporter, 'spec': spec,
                                'domains': domains}
        return self.computes[hostname]

    def give_instance_strings(self, hostname, strings):
        """Servers' mdevs report strings of their own.

        As a vendor driver whose state depends on the guest: each server's
        mdevs appear in the host's emulated tree
        (``/sys/bus/mdev/devices/<uuid>``, under their pGPU) with a
        ``migration_version`` of their own, and the server's domain XML
        where the host's agent reads libvirt's running domains.

        :param strings: ``{server id: migration_version attribute spec}``.
        """
        host = self.hosts[hostname]
        driver = self.computes[hostname].driver
        parents = {m['uuid']: m['parent'] for m in
                   driver._get_mediated_devices()}
        spec = copy.deepcopy(host['spec'])
        by_address = {dev['address']: dev for dev in spec['pci']}
        conn = driver._host.get_connection()
        for server_id, attr in sorted(strings.items()):
            xml = conn.lookupByUUIDString(server_id).XMLDesc(0)
            mdevs = re.findall(
                r"<hostdev[^>]*type=.mdev.*?<address[^>]*uuid=.([0-9a-f-]+)",
                xml, re.S)
            if not mdevs:
                raise ValueError('server %s has no mdev on %s'
                                 % (server_id, hostname))
            for mdev in mdevs:
                parent = by_address[_pci_address(parents[mdev])]
                parent.setdefault('mdevs', []).append(
                    {'uuid': mdev, 'type': VGPU_TYPE,
                     'migration_version': attr})
            with open(os.path.join(host['domains'], 'instance-%s.xml'
                                   % server_id), 'w') as f:
                f.write('<domstatus state="running">\n%s\n</domstatus>\n'
                        % xml)
        host['fs'].update(spec)
        host['spec'] = spec

    def forget_instance_strings(self, hostname):
        """The host's mdevs and domains are gone from what its agent sees."""
        host = self.hosts[hostname]
        spec = copy.deepcopy(host['spec'])
        for dev in spec['pci']:
            dev.pop('mdevs', None)
        for name in os.listdir(host['domains']):
            os.unlink(os.path.join(host['domains'], name))
        host['fs'].update(spec)
        host['spec'] = spec

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
        host['spec'] = vgpu_host_spec(hostname, versions)
        host['fs'].update(host['spec'])
        host['versions'] = versions

    def report(self, *hostnames):
        """Agent cycles until the fleet agrees (two rounds)."""
        names = hostnames or sorted(self.hosts)
        for _round in range(2):
            for name in names:
                result = self.hosts[name]['reporter'].run_cycle()
                self.assertTrue(result.ok, result.failure)

    # Servers -------------------------------------------------------------

    def boot(self, host, flavor=None, pgpu=None):
        """A server on host.

        :param pgpu: the PCI address of the pGPU its vGPU must come from
            (default: the one placement and the scheduler pick).  The
            host's other pGPUs are full (placement inventory reserved)
            while the server boots.
        """
        reserved = self._reserve_pgpus(host, pgpu) if pgpu else []
        try:
            return self._create_server(
                image_uuid=IMAGE, flavor_id=flavor or self.flavor,
                networks='none', host=host)
        finally:
            for rp_uuid, inventory in reserved:
                self._put_vgpu_inventory(rp_uuid, inventory['reserved'])

    def vgpu_flavor(self, vgpus=1, vfs=0):
        """A flavor with ``vgpus`` vGPUs and ``vfs`` VFs (0 or 1 each)."""
        extra_spec = {}
        if vgpus:
            extra_spec['resources:VGPU'] = str(vgpus)
        if vfs:
            extra_spec['pci_passthrough:alias'] = '%s:%d' % (VF_ALIAS, vfs)
        return self._create_flavor(extra_spec=extra_spec)

    def _reserve_pgpus(self, host, keep):
        """Fill every pGPU of host but ``keep``; returns what to restore."""
        keep_name = provider_names.pgpu_provider_name(host, keep)
        names = {rp['uuid']: rp['name'] for rp in self._get_all_rps_in_a_tree(
            self.compute_rp_uuids[host])}
        if keep_name not in names.values():
            raise ValueError('host %s has no pGPU %s' % (host, keep))
        reserved = []
        for rp_uuid, name in sorted(names.items()):
            inventory = self._get_provider_inventory(rp_uuid).get('VGPU')
            if inventory is None or name == keep_name:
                continue
            self._put_vgpu_inventory(rp_uuid, inventory['total'])
            reserved.append((rp_uuid, inventory))
        return reserved

    def _put_vgpu_inventory(self, rp_uuid, reserved):
        path = '/resource_providers/%s/inventories/VGPU' % rp_uuid
        current = self.placement.get(path, version='1.26').body
        current['reserved'] = reserved
        # 1.26: reserved may equal total.
        result = self.placement.put(path, current, version='1.26')
        if result.status != 200:
            raise RuntimeError('cannot set the VGPU inventory of %s: %s %s'
                               % (rp_uuid, result.status, result.body))

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

    def pgpus_in_placement(self, hostname):
        """The PCI addresses of the host's pGPU providers (Nova's view)."""
        addresses = []
        prefix = '%s_pci_' % hostname
        for rp in self._get_all_rps_in_a_tree(
                self.compute_rp_uuids[hostname]):
            if rp['name'].startswith(prefix) and 'VGPU' in \
                    self._get_provider_inventory(rp['uuid']):
                addresses.append(provider_address(hostname, rp['name']))
        return sorted(addresses)

    def vfs_in_nova(self, hostname):
        """The PCI addresses of the host's VFs in Nova's PCI tracker."""
        ctxt = nova_context.get_admin_context()
        node = objects.ComputeNode.get_by_nodename(ctxt, hostname)
        return sorted(dev.address for dev in
                      objects.PciDeviceList.get_by_compute_node(
                          ctxt, node.id)
                      if dev.dev_type == 'type-VF')

    def pci_devices_of(self, server):
        """``{address: host}`` of the PCI devices Nova gave the server."""
        ctxt = nova_context.get_admin_context()
        devices = objects.PciDeviceList.get_by_instance_uuid(
            ctxt, server['id'])
        nodes = {}
        found = {}
        for dev in devices:
            if dev.compute_node_id not in nodes:
                nodes[dev.compute_node_id] = objects.ComputeNode.get_by_id(
                    ctxt, dev.compute_node_id).host
            found[dev.address] = nodes[dev.compute_node_id]
        return found

    def devices(self, hostname):
        """``[(source, device)]``: what the host's agent discovers now."""
        reporter = self.hosts[hostname]['reporter']
        return list(sources_mod.discover(reporter.sources))

    def target_device(self, hostname, address, kind):
        """The host's device the target-side check runs against.

        ``kind`` ``vgpu``: the :data:`VGPU_TYPE` type of the pGPU at
        ``address``; ``vf``: the PCI function at ``address``.  Returns
        ``(source, device)``, or ``(None, None)`` if it has no such device.
        """
        for source, dev in self.devices(hostname):
            if kind == 'vgpu' and dev.kind == device_mod.MDEV_TYPE and \
                    dev.parent == address and dev.mdev_type == VGPU_TYPE:
                return source, dev
            if kind == 'vf' and dev.kind == device_mod.PCI and \
                    dev.name == address:
                return source, dev
        return None, None
