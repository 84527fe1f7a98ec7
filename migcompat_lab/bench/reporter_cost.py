"""Benchmark part (c): one host's reporting cycle.

A host with D physical GPUs (one reported mdev type each, so D devices and
D+1 providers) on a FUSE-emulated sysfs whose ``migration_version`` writes
succeed or fail with ``EINVAL`` like a vendor driver, real Placement, and a
fleet catalog of C strings (other hosts' ``CUSTOM_MIGCOMPAT_SRC_*``
traits).  Measured: the first cycle (publishing), the cycles after it
that read back what it wrote, and the steady state (nothing changed: reads
only), in time, placement reads and writes, target-side checks and kernel
(``migration_version``) writes; the baseline is the same host's device
discovery alone (reading every device's string from sysfs), in the same
run.  In a steady state the agent reuses its own recorded verdicts: no
check, no kernel write.

Cycles are one agent interval apart: the agent's monotonic clock is moved
by :data:`INTERVAL`, and a little over a second of real time passes
between two cycles so that placement's clock (``Last-Modified`` headers,
to the second) leaves the second of the previous cycle, as it does in an
interval.
"""

import os
import statistics
import tempfile
import time

from migcompat_lab.bench import inprocess
from migcompat_lab import cloud
from migcompat_lab.emulation import mount
from nova_migcompat.agent import provider_names
from nova_migcompat.agent import reporter as reporter_mod
from nova_migcompat.agent import source as sources
from nova_migcompat import codec
from nova_migcompat import placement

NODE = 'bench-node'
MDEV_TYPE = cloud.VGPU_TYPE
#: The local driver versions, by pGPU index modulo 2.
LOCAL_VERSIONS = ('2.1', '2.3')
#: pGPUs on buses 0x81 to 0x88, 32 a bus.
MAX_DEVICES = 256
#: Publishing cycles at most (each checks up to max_checks_per_cycle).
MAX_FIRST_CYCLES = 100
#: Seconds between two cycles, for the agent ([migcompat]interval).
INTERVAL = 60
#: Real seconds between two cycles: placement's clock leaves the second.
PAUSE = 1.05
#: Cycles after publishing until a steady one, at most.
MAX_AFTER_CYCLES = 5


#: Placement requests of a steady cycle: the tree and the catalog.
STEADY_READS = 2


