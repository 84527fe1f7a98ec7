"""The demo scenario: one live migration, with the filter and without.

Each run builds a fresh in-process cloud (:mod:`migcompat_lab.cloud`)
from the fleet (fakelibvirt gets exactly the fleet's pGPUs and VFs, the
emulated sysfs the same devices at the same addresses), runs every host's
agent, boots the server on the source and live-migrates it through the
Nova API.

What the report says comes from the cloud, never from the fleet file:
the server's devices are read from its placement allocation (the pGPU
provider of its vGPU) and from Nova's PCI tracker (its VF), their strings
from the source host's emulated devices, and every verdict is the
agent's own target-side check (:meth:`DeviceSource.check`: the kernel
write into the emulated ``migration_version``, or the acceptance policy
of the string's format where the attribute is read-only or absent) of
one destination device against the source device's string.  The filter's
decision is what it logged (the project's ``nova_migcompat`` loggers are
captured).  The result is plain data for the report; the cloud is torn
down before returning.
"""

import dataclasses
import logging
import re
import time
import typing

from nova.tests.functional.api import client

from migcompat_lab import cloud
from nova_migcompat.agent import provider_names
from nova_migcompat.agent import verdict as verdict_mod
from nova_migcompat import codec
from nova_migcompat import exception
from nova_migcompat import policies
from nova_migcompat import requirements

_FINAL = ('completed', 'error', 'failed', 'cancelled')
#: The logger of the project, captured for the report and --verbose.
PROJECT_LOGGER = 'nova_migcompat'
_FILTER_LOGGER = ('nova_migcompat.scheduler.filters.'
                  'migration_compatibility_filter')
#: What a device of each kind is called in the report.
KIND_LABELS = {'vgpu': 'pGPU', 'vf': 'VF'}
_UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                   r'[0-9a-f]{12}')


@dataclasses.dataclass
class DeviceRow:
    """One device of one host, judged against the server's device."""

    host: str
    #: ``vgpu`` (a pGPU's vGPU type) or ``vf``.
    kind: str
    address: str
    #: ``server`` (the server's device, on the source), ``source``
    #: (another device of the source host) or ``target``.
    role: str
    string: typing.Optional[str]
    #: Where the string comes from: ``attribute``, ``read-only
    #: attribute``, ``synthesized`` (see nova_migcompat.agent.device).
    origin: typing.Optional[str]
    #: ``accepts``, ``refuses``, ``unknown``; None for source devices.
    result: typing.Optional[str] = None
    reason: str = ''


@dataclasses.dataclass
class MovedDevice:
    """One device of the server: where it was, where it went."""

    kind: str
    source_address: str
    #: The source device's string (None: it has none, untracked).
    string: typing.Optional[str]
    origin: typing.Optional[str]
    #: Whether the source's agent published the string (SRC trait): if
    #: not, the filter cannot take part for this device.
    published: bool
    host: str = ''
    address: str = ''
    result: typing.Optional[str] = None
    reason: str = ''


@dataclasses.dataclass
class FilterDecision:
    """What MigrationCompatibilityFilter logged for the live migration."""

    summary: str = ''
    kept: typing.Optional[int] = None
    total: typing.Optional[int] = None
    #: host name -> why (the filter's DEBUG line, provider names for uuids).
    rejected: dict = dataclasses.field(default_factory=dict)
    #: WARNING and ERROR lines of the filter.
    problems: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Outcome:
    filter_enabled: bool
    #: The string of the server's first device (its vGPU, else its VF).
    source_string: str
    #: DeviceRow per device of the kinds the server has, host by host.
    hosts: list
    final_host: str
    migration_status: str
    scheduling_attempts: int
    destination_prechecks: int
    #: From the live-migration request to the migration's final status.
    migration_seconds: float
    kept_line: str
    seconds: float
    log: str
    #: The server's devices (MovedDevice), before and after.
    moved: list = dataclasses.field(default_factory=list)
    decision: typing.Optional[FilterDecision] = None
    #: Index into the source's pGPUs of the server's vGPU (None: no vGPU).
    pgpu_index: typing.Optional[int] = None
    #: The project's log lines (nova_migcompat loggers) of this run.
    project_log: list = dataclasses.field(default_factory=list)

    @property
    def compatible(self):
        """Completed, and every moved device's destination accepts."""
        return (self.migration_status == 'completed' and
                bool(self.moved) and
                all(m.result == verdict_mod.ACCEPTS for m in self.moved))


class _ProjectLog(logging.Handler):
    """The records of the project's loggers (and a live copy, verbose)."""

    FORMAT = '%(asctime)s %(levelname)s [%(name)s] %(message)s'

    def __init__(self, stream=None):
        super().__init__(logging.DEBUG)
        self.records = []
        self.stream = stream
        self.setFormatter(logging.Formatter(self.FORMAT))

    def emit(self, record):
        self.records.append(record)
        if self.stream is not None:
            try:
                self.stream.write(self.format(record) + '\n')
                self.stream.flush()
            except Exception:
                self.handleError(record)

    def lines(self):
        return [self.format(record) for record in self.records]


