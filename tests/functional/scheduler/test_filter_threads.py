"""Concurrent live-migration requests in one scheduler process.

Nova 34's scheduler runs on native threads: concurrent requests share the
filter's module-level caches (source traits, accepting providers, compute
nodes) and what is built lazily on cached objects (a listing's by-host
index).  Many requests at once, with the caches cold and then hot, must
give exactly the decisions of the same requests made one by one.

Placement is real (over HTTP); the boundaries replaced are Nova's cell
database (which request is a live migration, the source's compute node)
and the report client's Keystone session.
"""

import concurrent.futures
import threading
import time
import uuid

from nova import conf as nova_conf
from nova import objects
from nova.scheduler import host_manager
import pytest
import requests

from nova_migcompat.agent import provider_names
from nova_migcompat import codec
from nova_migcompat.scheduler import cache
from nova_migcompat.scheduler.filters import migration_compatibility_filter
from nova_migcompat.scheduler import live_migration

objects.register_all()
CONF = nova_conf.CONF
FILTER = migration_compatibility_filter.MigrationCompatibilityFilter
HOSTS = 24
STRINGS = ['{"vendor":"nvidia","version":"2.%d"}' % i for i in range(5)]
THREADS = 16
ROUNDS = 3
#: Seconds between the starts of the cold requests (about one request to
#: placement here).
STAGGER = 0.004


class ReportClient(object):
    """The scheduler report client's ``get``, over HTTP (thread-safe)."""

    def __init__(self, endpoint):
        self.endpoint = endpoint

    def get(self, url, version=None):
        return requests.get(
            self.endpoint + url, timeout=30,
            headers={'X-Auth-Token': 'admin', 'OpenStack-API-Version':
                     'placement %s' % version, 'Accept': 'application/json'})


class Fleet(object):
    """Hosts with two pGPUs each, accepting various strings; sources."""

    def __init__(self, api):
        self.api = api
        self.hosts = []
        self.requests = []

    def _inventory(self, rp, rc, total):
        gen = self.api.ok('GET', '/resource_providers/%s' % rp)['generation']
        self.api.ok('PUT', '/resource_providers/%s/inventories' % rp,
                    {'resource_provider_generation': gen,
                     'inventories': {rc: {'total': total}}})

    def _traits(self, rp, names):
        self.api.add_traits(rp, *names)

    def build(self):
        for i in range(HOSTS):
            name = 'host%02d' % i
            tree = self.api.create_compute(name, ('0000:81:00.0',
                                                  '0000:82:00.0'))
            root = tree[name]
            self._inventory(root, 'VCPU', 64)
            self._traits(root, [codec.REPORTED_TRAIT])
            pgpus = [tree[provider_names.pgpu_provider_name(name, a)]
                     for a in ('0000:81:00.0', '0000:82:00.0')]
            for k, rp in enumerate(pgpus):
                self._inventory(rp, 'VGPU', 8)
                # Each pGPU accepts strings by a pattern of its own.
                accepted = [s for j, s in enumerate(STRINGS)
                            if (i * 7 + k * 3 + j * 5) % 4 < 2]
                produced = STRINGS[(i + k) % len(STRINGS)]
                self._traits(rp, [codec.trait(codec.SRC,
                                              codec.encode(produced))] +
                             [codec.trait(codec.ACC, codec.encode(s))
                              for s in accepted])
            self.hosts.append((name, root, pgpus))
        self.api.ok('POST', '/resource_providers',
                    {'uuid': migration_compatibility_filter.epoch.EPOCH_UUID,
                     'name': 'nova-migcompat-epoch-test'})

    def host_states(self):
        states = []
        for name, root, pgpus in self.hosts:
            state = host_manager.HostState(name, name, None)
            state.uuid = root
            state.allocation_candidates = [
                {'allocations': {rp: {'resources': {'VGPU': 1}},
                                 root: {'resources': {'VCPU': 1}}}}
                for rp in pgpus]
            states.append(state)
        return states

    def add_request(self, source, pgpu_index):
        """A live migration of a server on ``source``'s pGPU."""
        name, root, pgpus = self.hosts[source]
        migration = str(uuid.uuid4())
        project = str(uuid.uuid4())
        self.api.ok('PUT', '/allocations/%s' % migration, {
            'allocations': {root: {'resources': {'VCPU': 1}},
                            pgpus[pgpu_index]: {'resources': {'VGPU': 1}}},
            'project_id': project, 'user_id': project,
            'consumer_generation': None}, version='1.28')
        instance = str(uuid.uuid4())
        self.requests.append((instance, live_migration.LiveMigration(
            instance, migration, name, False), root))


