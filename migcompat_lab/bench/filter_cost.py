"""Benchmark parts (a) and (b): the filter's cost per scheduling request.

One in-process scheduler side: Nova's databases (API, cell0, cell1) and
real Placement (Nova's functional fixtures), a fleet of N vGPU hosts in
Placement (a root provider and two pGPU providers each, with inventories
and the traits agents publish), and N HostStates with two allocation
candidates each (one per pGPU, placement 1.36 format).  The same hosts go
through Nova's default ``enabled_filters`` chain (the baseline), through a
filter that keeps everything (:class:`NoopFilter`: the floor that Nova's
own bookkeeping costs any filter), and through MigrationCompatibilityFilter,
alone and after the chain, via Nova's own ``HostManager.get_filtered_hosts``.

The filter runs *warm* (its caches filled by an earlier request; the
acceptance cache set to outlive the runs), for a *new migration* (the
source provider's traits forgotten: a new migration's allocations move
gives that provider a new generation) and *cold* (its caches emptied
before each request, as in a scheduler that just started).  The runs of
all filter sets are interleaved, round by round.

Two kinds of fleet: *mixed* (a quarter of the hosts accept the source's
string on both pGPUs, a quarter on one, half on neither) and *accepting*
(every pGPU accepts: the common case, and the largest listing).

The fleet is loaded into Placement's database in bulk (creating 150,000
providers through the API would take hours); everything the filter reads
goes through the Placement API, as in production.
"""

import copy
import gc
import json
import statistics
import time
import tracemalloc
import uuid

from nova import conf as nova_conf
from nova import context as nova_context
from nova import objects
from nova.scheduler.client import report
from nova.scheduler import filters
from nova.scheduler import host_manager
from oslo_utils import timeutils
from placement.db.sqlalchemy import models as placement_models
from placement import db_api as placement_db
import sqlalchemy as sa

from migcompat_lab.bench import inprocess
from migcompat_lab import cloud
from nova_migcompat.agent import provider_names
from nova_migcompat import codec
from nova_migcompat import epoch
from nova_migcompat import placement
from nova_migcompat.scheduler import cache

FILTER = cloud.FILTER
NOOP = 'NoopFilter'
NOOP_PATH = 'migcompat_lab.bench.filter_cost.NoopFilter'
DEFAULT_FILTERS = ['ComputeFilter', 'ComputeCapabilitiesFilter',
                   'ImagePropertiesFilter', 'ServerGroupAntiAffinityFilter',
                   'ServerGroupAffinityFilter']
SOURCE = 'src'
SOURCE_VERSION = '2.1'
#: Destination pGPU driver versions, by host index modulo 4: hosts 0 and 1
#: accept the source's 2.1 on both pGPUs / on the first one only.
VERSIONS = (('2.3', '2.3'), ('2.2', '2.0'), ('2.0', '2.0'), ('3.1', '3.1'))
#: Every pGPU accepts 2.1.
ACCEPTING_VERSIONS = (('2.3', '2.2'),)
FLEETS = {'mixed': VERSIONS, 'accepting': ACCEPTING_VERSIONS}
ACCEPTS = {'2.1', '2.2', '2.3'}
ROOT_RESOURCES = {'VCPU': 1, 'MEMORY_MB': 512, 'DISK_GB': 1}
#: VM markers on the source pGPU of the marked live migration: the
#: documented budget of instances per pGPU.
MARKERS = 32


class NoopFilter(filters.BaseHostFilter):
    """Keeps every host: what Nova's filter machinery costs any filter."""

    RUN_ON_REBUILD = False

    def host_passes(self, host_state, spec_obj):
        return True


def _trait(role, version):
    return codec.trait(role, codec.encode(cloud.vgpu_string(version)))