def device_attribute(device, kind):
    """The emulator's ``migration_version`` spec of a fleet device."""
    if device.version is not None:
        if kind == 'vgpu':
            return cloud.vgpu_migration_version(device.version)
        return cloud.vf_migration_version(device.version)
    return device.migration_version


def host_spec(host):
    """The emulated tree of a fleet host."""
    return cloud.host_spec(
        host.name, [device_attribute(d, 'vgpu') for d in host.pgpus],
        [device_attribute(d, 'vf') for d in host.vfs],
        driver_version=host.driver_version)


def _addresses(host, kind):
    if kind == 'vgpu':
        return cloud.pgpu_addresses(len(host.pgpus))
    return cloud.vf_addresses(len(host.pgpus), len(host.vfs))[1]


def _published(case, provider, text):
    """Does the provider carry the SRC trait of ``text``?"""
    try:
        token = codec.encode(text)
    except exception.MigCompatError:
        return False
    rp_uuid = case._get_provider_uuid_by_name(provider)
    traits = case.placement.get(
        '/resource_providers/%s/traits' % rp_uuid, version='1.6').body[
        'traits']
    return token in requirements.src_tokens(traits)


def _explain(text, target):
    """Why a device refuses, in words, when its format's policy agrees."""
    decision = policies.decide(text, target)
    if decision.accepts is False:
        return decision.reason
    return None


def check(case, host, kind, address, text):
    """The target-side check of one device: ``(result, reason)``."""
    source, dev = case.target_device(host, address, kind)
    if dev is None:
        return verdict_mod.UNKNOWN, 'no such emulated device'
    if not dev.tracked:
        return verdict_mod.UNKNOWN, 'the device has no usable string: %s' % (
            dev.error or 'untracked')
    verdict = source.check(dev, text)
    reason = verdict.reason
    if dev.attribute is None:
        reason = 'policy: %s' % reason
    elif verdict.result == verdict_mod.ACCEPTS:
        reason = 'the driver accepted the write'
    elif verdict.result == verdict_mod.REFUSES:
        # EINVAL, the only refusing errno (sysfs_source.REFUSING_ERRNOS).
        reason = 'the driver refused the write (EINVAL)'
        why = _explain(text, dev.string)
        if why:
            reason += ': %s' % why
    return verdict.result, reason


def _server_devices(case, server):
    """``[(kind, host, address)]`` of the server's devices now.

    Its vGPU: the pGPU provider of its placement allocation; its VF: the
    device Nova's PCI tracker gave it.
    """
    found = []
    provider = case.pgpu_of(server)
    if provider is not None:
        host = case.host_of(server)
        found.append(('vgpu', host, cloud.provider_address(host, provider)
                      or provider))
    for address, host in sorted(case.pci_devices_of(server).items()):
        found.append(('vf', host, address))
    return found


def _nova_addresses(case, host, kind):
    """The host's devices of a kind as Nova knows them."""
    if kind == 'vgpu':
        return case.pgpus_in_placement(host)
    return case.vfs_in_nova(host)


def _source_devices(case, server, fleet):
    moved = []
    for kind, host, address in _server_devices(case, server):
        _source, dev = case.target_device(host, address, kind)
        string = dev.string if dev is not None and dev.tracked else None
        if dev is None:
            origin = 'no emulated device'
        elif string is None:
            origin = 'unusable: %s' % (dev.error or 'untracked')
        else:
            origin = dev.origin
        provider = (provider_names.pgpu_provider_name(host, address)
                    if kind == 'vgpu' else host)
        moved.append(MovedDevice(
            kind=kind, source_address=address, string=string,
            origin=origin,
            published=string is not None and _published(case, provider,
                                                        string)))
    return moved


def _judge_fleet(case, fleet, moved):
    rows = []
    for host in fleet.hosts:
        for device in moved:
            # Nova's devices and the emulated ones: a device only one
            # side has shows as such.
            nova = _nova_addresses(case, host.name, device.kind)
            emulated = _addresses(host, device.kind)
            for address in sorted(set(nova) | set(emulated)):
                _source, dev = case.target_device(host.name, address,
                                                  device.kind)
                row = DeviceRow(
                    host=host.name, kind=device.kind, address=address,
                    role='target', string=dev.string if dev else None,
                    origin=dev.origin if dev else None)
                rows.append(row)
                if dev is None:
                    row.origin = 'no emulated device'
                if address not in nova:
                    row.role = 'missing'
                elif host.name == fleet.source:
                    row.role = ('server' if address == device.source_address
                                else 'source')
                elif device.string is None:
                    row.result = verdict_mod.UNKNOWN
                    row.reason = 'the server\'s device has no string'
                else:
                    row.result, row.reason = check(
                        case, host.name, device.kind, address,
                        device.string)
    return rows