def _address(i):
    return '0000:%02x:%02x.0' % (0x81 + i // 32, i % 32)


def host_spec(devices):
    """D pGPUs with one mdev type each, NVIDIA-style drivers."""
    pci = []
    for i in range(devices):
        version = LOCAL_VERSIONS[i % len(LOCAL_VERSIONS)]
        pci.append({
            'address': _address(i), 'vendor': 0x10de, 'device': 0x0ffe,
            'driver': 'nvidia',
            'mdev_types': [{
                'name': MDEV_TYPE, 'device_api': 'vfio-pci',
                'migration_version': {
                    'string': cloud.vgpu_string(version),
                    'policy': 'same_major',
                    'version_regex': cloud._VERSION_REGEX}}]})
    return {'host': NODE, 'modules': {'nvidia': {'version': '535.104.05'}},
            'pci': pci}


def catalog_versions(size=None):
    """The first ``size`` fleet versions (100 in all), local ones first.

    Majors 1 to 4, minors 0 to 24.
    """
    versions = list(LOCAL_VERSIONS)
    for minor in range(25):
        for major in (2, 3, 1, 4):
            version = '%d.%d' % (major, minor)
            if version not in versions:
                versions.append(version)
    return versions[:size] if size else versions


def _kernel_writes(fs):
    return len([w for w in fs.writes() if w['op'] == 'write'])


class IntervalClock(object):
    """The agent's monotonic clock, one interval further every cycle."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self):
        return time.monotonic() + self.offset

    def next_cycle(self):
        time.sleep(PAUSE)
        self.offset += INTERVAL - PAUSE


def _cycle(reporter, fs):
    clock = getattr(reporter, 'monotonic', None)
    if isinstance(clock, IntervalClock):
        clock.next_cycle()
    before = _kernel_writes(fs)
    started = time.perf_counter()
    report = reporter.run_cycle()
    seconds = time.perf_counter() - started
    if not report.ok:
        raise RuntimeError('reporting cycle failed: %s' % report.failure)
    report.kernel_writes = _kernel_writes(fs) - before
    return report, seconds


def _measure(side, devices, catalog_size, steady_runs=3):
    # The host's provider tree, as nova-compute creates it.
    root = side.provider(NODE)
    for i in range(devices):
        side.provider(provider_names.pgpu_provider_name(NODE, _address(i)),
                      parent=root)
    # Other hosts' strings: one provider per string of the catalog.
    for i, version in enumerate(catalog_versions(catalog_size)):
        if version in LOCAL_VERSIONS:
            continue
        side.provider('other-%03d' % i, traits=[codec.trait(
            codec.SRC, codec.encode(cloud.vgpu_string(version)))])
    with tempfile.TemporaryDirectory(prefix='migcompat-bench-') as workdir:
        with mount.EmulatedSysfs(host_spec(devices),
                                 os.path.join(workdir, 'sys'),
                                 workdir=os.path.join(workdir, 'work')) as fs:
            conf = cloud.agent_config(os.path.join(workdir, 'agent.conf'),
                                      side.endpoint, NODE, fs.root)
            try:
                reporter = reporter_mod.Reporter(
                    conf, placement.PlacementClient.from_conf(conf))
                reporter.monotonic = IntervalClock()
                discovery = []
                for _run in range(steady_runs):
                    started = time.perf_counter()
                    found = sources.discover(reporter.sources)
                    discovery.append(time.perf_counter() - started)
                # Publishing: the first cycles, until no check waits for a
                # later cycle ([migcompat]max_checks_per_cycle).
                first, first_s = _cycle(reporter, fs)
                cycles = 1
                totals = [first.requests, first.writes, first.kernel_writes]
                while first.behind and cycles < MAX_FIRST_CYCLES:
                    first, seconds = _cycle(reporter, fs)
                    cycles += 1
                    first_s += seconds
                    totals = [totals[0] + first.requests,
                              totals[1] + first.writes,
                              totals[2] + first.kernel_writes]
                first.requests, first.writes, first.kernel_writes = totals
                # What the last publishing cycle wrote is read back until
                # placement proves it unchanged: then the cycles are
                # steady (2 reads).
                after = []
                while len(after) < MAX_AFTER_CYCLES:
                    report, _seconds = _cycle(reporter, fs)
                    if report.requests == STEADY_READS:
                        break
                    after.append(report)
                steady = [_cycle(reporter, fs)
                          for _run in range(steady_runs)]
            finally:
                conf.reset()
            if fs.foreign_writes():
                raise RuntimeError('writes outside migration_version: %s'
                                   % fs.foreign_writes())
    last = steady[-1][0]
    steady_s = statistics.median(s for _r, s in steady)
    discovery_s = statistics.median(discovery)
    return {
        'devices': devices, 'catalog': catalog_size,
        'found_devices': len(found), 'providers': last.providers,
        'discovery_s': discovery_s,
        'first': {'seconds': first_s, 'cycles': cycles,
                  'requests': first.requests,
                  'writes': first.writes, 'checks': first.checks,
                  'kernel_writes': first.kernel_writes,
                  'ratio_to_discovery': first_s / discovery_s},
        'after_publishing': {
            'cycles': len(after),
            'requests': [r.requests for r in after],
            'reads': [r.reads for r in after],
            'writes': [r.writes for r in after]},
        'steady': {'seconds': steady_s,
                   'requests': max(r.requests for r, _s in steady),
                   'reads': max(r.reads for r, _s in steady),
                   'writes': max(r.writes for r, _s in steady),
                   'checks': max(r.checks for r, _s in steady),
                   'kernel_writes': max(r.kernel_writes for r, _s in steady),
                   'ratio_to_discovery': steady_s / discovery_s},
        'accepted': sum(1 for traits in last.published.values()
                        for t in traits if t.startswith(codec.ACC_PREFIX)),
    }


def run(devices=(8, 64), catalogs=(10, 100), log=print):
    results = []
    for count in devices:
        for size in catalogs:
            with inprocess.scheduler_side() as side:
                row = _measure(side, count, size)
            results.append(row)
            log('  %2d devices, %3d strings: discovery %.3f s; first cycles '
                '%.2f s (%d requests, %d writes, %d kernel writes), then '
                '%s requests (reading back), steady %.3f s = %.2fx '
                'discovery (%d reads, %d writes, %d kernel writes)'
                % (count, size, row['discovery_s'], row['first']['seconds'],
                   row['first']['requests'], row['first']['writes'],
                   row['first']['kernel_writes'],
                   '+'.join(str(n) for n in
                            row['after_publishing']['requests']) or 'no',
                   row['steady']['seconds'],
                   row['steady']['ratio_to_discovery'],
                   row['steady']['reads'], row['steady']['writes'],
                   row['steady']['kernel_writes']))
    return results