class Fleet(object):
    """N destination hosts in placement, a source, a live migration."""

    def __init__(self, side, size, versions=VERSIONS):
        self.side = side
        self.size = size
        self.versions = versions
        self.hosts = []
        self._create_source()
        self._load_destinations()

    # Placement ----------------------------------------------------------

    def _create_source(self):
        self.source_root = self.side.provider(
            SOURCE, inventories={'VCPU': 64, 'MEMORY_MB': 262144,
                                 'DISK_GB': 4096})
        self.source_pgpu = self.side.provider(
            provider_names.pgpu_provider_name(SOURCE, cloud.PGPUS[0]),
            parent=self.source_root, inventories={'VGPU': 16},
            traits=[_trait(codec.SRC, SOURCE_VERSION),
                    _trait(codec.ACC, SOURCE_VERSION)])
        # Every string of the fleet exists as a trait (agents create them).
        for versions in self.versions:
            for version in versions:
                for role in (codec.SRC, codec.ACC):
                    self.side.ok('put', '/traits/%s' % _trait(role, version))
        # A second pGPU of the source whose servers' strings are told
        # apart by VM markers (MARKERS instances, the budget of a pGPU).
        self.marked_pgpu = self.side.provider(
            provider_names.pgpu_provider_name(SOURCE, cloud.PGPUS[1]),
            parent=self.source_root, inventories={'VGPU': 16},
            traits=[_trait(codec.SRC, SOURCE_VERSION),
                    _trait(codec.ACC, SOURCE_VERSION)])
        # The withdrawal epoch, as the agents' first cycles leave it.
        self.side.ok('post', '/resource_providers', {
            'uuid': epoch.EPOCH_UUID, 'name': epoch.NAME_PREFIX + 'bench'})
        self.migration_uuid = self.new_migration()

    def new_migration(self, pgpu=None):
        """A migration consumer holding a server's source allocations."""
        migration = str(uuid.uuid4())
        self.side.ok('put', '/allocations/%s' % migration, {
            'allocations': {
                self.source_root: {'resources': ROOT_RESOURCES},
                (pgpu or self.source_pgpu): {'resources': {'VGPU': 1}}},
            'project_id': self.side.project_id,
            'user_id': self.side.user_id,
            'consumer_generation': None}, version='1.28')
        return migration

    def marked_request(self):
        """A live migration judged by the instance's own strings.

        The instance's vGPU is on the source's second pGPU, which carries
        :data:`MARKERS` VM markers (the instance's and its neighbours'),
        all of the source's string: the hosts kept are those of today's
        rule, so the two requests differ only in how they are judged.
        """
        instance = str(uuid.uuid4())
        string_id = codec.encode(cloud.vgpu_string(SOURCE_VERSION))
        markers = [codec.marker_trait(instance, string_id)] + [
            codec.marker_trait(str(uuid.uuid4()), string_id)
            for _ in range(MARKERS - 1)]
        for name in markers:
            self.side.ok('put', '/traits/%s' % name)
        url = '/resource_providers/%s/traits' % self.marked_pgpu
        body = self.side.ok('get', url)
        self.side.ok('put', url, {
            'traits': sorted(set(body['traits']) | set(markers)),
            'resource_provider_generation':
                body['resource_provider_generation']})
        migration = self.new_migration(self.marked_pgpu)
        return self.request_spec(migration_uuid=migration,
                                 instance_uuid=instance)

    def move_epoch(self):
        """An agent announces a withdrawal (as epoch.move does)."""
        url = '/resource_providers/%s' % epoch.EPOCH_UUID
        generation = self.side.ok('get', url)['generation']
        self.side.ok('put', url + '/aggregates', {
            'aggregates': [], 'resource_provider_generation': generation},
            version='1.19')

    def _load_destinations(self):
        """Bulk-load the destination providers into placement's DB."""
        engine = placement_db.get_placement_engine()
        models = placement_models
        rp_table = models.ResourceProvider.__table__
        with engine.begin() as conn:
            rc_ids = dict(conn.execute(sa.select(
                models.ResourceClass.name, models.ResourceClass.id)).all())
            trait_ids = dict(conn.execute(sa.select(
                models.Trait.name, models.Trait.id)).all())
            next_id = (conn.execute(sa.select(
                sa.func.max(models.ResourceProvider.id))).scalar() or 0) + 1
            now = timeutils.utcnow()
            providers, inventories, traits = [], [], []

            def inventory(rp_id, rc, total):
                inventories.append({
                    'resource_provider_id': rp_id,
                    'resource_class_id': rc_ids[rc], 'total': total,
                    'reserved': 0, 'min_unit': 1, 'max_unit': total,
                    'step_size': 1, 'allocation_ratio': 1.0,
                    'created_at': now})

            for i in range(self.size):
                name = 'host-%05d' % i
                root_id, root_uuid = next_id, str(uuid.uuid4())
                providers.append({
                    'id': root_id, 'uuid': root_uuid, 'name': name,
                    'generation': 1, 'root_provider_id': root_id,
                    'parent_provider_id': None, 'created_at': now})
                for rc, total in (('VCPU', 64), ('MEMORY_MB', 262144),
                                  ('DISK_GB', 4096)):
                    inventory(root_id, rc, total)
                host = {'name': name, 'uuid': root_uuid, 'pgpus': [],
                        'accepting': 0}
                for address, version in zip(
                        cloud.PGPUS, self.versions[i % len(self.versions)]):
                    rp_id, rp_uuid = next_id + 1 + len(host['pgpus']), \
                        str(uuid.uuid4())
                    providers.append({
                        'id': rp_id, 'uuid': rp_uuid,
                        'name': provider_names.pgpu_provider_name(name,
                                                                  address),
                        'generation': 1, 'root_provider_id': root_id,
                        'parent_provider_id': root_id, 'created_at': now})
                    inventory(rp_id, 'VGPU', 16)
                    names = [_trait(codec.SRC, version),
                             _trait(codec.ACC, version)]
                    if version in ACCEPTS and version != SOURCE_VERSION:
                        names.append(_trait(codec.ACC, SOURCE_VERSION))
                    if version in ACCEPTS:
                        host['accepting'] += 1
                    traits.extend({'resource_provider_id': rp_id,
                                   'trait_id': trait_ids[t],
                                   'created_at': now} for t in set(names))
                    host['pgpus'].append(rp_uuid)
                next_id += 1 + len(host['pgpus'])
                self.hosts.append(host)
            conn.execute(rp_table.insert(), providers)
            conn.execute(models.Inventory.__table__.insert(), inventories)
            conn.execute(models.ResourceProviderTrait.__table__.insert(),
                         traits)
        listed = self.side.ok('get', '/resource_providers')[
            'resource_providers']
        # The destinations, the source's root and two pGPUs, the epoch.
        if len(listed) != 3 * self.size + 4:
            raise RuntimeError('placement lists %d providers, expected %d'
                               % (len(listed), 3 * self.size + 4))

    @property
    def expected_kept(self):
        """Hosts with at least one accepting pGPU."""
        return sum(1 for h in self.hosts if h['accepting'])

    @property
    def expected_candidates(self):
        """Allocation candidates on an accepting pGPU."""
        return sum(h['accepting'] for h in self.hosts)

    # Nova ----------------------------------------------------------------

    def host_states(self):
        """One HostState per destination, two allocation candidates each."""
        now = timeutils.utcnow()
        service = {'id': 1, 'host': None, 'binary': 'nova-compute',
                   'topic': 'compute', 'disabled': False,
                   'forced_down': False, 'last_seen_up': now,
                   'created_at': now, 'updated_at': now, 'version': 70}
        states = []
        for i, host in enumerate(self.hosts):
            compute = objects.ComputeNode(
                id=i + 1, uuid=host['uuid'], host=host['name'],
                hypervisor_hostname=host['name'], local_gb=4096,
                memory_mb=262144, vcpus=64, disk_available_least=4000,
                free_ram_mb=200000, vcpus_used=4, free_disk_gb=4000,
                local_gb_used=96, updated_at=now, host_ip='192.0.2.1',
                hypervisor_type='QEMU', hypervisor_version=8001000,
                numa_topology=None, supported_hv_specs=[], cpu_info='{}',
                pci_device_pools=None, stats={}, metrics=None,
                cpu_allocation_ratio=4.0, ram_allocation_ratio=1.0,
                disk_allocation_ratio=1.0)
            state = host_manager.HostState(host['name'], host['name'],
                                           self.side.cell.uuid)
            state.update(compute=compute,
                         service=dict(service, host=host['name']),
                         aggregates=[], inst_dict={})
            state.allocation_candidates = [{
                'allocations': {
                    pgpu: {'resources': {'VGPU': 1}},
                    host['uuid']: {'resources': dict(ROOT_RESOURCES)}},
                'mappings': {'': [pgpu, host['uuid']]}}
                for pgpu in host['pgpus']]
            states.append(state)
        return states

    def request_spec(self, task_state='migrating', move=True,
                     migration_uuid=None, instance_uuid=None):
        """A live migration's RequestSpec (or another move's, or a boot's).

        The instance, its source compute node and (for a live migration)
        the ``accepted`` Migration exist in the cell database, as the
        conductor leaves them before it calls the scheduler.
        ``migration_uuid``: the migration consumer (default: the fleet's
        first); ``instance_uuid``: the instance's (default: a new one).
        """
        ctxt = self.side.ctxt
        instance_uuid = instance_uuid or str(uuid.uuid4())
        flavor = objects.Flavor(
            id=1, flavorid='vgpu', name='vgpu', memory_mb=512, vcpus=1,
            root_gb=1, ephemeral_gb=0, swap=0, rxtx_factor=1.0,
            vcpu_weight=None, disabled=False, is_public=True,
            extra_specs={'resources:VGPU': '1'})
        with nova_context.target_cell(ctxt, self.side.cell) as cctxt:
            if not getattr(self, '_source_node', None):
                self._source_node = objects.ComputeNode(
                    context=cctxt, uuid=self.source_root, host=SOURCE,
                    hypervisor_hostname=SOURCE, vcpus=64, memory_mb=262144,
                    local_gb=4096, vcpus_used=1, memory_mb_used=512,
                    local_gb_used=1, hypervisor_type='QEMU',
                    hypervisor_version=8001000, cpu_info='{}')
                self._source_node.create()
            instance = objects.Instance(
                context=cctxt, uuid=instance_uuid, host=SOURCE, node=SOURCE,
                compute_id=self._source_node.id,
                vm_state='active', task_state=task_state,
                project_id=self.side.project_id,
                user_id=self.side.user_id, flavor=flavor)
            instance.create()
            if task_state == 'migrating':
                objects.Migration(
                    context=cctxt,
                    uuid=migration_uuid or self.migration_uuid,
                    instance_uuid=instance_uuid, source_compute=SOURCE,
                    source_node=SOURCE, migration_type='live-migration',
                    status='accepted').create()
        spec = objects.RequestSpec(
            instance_uuid=instance_uuid, flavor=flavor,
            image=objects.ImageMeta.from_dict({'properties': {}}),
            num_instances=1, project_id=self.side.project_id,
            user_id=self.side.user_id, ignore_hosts=[SOURCE],
            force_hosts=None, force_nodes=None, scheduler_hints={},
            instance_group=None, pci_requests=objects.InstancePCIRequests(
                requests=[]), is_bfv=False)
        if move:
            spec.requested_destination = objects.Destination(
                cell=self.side.cell)
        return spec