def _filter_decision(records, server_id, names):
    decision = FilterDecision()
    rejected = re.compile(r'Host (\S+) rejected for the live migration of '
                          r'instance %s: (.*)\Z' % re.escape(server_id),
                          re.S)
    for record in records:
        if record.name != _FILTER_LOGGER:
            continue
        message = record.getMessage()
        if server_id not in message:
            continue
        match = rejected.match(message)
        if match:
            decision.rejected[match.group(1)] = _UUID.sub(
                lambda m: names.get(m.group(0), m.group(0)), match.group(2))
        elif message.startswith('Live migration of instance %s: '
                                % server_id):
            decision.summary = message
            counts = re.search(r': kept (\d+) of (\d+) hosts', message)
            if counts:
                decision.kept, decision.total = (int(n)
                                                 for n in counts.groups())
        elif record.levelno >= logging.WARNING:
            decision.problems.append(message)
    return decision


def _wait_for_migration(case, server, interval=0.02, timeout=60):
    """The server's migration once it ends (finer than nova's helper)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for migration in case.api.get_migrations():
            if (migration['instance_uuid'] == server['id'] and
                    migration['status'] in _FINAL):
                return migration
        time.sleep(interval)
    raise RuntimeError('the live migration of %s did not end within %d s'
                       % (server['id'], timeout))


def run(fleet, filter_enabled, pgpu=None, stream=None):
    """One cloud, one live migration; returns an :class:`Outcome`.

    :param pgpu: index into the source's pGPUs of the one the server's
        vGPU must use (default: the fleet's ``server.pgpu``, else where
        placement puts it).
    :param stream: where to copy the project's log lines as they come
        (``--verbose``).
    """
    started = time.monotonic()
    server_spec = fleet.server
    case_class = type('DemoCloud', (cloud.CloudTestBase,), {
        'WEIGHTS': fleet.weights, 'FILTER_ENABLED': filter_enabled,
        'SRIOV': fleet.has_vfs, 'runTest': lambda self: None})
    case = case_class('runTest')
    project_log = _ProjectLog(stream)
    logger = logging.getLogger(PROJECT_LOGGER)
    case.setUp()
    logger.addHandler(project_log)
    try:
        for host in fleet.hosts:
            case.start_host(host.name, spec=host_spec(host),
                            pgpus=len(host.pgpus), vfs=len(host.vfs))
        case.report()
        if pgpu is None:
            pgpu = server_spec.pgpu
        source = fleet.host(fleet.source)
        flavor = None
        if (server_spec.vgpus, server_spec.vfs) != (1, 0):
            flavor = case.vgpu_flavor(server_spec.vgpus, server_spec.vfs)
        # Nova's pGPUs of the source (the fleet's, unless that is wrong).
        pgpus = _nova_addresses(case, source.name, 'vgpu')
        server = case.boot(fleet.source, flavor=flavor,
                           pgpu=None if pgpu is None else pgpus[pgpu])
        moved = _source_devices(case, server, fleet)
        pgpu_index = next((pgpus.index(m.source_address)
                           for m in moved if m.kind == 'vgpu'), None)
        hosts = _judge_fleet(case, fleet, moved)
        case.scheduling_attempts = case.destination_prechecks = 0
        migrated = time.monotonic()
        try:
            case.api.post_server_action(
                server['id'], {'os-migrateLive': {
                    'host': None, 'block_migration': 'auto'}})
        except client.OpenStackApiException:
            # NoValidHost can reach the API synchronously in this cloud.
            pass
        migration = _wait_for_migration(case, server)
        migration_seconds = time.monotonic() - migrated
        case._wait_for_state_change(server, 'ACTIVE')
        after = _server_devices(case, server)
        for device in moved:
            dest = [(h, a) for kind, h, a in after if kind == device.kind]
            if not dest:
                device.result = verdict_mod.UNKNOWN
                device.reason = 'the server has no such device now'
                continue
            device.host, device.address = dest[0]
            if device.host == fleet.source:
                continue
            if device.string is None:
                device.result = verdict_mod.UNKNOWN
                device.reason = ('the source device has no string: nothing '
                                 'can judge it')
                continue
            device.result, device.reason = check(
                case, device.host, device.kind, device.address,
                device.string)
        names = {rp['uuid']: rp['name'] for rp in case.placement.get(
            '/resource_providers').body['resource_providers']}
        decision = None
        if filter_enabled:
            decision = _filter_decision(project_log.records, server['id'],
                                        names)
        log = case.stdlog.logger.output
        return Outcome(
            filter_enabled=filter_enabled,
            source_string=moved[0].string if moved else '',
            hosts=hosts, final_host=case.host_of(server),
            migration_status=migration['status'],
            scheduling_attempts=case.scheduling_attempts,
            destination_prechecks=case.destination_prechecks,
            migration_seconds=migration_seconds,
            kept_line=decision.summary if decision else '',
            seconds=time.monotonic() - started, log=log, moved=moved,
            decision=decision, pgpu_index=pgpu_index,
            project_log=project_log.lines())
    finally:
        logger.removeHandler(project_log)
        case.doCleanups()
