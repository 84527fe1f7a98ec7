"""MigrationCompatibilityFilter without Nova services: the requests it must
leave alone, and what it does when it cannot work a request out.

The live-migration behaviour itself is proven through real Nova in
tests/functional/test_live_migration.py.
"""

import json
import logging

from nova import conf as nova_conf
from nova import objects
from nova.scheduler import host_manager
from oslo_utils import uuidutils
import pytest

from nova_migcompat import codec
from nova_migcompat import epoch
from nova_migcompat.scheduler import cache
from nova_migcompat.scheduler import filters as migcompat_filters
from nova_migcompat.scheduler.filters import migration_compatibility_filter
from nova_migcompat.scheduler import live_migration
from tests import samples

objects.register_all()
CONF = nova_conf.CONF
FILTER = migration_compatibility_filter.MigrationCompatibilityFilter
#: The source compute node (its root provider) of the live migrations
#: below: the one node of the source host in the database.
SOURCE_ROOT = uuidutils.generate_uuid()


@pytest.fixture(autouse=True)
def a_fresh_scheduler(monkeypatch):
    """Empty caches; the cell database knows the source host's node."""
    cache.clear()
    monkeypatch.setattr(live_migration, '_read_compute_nodes',
                        lambda migration: (SOURCE_ROOT,))
    yield
    cache.clear()


def host_state(i, **attrs):
    state = host_manager.HostState('host%d' % i, 'node%d' % i, None)
    state.__dict__.update(attrs)
    return state


@pytest.fixture
def hosts():
    return [host_state(i) for i in range(3)]


@pytest.fixture
def no_placement(monkeypatch):
    """Fail the test if the filter asks placement anything."""
    def forbidden():
        raise AssertionError('the filter built a placement client')
    monkeypatch.setattr(migration_compatibility_filter.report,
                        'report_client_singleton', forbidden)


@pytest.fixture
def on_error():
    def set_to(value):
        CONF.set_override('on_error', value, 'migcompat')
    yield set_to
    CONF.clear_override('on_error', 'migcompat')


def test_boot_request_passes_untouched(hosts, no_placement):
    spec = objects.RequestSpec(instance_uuid=uuidutils.generate_uuid())
    assert list(FILTER().filter_all(hosts, spec)) == hosts
    assert FILTER().host_passes(hosts[0], spec)


def a_live_migration(monkeypatch):
    """The database says: this request is a live migration (boundary)."""
    def find(spec_obj):
        return live_migration.LiveMigration(
            spec_obj.instance_uuid, uuidutils.generate_uuid(),
            uuidutils.generate_uuid(), False)
    monkeypatch.setattr(migration_compatibility_filter.live_migration,
                        'find', find)


def test_rebuild_request_passes_untouched(hosts, no_placement, monkeypatch):
    # Even when the instance looks like it is live-migrating, a rebuild
    # (which nova schedules on the instance's own host) is never judged.
    a_live_migration(monkeypatch)
    spec = objects.RequestSpec(
        instance_uuid=uuidutils.generate_uuid(),
        scheduler_hints={'_nova_check_type': ['rebuild']})
    assert list(FILTER().filter_all(hosts, spec)) == hosts
    assert FILTER().host_passes(hosts[0], spec)


def _unreachable_cell_spec(**extra_specs):
    # A request whose cell database cannot be opened: a real failure while
    # the filter works out whether this is a live migration.
    cell = objects.CellMapping(
        uuid=uuidutils.generate_uuid(), name='broken',
        database_connection='sqlite:////nonexistent/dir/nova.db',
        transport_url='none:///')
    return objects.RequestSpec(
        instance_uuid=uuidutils.generate_uuid(),
        flavor=objects.Flavor(extra_specs=extra_specs),
        requested_destination=objects.Destination(cell=cell))