class _Counter(object):
    """Counts the scheduler report client's placement GETs (and lists)."""

    def __init__(self):
        self.client = report.report_client_singleton()
        self.count = 0
        self.listings = 0
        real = self.client.get

        def counting_get(url, *args, **kwargs):
            self.count += 1
            if '?required=' in url:
                self.listings += 1
            return real(url, *args, **kwargs)

        self.client.get = counting_get


def _manager(side, enabled):
    side.flags(available_filters=['nova.scheduler.filters.all_filters',
                                  cloud.FILTER_PATH, NOOP_PATH],
               enabled_filters=enabled, group='filter_scheduler')
    return host_manager.HostManager()


def _copies(states):
    """The HostStates of one request (their candidate lists copied)."""
    hosts = [copy.copy(s) for s in states]
    for copied, state in zip(hosts, states):
        copied.allocation_candidates = list(state.allocation_candidates)
    return hosts


#: How the filter's caches are before each run: ``warm`` (filled by one
#: run first: a request repeated, such as the conductor's retry of the
#: same migration), ``new_migration`` (the acceptance cache warm, the
#: source provider's traits not: a new migration's allocations move gave
#: its provider a new generation) and ``cold`` (emptied: a scheduler
#: that just started).
CACHE_STATES = ('warm', 'new_migration', 'cold')


