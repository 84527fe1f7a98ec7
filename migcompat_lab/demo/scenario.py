"""The demo scenario: one live migration, with the filter and without.

Each run builds a fresh in-process cloud (:mod:`migcompat_lab.cloud`)
from the fleet, runs every host's agent, boots a vGPU server on the source
and live-migrates it through the Nova API.  The result is plain data for
the report; the cloud is torn down before returning.
"""

import dataclasses
import time

from nova.tests.functional.api import client

from migcompat_lab import cloud
from nova_migcompat import codec
from nova_migcompat import formats
from nova_migcompat import policies

_FINAL = ('completed', 'error', 'failed', 'cancelled')


@dataclasses.dataclass
class HostVerdict:
    name: str
    pgpus: tuple
    weight: int
    #: "yes", "no" or "unknown" (a pGPU of the host accepts the string).
    accepts: str
    reason: str


@dataclasses.dataclass
class Outcome:
    filter_enabled: bool
    source_string: str
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


def _explain(source_text, target_text):
    """Why a target's driver refuses, in words (rule policy)."""
    decision = policies.get_policy('rules').decide(
        formats.parse(source_text), formats.parse(target_text))
    return decision.reason


def _host_verdicts(case, fleet, source_text):
    token = codec.encode(source_text)
    rows = []
    for host in fleet.hosts:
        report = case.hosts[host.name]['reporter'].run_cycle()
        results = [per.get(token) for name, per in report.verdicts.items()
                   if name.startswith(host.name + '_pci_')]
        if host.name == fleet.source:
            rows.append(HostVerdict(host.name, host.pgpus, host.weight,
                                    'source', ''))
            continue
        if 'accepts' in results:
            accepts, reason = 'yes', 'its driver accepts the source state'
        elif 'unknown' in results:
            accepts, reason = 'unknown', 'its device could not tell'
        else:
            accepts = 'no'
            reason = '; '.join(sorted({
                _explain(source_text, cloud.vgpu_string(v))
                for v in host.pgpus}))
        rows.append(HostVerdict(host.name, host.pgpus, host.weight,
                                accepts, reason))
    return rows


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


def run(fleet, filter_enabled):
    """One cloud, one live migration; returns an :class:`Outcome`."""
    started = time.monotonic()
    case_class = type('DemoCloud', (cloud.CloudTestBase,), {
        'WEIGHTS': fleet.weights, 'FILTER_ENABLED': filter_enabled,
        'runTest': lambda self: None})
    case = case_class('runTest')
    case.setUp()
    try:
        for host in fleet.hosts:
            case.start_host(host.name, host.pgpus)
        case.report()
        server = case.boot(fleet.source)
        source_text = cloud.vgpu_string(
            fleet.host(fleet.source).pgpus[0])
        hosts = _host_verdicts(case, fleet, source_text)
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
        log = case.stdlog.logger.output
        kept = [line for line in log.splitlines()
                if 'Live migration of instance %s: kept' % server['id']
                in line]
        return Outcome(
            filter_enabled=filter_enabled, source_string=source_text,
            hosts=hosts, final_host=case.host_of(server),
            migration_status=migration['status'],
            scheduling_attempts=case.scheduling_attempts,
            destination_prechecks=case.destination_prechecks,
            migration_seconds=migration_seconds,
            kept_line=kept[-1].split('] ', 1)[-1] if kept else '',
            seconds=time.monotonic() - started, log=log)
    finally:
        case.doCleanups()