@pytest.mark.parametrize('policy,kept', [('reject', 0), ('pass', 3)])
def test_undetectable_request_with_devices_follows_on_error(
        hosts, on_error, caplog, policy, kept):
    # It may be the live migration of a vGPU instance: a database fault
    # must not let it go anywhere (fail closed).
    on_error(policy)
    spec = _unreachable_cell_spec(**{'resources:VGPU': '1'})
    with caplog.at_level(logging.WARNING):
        assert len(list(FILTER().filter_all(hosts, spec))) == kept
    [error] = [r.getMessage() for r in caplog.records
               if r.levelno >= logging.ERROR]
    assert spec.instance_uuid in error
    assert 'Cannot tell whether this is a live migration' in error
    assert 'on_error=%s' % policy in error


@pytest.mark.parametrize('policy', ['reject', 'pass'])
def test_undetectable_request_without_devices_passes(hosts, on_error,
                                                     policy):
    # Nothing to check for a server without devices: no database read.
    on_error(policy)
    spec = _unreachable_cell_spec(**{'resources:VCPU': '2'})
    assert list(FILTER().filter_all(hosts, spec)) == hosts


class Unavailable(object):
    """A scheduler report client whose placement answers 503."""

    class Response(object):
        status_code = 503
        content = b'{"errors": [{"status": 503, "detail": "down"}]}'

    def get(self, url, version=None):
        return self.Response()