def _forget(caches):
    if caches == 'cold':
        cache.clear()
    elif caches == 'new_migration':
        cache.SOURCE_TRAITS.clear()


def _time_all(managers, states, spec, counter, repeat):
    """Median ms of get_filtered_hosts, kept hosts, placement GETs.

    :param managers: ``{name: (HostManager, cache state[, spec])}`` (a
        spec of its own, else ``spec``).  Their runs
        are interleaved (one of each per round, each round starting one
        further along), so that the machine's slower moments and what a
        run leaves behind (a cold run frees a large listing) fall on all
        of them alike.
    """
    samples = {name: [] for name in managers}
    found = {}
    specs = {name: entry[2] if len(entry) > 2 else spec
             for name, entry in managers.items()}
    for name, (manager, caches) in ((n, e[:2]) for n, e in
                                    managers.items()):
        if caches != 'cold':
            list(manager.get_filtered_hosts(_copies(states), specs[name]))
    # What exists now (the fleet, Nova's and placement's objects) is moved
    # out of the collector's way: the collection before each run, which
    # keeps collections out of the timed part, then only looks at what
    # the runs made.
    gc.collect()
    gc.freeze()
    try:
        order = list(managers.items())
        for turn in range(repeat):
            start = turn % len(order)
            for name, entry in order[start:] + order[:start]:
                manager, caches = entry[:2]
                hosts = _copies(states)
                _forget(caches)
                gc.collect()
                before = counter.count
                started = time.perf_counter()
                result = list(manager.get_filtered_hosts(hosts,
                                                         specs[name]))
                samples[name].append((time.perf_counter() - started) * 1000)
                found[name] = {
                    'kept': len(result),
                    'candidates_kept': sum(len(h.allocation_candidates)
                                           for h in result),
                    'placement_requests': counter.count - before}
    finally:
        gc.unfreeze()
    return {name: dict(found[name], ms=statistics.median(runs),
                       min_ms=min(runs), runs=repeat)
            for name, runs in samples.items()}