@pytest.fixture
def fleet(placement_api, placement_http, monkeypatch):
    built = Fleet(placement_api)
    built.build()
    for source in range(HOSTS):
        built.add_request(source, source % 2)
    # A source whose device cannot be judged, one with a corrupt string,
    # one without an agent.
    name, root, pgpus = built.hosts[0]
    placement_api.add_traits(pgpus[1], codec.nosrc_trait(codec.NO_STRING))
    name, root, pgpus = built.hosts[1]
    placement_api.add_traits(pgpus[1], codec.trait(codec.SRC, '1P' + 'Z' * 9))
    built.add_request(0, 1)
    built.add_request(1, 1)
    name, root, pgpus = built.hosts[2]
    path = '/resource_providers/%s/traits' % pgpus[0]
    body = placement_api.ok('GET', path)
    body['traits'] = []
    placement_api.ok('PUT', path, body)
    path = '/resource_providers/%s/traits' % root
    body = placement_api.ok('GET', path)
    body['traits'] = []
    placement_api.ok('PUT', path, body)
    built.add_request(2, 0)

    by_instance = {instance: migration
                   for instance, migration, _root in built.requests}
    roots = {migration.source_host: (root,)
             for _i, migration, root in built.requests}
    monkeypatch.setattr(live_migration, 'find',
                        lambda spec: by_instance.get(spec.instance_uuid))
    monkeypatch.setattr(live_migration, '_read_compute_nodes',
                        lambda migration: roots[migration.source_host])
    client = ReportClient(placement_http)
    monkeypatch.setattr(migration_compatibility_filter.report,
                        'report_client_singleton', lambda: client)
    CONF.set_override('acceptance_cache_seconds', 3600, 'migcompat')
    cache.clear()
    yield built
    cache.clear()
    CONF.clear_override('acceptance_cache_seconds', 'migcompat')


#: Nova's host manager makes one filter object for every request.
SHARED = FILTER()


def decide(fleet, instance):
    spec = objects.RequestSpec(
        instance_uuid=instance,
        flavor=objects.Flavor(extra_specs={'resources:VGPU': '1'}))
    kept = SHARED.filter_all(fleet.host_states(), spec)
    return tuple((state.host, tuple(sorted(
        rp for c in state.allocation_candidates
        for rp in c['allocations'] if rp != state.uuid)))
        for state in kept)


def test_concurrent_requests_decide_as_sequential_ones(fleet):
    instances = [instance for instance, _m, _r in fleet.requests]
    one_by_one = {instance: decide(fleet, instance)
                  for instance in instances}
    # The fleet gives every kind of answer: some hosts, none, refusals.
    assert len({len(kept) for kept in one_by_one.values()}) > 3
    assert any(not kept for kept in one_by_one.values())
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        # Cold: THREADS requests of one instance, on empty caches, started
        # a placement request apart from each other: the later ones find
        # what the earlier ones are still reading, storing and indexing.
        for instance in instances:
            cache.clear()
            start = threading.Barrier(THREADS)

            def at_once(n, instance=instance, start=start):
                start.wait()
                time.sleep(n * STAGGER)
                return decide(fleet, instance)
            for kept in pool.map(at_once, range(THREADS)):
                assert kept == one_by_one[instance], instance
        # Hot: every instance, many times, in any order.
        work = [instance for _round in range(ROUNDS)
                for instance in instances]
        for instance, kept in pool.map(lambda i: (i, decide(fleet, i)),
                                       work):
            assert kept == one_by_one[instance], instance