@pytest.mark.parametrize('policy,kept', [('reject', 0), ('pass', 3)])
def test_placement_failure_follows_on_error(hosts, on_error, caplog,
                                            monkeypatch, policy, kept):
    on_error(policy)
    spec = objects.RequestSpec(instance_uuid=uuidutils.generate_uuid())
    # The database says: a live migration (boundary); placement is down.
    monkeypatch.setattr(
        migration_compatibility_filter.live_migration, 'find',
        lambda spec_obj: live_migration.LiveMigration(
            spec_obj.instance_uuid, uuidutils.generate_uuid(),
            uuidutils.generate_uuid(), False))
    monkeypatch.setattr(migration_compatibility_filter.report,
                        'report_client_singleton', Unavailable)
    with caplog.at_level(logging.ERROR):
        result = list(FILTER().filter_all(hosts, spec))
    assert len(result) == kept
    errors = [r.getMessage() for r in caplog.records
              if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert spec.instance_uuid in errors[0]
    assert 'placement failed with 503' in errors[0]
    assert 'on_error=%s' % policy in errors[0]


def test_stevedore_loader_returns_the_filter():
    assert migcompat_filters.all_filters() == [FILTER]


class FleetPlacement(object):
    """A report client for a fleet where no device accepts the source's.

    The source pGPU produces one string; placement knows no provider with
    its ACC trait.
    """

    class Response(object):

        def __init__(self, body, status_code=200):
            self.status_code = status_code
            self.content = json.dumps(body).encode()

    def __init__(self, migration_uuid, source_pgpu, token):
        self.urls = []
        self.answers = {
            '/allocations/%s' % migration_uuid: {'allocations': {
                SOURCE_ROOT: {'resources': {'VCPU': 1}, 'generation': 3},
                source_pgpu: {'resources': {'VGPU': 1}, 'generation': 1}}},
            '/resource_providers/%s/traits' % SOURCE_ROOT: {
                'traits': [], 'resource_provider_generation': 3},
            '/resource_providers/%s/traits' % source_pgpu: {
                'traits': [codec.trait(codec.SRC, token)],
                'resource_provider_generation': 1},
            '/resource_providers?required=%s' % codec.trait(
                codec.ACC, token): {'resource_providers': []},
        }
        #: No withdrawal epoch yet: no list is kept.
        self.missing = {'/resource_providers/%s' % epoch.EPOCH_UUID}

    def get(self, url, version=None):
        self.urls.append(url)
        if url in self.missing:
            return self.Response({'errors': [{'status': 404}]}, 404)
        return self.Response(self.answers[url])


def refused_everywhere(monkeypatch, spec, token=None):
    """A live migration whose one string no device of the fleet accepts.

    The database (a boundary) says it is a live migration; placement says
    nobody accepts.
    """
    migration = live_migration.LiveMigration(
        spec.instance_uuid, uuidutils.generate_uuid(),
        uuidutils.generate_uuid(), False)
    monkeypatch.setattr(migration_compatibility_filter.live_migration,
                        'find', lambda spec_obj: migration)
    client = FleetPlacement(migration.migration_uuid,
                            uuidutils.generate_uuid(),
                            token or codec.encode(samples.NVIDIA_21))
    monkeypatch.setattr(migration_compatibility_filter.report,
                        'report_client_singleton', lambda: client)
    return migration


def test_rejections_at_debug_and_one_info_summary(caplog, monkeypatch):
    many = [host_state(i, uuid=uuidutils.generate_uuid())
            for i in range(migration_compatibility_filter.SUMMARY_HOSTS + 5)]
    spec = objects.RequestSpec(instance_uuid=uuidutils.generate_uuid())
    refused_everywhere(monkeypatch, spec)
    with caplog.at_level(logging.DEBUG):
        assert list(FILTER().filter_all(many, spec)) == []
    rejected = [r for r in caplog.records
                if r.getMessage().startswith('Host host')]
    assert [r.levelno for r in rejected] == [logging.DEBUG] * len(many)
    assert samples.NVIDIA_21[:60] in rejected[0].getMessage()
    [summary] = [r for r in caplog.records
                 if 'Live migration of instance' in r.getMessage()]
    message = summary.getMessage()
    assert summary.levelno == logging.INFO
    assert 'kept 0 of 25 hosts (4 placement requests' in message
    # Hosts by name, with the decoded string they do not accept.
    assert 'rejected host0, host1, host10, host11, ' in message
    assert 'host9: does not accept ' in message
    assert samples.NVIDIA_21[:60] in message
    assert 'host20' not in message and 'host24' not in message
    assert message.endswith(' and 5 more hosts (DEBUG)')


@pytest.mark.parametrize('token,words', [
    # An upgraded agent on the source published its string in a codec
    # version this (older) filter cannot decode: refused, and the line
    # says to upgrade the schedulers first.
    ('3P' + codec.encode(samples.NVIDIA_21)[2:],
     'is of codec version 3P, from a newer release of nova-migcompat '
     '(this one decodes 1P, 1D, 2P, 2D): upgrade the schedulers and the '
     'operator tools before the agents'),
    # This release's own header with a payload that does not decode: a
    # corrupt (or planted) trait, not one from the future.
    ('1P' + 'Z' * 60, 'is corrupt: token '),
    ('1D' + 'Z' * 60, 'is corrupt: token '),
    # A header of no release at all.
    ('BAR', "is corrupt: its header 'BA' is of no codec version"),
])
def test_a_source_trait_that_does_not_decode_is_refused(caplog, monkeypatch,
                                                        hosts, token, words):
    spec = objects.RequestSpec(instance_uuid=uuidutils.generate_uuid())
    refused_everywhere(monkeypatch, spec, token=token)
    with caplog.at_level(logging.INFO):
        assert list(FILTER().filter_all(hosts, spec)) == []
    [summary] = [r for r in caplog.records
                 if 'Live migration of instance' in r.getMessage()]
    message = summary.getMessage()
    assert summary.levelno == logging.WARNING
    assert 'refused on every host (3;' in message
    assert 'its trait %s' % codec.trait(codec.SRC, token)[:48] in message
    assert words in message
    assert 'cannot decode' not in message


def test_host_passes_works_the_request_out_once(hosts, monkeypatch):
    spec = objects.RequestSpec(instance_uuid=uuidutils.generate_uuid())
    calls = []

    def find(spec_obj):
        calls.append(spec_obj)
        return None
    monkeypatch.setattr(migration_compatibility_filter.live_migration,
                        'find', find)
    filt = FILTER()
    assert all(filt.host_passes(host, spec) for host in hosts)
    assert len(calls) == 1


def test_request_without_instance_uuid_passes(hosts, no_placement):
    # Nothing set at all: not a live migration we can tell; never raises.
    spec = objects.RequestSpec()
    assert list(FILTER().filter_all(hosts, spec)) == hosts
    assert FILTER().host_passes(hosts[0], objects.RequestSpec())


def test_one_hosts_error_decides_that_host_only(on_error, caplog,
                                                monkeypatch):
    on_error('pass')
    hosts = [host_state(i, uuid=uuidutils.generate_uuid()) for i in range(3)]
    spec = objects.RequestSpec(instance_uuid=uuidutils.generate_uuid())
    # No device of the fleet accepts the source's string: every host is
    # rejected on its merits, except host1, whose judging fails.
    refused_everywhere(monkeypatch, spec)
    judge = migration_compatibility_filter.requirements.judge_host

    def failing_judge(host_uuid, *args, **kwargs):
        if host_uuid == hosts[1].uuid:
            raise KeyError('broken candidate')
        return judge(host_uuid, *args, **kwargs)
    monkeypatch.setattr(migration_compatibility_filter.requirements,
                        'judge_host', failing_judge)
    with caplog.at_level(logging.ERROR):
        assert list(FILTER().filter_all(hosts, spec)) == [hosts[1]]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert 'Cannot judge host host1' in errors[0].getMessage()
    assert errors[0].exc_info is not None
    # With reject, host1 alone follows it (the others are judged).
    on_error('reject')
    spec = objects.RequestSpec(instance_uuid=spec.instance_uuid)
    assert list(FILTER().filter_all(hosts, spec)) == []


class CountingFleet(FleetPlacement):
    """A source provider that carries ``count`` SRC traits."""

    def __init__(self, migration_uuid, source_pgpu, count):
        tokens = [codec.encode('string %d' % i) for i in range(count)]
        super().__init__(migration_uuid, source_pgpu, tokens[0])
        self.answers['/resource_providers/%s/traits' % source_pgpu] = {
            'traits': [codec.trait(codec.SRC, t) for t in tokens],
            'resource_provider_generation': 1}
        for token in tokens:
            self.answers['/resource_providers?required=%s' % codec.trait(
                codec.ACC, token)] = {'resource_providers': []}


@pytest.mark.parametrize('policy,kept', [('reject', 0), ('pass', 3)])
def test_placement_requests_are_bounded(hosts, on_error, caplog,
                                        monkeypatch, policy, kept):
    on_error(policy)
    spec = objects.RequestSpec(instance_uuid=uuidutils.generate_uuid())
    clients = []

    def client():
        # find() below makes the instance uuid the migration's.
        clients.append(CountingFleet(spec.instance_uuid,
                                     uuidutils.generate_uuid(), 1000))
        return clients[-1]
    monkeypatch.setattr(migration_compatibility_filter.live_migration,
                        'find', lambda spec_obj: live_migration.LiveMigration(
                            spec_obj.instance_uuid, spec_obj.instance_uuid,
                            uuidutils.generate_uuid(), False))
    monkeypatch.setattr(migration_compatibility_filter.report,
                        'report_client_singleton', client)
    with caplog.at_level(logging.ERROR):
        assert len(list(FILTER().filter_all(hosts, spec))) == kept
    [fleet] = clients
    # The allocations and the source provider's traits; no string query.
    assert len(fleet.urls) == 2
    [error] = [r.getMessage() for r in caplog.records
               if r.levelno >= logging.ERROR]
    assert '1000 distinct compatibility strings' in error
    assert spec.instance_uuid in error
    assert 'on_error=%s' % policy in error


def a_flavor(**extra_specs):
    return objects.Flavor(extra_specs=extra_specs)


def test_server_without_devices_costs_no_placement_request(
        hosts, on_error, monkeypatch):
    on_error('reject')
    # Placement is down, the database says "a live migration": a server
    # whose request asks for no device passes every host, and neither is
    # asked.
    calls = []

    def find(spec_obj):
        calls.append(spec_obj)
        return live_migration.LiveMigration(
            spec_obj.instance_uuid, uuidutils.generate_uuid(),
            uuidutils.generate_uuid(), False)
    monkeypatch.setattr(migration_compatibility_filter.live_migration,
                        'find', find)
    unavailable = []
    monkeypatch.setattr(migration_compatibility_filter.report,
                        'report_client_singleton',
                        lambda: unavailable.append(1) or Unavailable())
    spec = objects.RequestSpec(
        instance_uuid=uuidutils.generate_uuid(),
        flavor=a_flavor(**{'resources:VCPU': '2', 'hw:cpu_policy': 'shared',
                           'resources1:VGPU': '0'}),
        pci_requests=objects.InstancePCIRequests(requests=[]),
        requested_resources=[])
    assert list(FILTER().filter_all(hosts, spec)) == hosts
    assert calls == [] and unavailable == []
    # The same server with a vGPU: judged, and placement's fault rejects.
    spec = objects.RequestSpec(
        instance_uuid=uuidutils.generate_uuid(),
        flavor=a_flavor(**{'resources:VGPU': '1'}))
    assert list(FILTER().filter_all(hosts, spec)) == []
    assert len(calls) == 1 and unavailable == [1]


@pytest.mark.parametrize('fields,devices', [
    ({}, True),
    ({'flavor': a_flavor()}, False),
    ({'flavor': a_flavor(**{'resources:VGPU': '1'})}, True),
    ({'flavor': a_flavor(**{'resources_GPU:CUSTOM_FPGA': '1'})}, True),
    ({'flavor': a_flavor(**{'resources:MEMORY_MB': '512'})}, False),
    ({'flavor': a_flavor(**{'resources:VGPU': 'x'})}, True),
    ({'flavor': a_flavor(**{'pci_passthrough:alias': 'a:1'})}, True),
    ({'flavor': a_flavor(**{'accel:device_profile': 'p'})}, True),
    ({'flavor': a_flavor(), 'pci_requests': objects.InstancePCIRequests(
        requests=[objects.InstancePCIRequest(count=1)])}, True),
    ({'flavor': a_flavor(), 'requested_resources': [
        objects.RequestGroup(resources={'NET_BW_EGR_KILOBIT_PER_SEC': 1})]},
     True),
    # Extra specs that cannot be loaded: maybe devices.
    ({'flavor': objects.Flavor()}, True),
])
def test_may_have_devices(fields, devices):
    spec = objects.RequestSpec(**fields)
    assert live_migration.may_have_devices(spec) is devices


def test_a_failure_to_word_a_rejection_keeps_it_rejected(
        on_error, monkeypatch, caplog):
    # Even with on_error=pass: the host was judged, and it refuses.
    on_error('pass')
    hosts = [host_state(i, uuid=uuidutils.generate_uuid()) for i in range(2)]
    spec = objects.RequestSpec(instance_uuid=uuidutils.generate_uuid())
    refused_everywhere(monkeypatch, spec)

    def broken(plan, judgement):
        raise UnicodeError('cannot word it')
    monkeypatch.setattr(migration_compatibility_filter._Plan, 'summary',
                        broken)
    with caplog.at_level(logging.INFO):
        assert list(FILTER().filter_all(hosts, spec)) == []
    assert any('Cannot log the summary of the live migration'
               in r.getMessage() for r in caplog.records)


@pytest.fixture
def options():
    names = []

    def set_to(**values):
        for name, value in values.items():
            CONF.set_override(name, value, 'migcompat')
            names.append(name)
    yield set_to
    for name in names:
        CONF.clear_override(name, 'migcompat')


def accepted_on(monkeypatch, spec, hosts):
    """A live migration whose string the hosts' devices accept."""
    migration = live_migration.LiveMigration(
        spec.instance_uuid, uuidutils.generate_uuid(), 'src', False)
    monkeypatch.setattr(migration_compatibility_filter.live_migration,
                        'find', lambda spec_obj: migration)
    token = codec.encode(samples.NVIDIA_21)
    client = FleetPlacement(migration.migration_uuid,
                            uuidutils.generate_uuid(), token)
    listing = client.answers['/resource_providers?required=%s' % codec.trait(
        codec.ACC, token)]['resource_providers']
    for host in hosts:
        device = uuidutils.generate_uuid()
        host.allocation_candidates = [{'allocations': {
            device: {'resources': {'VGPU': 1}},
            host.uuid: {'resources': {'VCPU': 1}}}}]
        listing.append({'uuid': device, 'root_provider_uuid': host.uuid,
                        'name': '%s_pci_0000_81_00_0' % host.host,
                        'generation': 1, 'links': []})
    # The withdrawal epoch exists (an agent ran).
    client.missing.clear()
    client.answers['/resource_providers/%s' % epoch.EPOCH_UUID] = {
        'uuid': epoch.EPOCH_UUID, 'name': epoch.NAME_PREFIX + 'a',
        'generation': 1}
    monkeypatch.setattr(migration_compatibility_filter.report,
                        'report_client_singleton', lambda: client)
    return client


def move_epoch(client):
    """An agent announces a withdrawal."""
    client.answers['/resource_providers/%s' % epoch.EPOCH_UUID][
        'generation'] += 1


def live_migration_spec():
    return objects.RequestSpec(instance_uuid=uuidutils.generate_uuid(),
                               flavor=a_flavor(**{'resources:VGPU': '1'}))


def test_a_warm_scheduler_asks_placement_once(monkeypatch, options):
    options(acceptance_cache_seconds=10)
    hosts = [host_state(i, uuid=uuidutils.generate_uuid()) for i in range(3)]
    client = accepted_on(monkeypatch, live_migration_spec(), hosts)
    assert list(FILTER().filter_all(hosts, live_migration_spec())) == hosts
    # The allocations, the source device's traits, the epoch, who accepts
    # its string.
    epoch_url = '/resource_providers/%s' % epoch.EPOCH_UUID
    assert [url.split('?')[0] for url in client.urls][2:] == [
        epoch_url, '/resource_providers']
    assert client.urls[0].startswith('/allocations/')
    assert client.urls[1].endswith('/traits')
    del client.urls[:]
    assert list(FILTER().filter_all(hosts, live_migration_spec())) == hosts
    assert [url.split('/')[1] for url in client.urls] == [
        'allocations', 'resource_providers']
    assert client.urls[1] == epoch_url


def test_no_acceptance_cache(monkeypatch, options):
    # The source traits are still reused while their generation holds
    # (exact); who accepts is asked every time.
    options(acceptance_cache_seconds=0)
    hosts = [host_state(i, uuid=uuidutils.generate_uuid()) for i in range(2)]
    client = accepted_on(monkeypatch, live_migration_spec(), hosts)
    for _request in range(2):
        del client.urls[:]
        assert list(FILTER().filter_all(hosts,
                                        live_migration_spec())) == hosts
    # Not even the epoch.
    assert len(client.urls) == 2 and '?required=' in client.urls[1]


def test_a_source_provider_that_changed_is_read_again(monkeypatch):
    hosts = [host_state(i, uuid=uuidutils.generate_uuid()) for i in range(2)]
    client = accepted_on(monkeypatch, live_migration_spec(), hosts)
    assert list(FILTER().filter_all(hosts, live_migration_spec())) == hosts
    # The source agent moved to another string (generation 1 -> 2): the
    # new one is required, and nobody accepts it.
    [allocations] = [a for url, a in client.answers.items()
                     if url.startswith('/allocations/')]
    [device] = [rp for rp, a in allocations['allocations'].items()
                if 'VGPU' in a['resources']]
    allocations['allocations'][device]['generation'] = 2
    newer = codec.encode(samples.NVIDIA_21 + 'x')
    client.answers['/resource_providers/%s/traits' % device] = {
        'traits': [codec.trait(codec.SRC, newer)],
        'resource_provider_generation': 2}
    client.answers['/resource_providers?required=%s' % codec.trait(
        codec.ACC, newer)] = {'resource_providers': []}
    assert list(FILTER().filter_all(hosts, live_migration_spec())) == []


def test_an_announced_withdrawal_is_seen_by_the_next_request(
        monkeypatch, options):
    options(acceptance_cache_seconds=3600)
    hosts = [host_state(i, uuid=uuidutils.generate_uuid()) for i in range(2)]
    client = accepted_on(monkeypatch, live_migration_spec(), hosts)
    assert list(FILTER().filter_all(hosts, live_migration_spec())) == hosts
    # host1's agent withdrew its acceptance and moved the epoch.
    [listing] = [a['resource_providers'] for url, a in client.answers.items()
                 if '?required=' in url]
    del listing[1]
    move_epoch(client)
    assert list(FILTER().filter_all(hosts, live_migration_spec())) == \
        hosts[:1]


def test_no_list_is_kept_without_an_epoch(monkeypatch, options):
    options(acceptance_cache_seconds=3600)
    hosts = [host_state(i, uuid=uuidutils.generate_uuid()) for i in range(2)]
    client = accepted_on(monkeypatch, live_migration_spec(), hosts)
    # The epoch provider was deleted (a purge): nothing proves a list.
    client.missing.add('/resource_providers/%s' % epoch.EPOCH_UUID)
    for _request in range(2):
        del client.urls[:]
        assert list(FILTER().filter_all(hosts,
                                        live_migration_spec())) == hosts
        assert '?required=' in client.urls[-1]


def test_a_new_acceptance_is_seen_after_the_cache_window(monkeypatch,
                                                         options):
    options(acceptance_cache_seconds=10)
    now = [1000.0]
    monkeypatch.setattr(cache.ACCEPTING, 'clock', lambda: now[0])
    hosts = [host_state(i, uuid=uuidutils.generate_uuid()) for i in range(2)]
    client = accepted_on(monkeypatch, live_migration_spec(), hosts)
    [listing] = [a['resource_providers'] for url, a in client.answers.items()
                 if '?required=' in url]
    newcomer = listing.pop()
    assert list(FILTER().filter_all(hosts, live_migration_spec())) == \
        hosts[:1]
    # host1 accepts now (additions move no epoch): seen once the list is
    # older than the window (fail closed meanwhile).
    listing.append(newcomer)
    now[0] += 9.9
    assert list(FILTER().filter_all(hosts, live_migration_spec())) == \
        hosts[:1]
    now[0] += 0.2
    assert list(FILTER().filter_all(hosts, live_migration_spec())) == hosts


def test_too_many_accepting_providers_names_the_option(
        monkeypatch, options, on_error, caplog):
    on_error('reject')
    options(max_accepting_providers=2)
    hosts = [host_state(i, uuid=uuidutils.generate_uuid()) for i in range(3)]
    accepted_on(monkeypatch, live_migration_spec(), hosts)
    spec = live_migration_spec()
    with caplog.at_level(logging.ERROR):
        assert list(FILTER().filter_all(hosts, spec)) == []
    [error] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.exc_info is None
    message = error.getMessage()
    assert spec.instance_uuid in message
    assert 'raise [migcompat]max_accepting_providers' in message
    assert 'more than 2' in message
    assert 'on_error=reject: rejecting all hosts' in message
    options(max_accepting_providers=3)
    assert list(FILTER().filter_all(hosts, live_migration_spec())) == hosts