def _memory(body, url):
    """A scheduler process's memory for one listing (MiB): peak and kept.

    Placement runs in this process, so the filter's own request cannot be
    measured apart from it: the client's decoding of placement's answer
    (``body``) is measured instead, with tracemalloc.  *Peak*: the answer
    itself (held while it is decoded) plus the most the decoding
    allocates; *kept*: the decoded listing with its by-host index, as the
    acceptance cache holds them.
    """
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        listing = placement.listed_roots(body, url,
                                         placement.LISTED_PROVIDERS)
        listing.by_root()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {'providers': len(listing),
            'peak_mib': (peak - base + len(body)) / 2 ** 20,
            'kept_mib': (current - base) / 2 ** 20}


#: Live migrations of one burst (a host evacuation), by default.
BURST = 50
#: The burst's configurations: the acceptance cache (its default
#: seconds, under the withdrawal epoch), the same with a withdrawal
#: announced halfway, and no cache.
BURST_RUNS = ('cached', 'cached_withdrawal', 'no_cache')


def _burst(side, fleet, states, manager, counter, count):
    """A host's evacuation: ``count`` live migrations back to back.

    Each is a new migration (its own consumer: the conductor moved its
    allocations just before, so the source provider's generation is new),
    scheduled by the filter alone, the caches empty at the start (a
    scheduler that just started).  Time and requests are those of the
    scheduling calls only.
    """
    default = nova_conf.CONF.migcompat.acceptance_cache_seconds
    results = {}
    for run in BURST_RUNS:
        side.flags(acceptance_cache_seconds=0 if run == 'no_cache'
                   else default, group='migcompat')
        cache.clear()
        times, requests, listings = [], 0, 0
        for i in range(count):
            migration = fleet.new_migration()
            spec = fleet.request_spec(migration_uuid=migration)
            if run == 'cached_withdrawal' and i == count // 2:
                fleet.move_epoch()
            hosts = _copies(states)
            gc.collect()
            before, listed = counter.count, counter.listings
            started = time.perf_counter()
            kept = list(manager.get_filtered_hosts(hosts, spec))
            times.append((time.perf_counter() - started) * 1000)
            requests += counter.count - before
            listings += counter.listings - listed
            # The server has gone: the source keeps room for the next.
            fleet.side.ok('delete', '/allocations/%s' % migration)
            if len(kept) != fleet.expected_kept:
                raise RuntimeError('burst %s: kept %d hosts, expected %d'
                                   % (run, len(kept), fleet.expected_kept))
        results[run] = {'migrations': count, 'total_ms': sum(times),
                        'median_ms': statistics.median(times),
                        'placement_requests': requests,
                        'listings': listings}
    cache.clear()
    return results


def _repeat(size):
    return 20 if size <= 100 else 11 if size <= 5000 else 5


def run(sizes, accepting_sizes=(), log=print, burst=BURST):
    """Parts (a) and (b) for each fleet; returns plain data."""
    results = []
    fleets = [('mixed', size) for size in sizes] + \
        [('accepting', size) for size in accepting_sizes]
    for kind, size in fleets:
        with inprocess.scheduler_side() as side:
            results.append(_measure(side, size, kind, burst))
        row = results[-1]['live_migration']
        log('  %5d hosts (%s): live migration: the filter alone %.1f ms '
            'warm, %.1f ms for a new migration, %.1f ms cold; the default '
            'chain %.1f ms (%.1f ms with the filter), a no-op filter '
            '%.1f ms; kept %d of %d hosts'
            % (size, kind, row['filter_alone']['ms'],
               row['filter_new_migration']['ms'], row['filter_cold']['ms'],
               row['default_chain']['ms'], row['with_filter']['ms'],
               row['noop_alone']['ms'], row['with_filter']['kept'], size))
        marked = results[-1]['markers']
        log('         the filter alone judging by the instance\'s own '
            'strings (%d VM markers on its pGPU) / by every string of the '
            'provider: %.1f / %.1f ms warm (%d / %d placement requests), '
            '%.1f / %.1f ms for a new migration (%d / %d)'
            % (MARKERS, marked['warm']['by_markers']['ms'],
               marked['warm']['by_provider']['ms'],
               marked['warm']['by_markers']['placement_requests'],
               marked['warm']['by_provider']['placement_requests'],
               marked['new_migration']['by_markers']['ms'],
               marked['new_migration']['by_provider']['ms'],
               marked['new_migration']['by_markers']['placement_requests'],
               marked['new_migration']['by_provider'][
                   'placement_requests']))
        if 'burst' in results[-1]:
            runs = results[-1]['burst']
            log('         a burst of %d live migrations: %.0f ms with the '
                'cache (%d placement requests, %d lists read), %.0f ms '
                'without (%d, %d)'
                % (runs['cached']['migrations'], runs['cached']['total_ms'],
                   runs['cached']['placement_requests'],
                   runs['cached']['listings'], runs['no_cache']['total_ms'],
                   runs['no_cache']['placement_requests'],
                   runs['no_cache']['listings']))
    return results


def _measure(side, size, kind='mixed', burst=BURST):
    started = time.perf_counter()
    fleet = Fleet(side, size, FLEETS[kind])
    states = fleet.host_states()
    load_s = time.perf_counter() - started
    # The services were seen up when the HostStates were made: they stay
    # up (ComputeFilter, whose servicegroup driver reads this when the
    # filter is made) however long the runs take.
    side.flags(service_down_time=86400)
    managers = {
        'default_chain': (_manager(side, DEFAULT_FILTERS), 'warm'),
        'noop_alone': (_manager(side, [NOOP]), 'warm'),
        'with_filter': (_manager(side, DEFAULT_FILTERS + [FILTER]), 'warm'),
        'filter_alone': (_manager(side, [FILTER]), 'warm'),
    }
    filter_alone = managers['filter_alone'][0]
    # Warm: the cached acceptance outlives the runs.
    side.flags(acceptance_cache_seconds=3600, group='migcompat')
    counter = _Counter()
    repeat = _repeat(size)
    marked = fleet.marked_request()
    requests = {
        'live_migration': fleet.request_spec(),
        'cold_migration': fleet.request_spec('resize_prep'),
        'boot': fleet.request_spec(None, move=False),
    }
    row = {'hosts': size, 'fleet': kind, 'providers': 3 * size + 3,
           'load_s': load_s, 'expected_kept': fleet.expected_kept,
           'expected_candidates': fleet.expected_candidates,
           'acceptance_cache_seconds': nova_conf.CONF.migcompat.
           acceptance_cache_seconds}
    for kind, spec in requests.items():
        timed = dict(managers)
        if kind == 'live_migration':
            # Other requests use no cache: cold is warm for them.
            timed['filter_new_migration'] = (filter_alone, 'new_migration')
            timed['filter_cold'] = (filter_alone, 'cold')
        row[kind] = _time_all(timed, states, spec, counter, repeat)
    # The filter alone, judging by the instance's own strings (VM
    # markers) against today's rule (every string of the source
    # provider), paired, warm and for new migrations.
    row['markers'] = {
        caches: _time_all({
            'by_provider': (filter_alone, caches),
            'by_markers': (filter_alone, caches, marked)},
            states, requests['live_migration'], counter, repeat)
        for caches in ('warm', 'new_migration')}
    # The answer placement gives for the source string, and what it takes
    # the scheduler to read it.
    url = '/resource_providers?required=%s' % _trait(codec.ACC,
                                                     SOURCE_VERSION)
    body = report.report_client_singleton().get(url, version='1.23').content
    row['listing'] = {'providers': len(json.loads(body)[
        'resource_providers']), 'bytes': len(body)}
    row['live_migration']['memory'] = _memory(body, url)
    cache.clear()
    if burst:
        # The acceptance cache's default, as a scheduler runs.
        nova_conf.CONF.clear_override('acceptance_cache_seconds',
                                      group='migcompat')
        row['burst'] = _burst(side, fleet, states, filter_alone, counter,
                              burst)
    return row
