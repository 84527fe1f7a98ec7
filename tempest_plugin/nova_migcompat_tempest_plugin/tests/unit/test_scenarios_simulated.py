#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""The scenario tests, run against a simulated cloud (no real one).

A small fake of the Nova and placement APIs the tests use (tempest's
service clients' methods, answering from memory), with a scheduler that
either applies the acceptance rule (as MigrationCompatibilityFilter does),
or not (stock Nova: the most preferred host with room), or refuses every
live migration (a filter gone wrong).  It shows what each test does on a
cloud with the filter, and that each test fails without it.
"""

import itertools
import unittest

import pytest

from nova_migcompat import codec

from nova_migcompat_tempest_plugin.common import traits as migtraits
from nova_migcompat_tempest_plugin.tests import base
from nova_migcompat_tempest_plugin.tests.scenario import test_device_traits
from nova_migcompat_tempest_plugin.tests.scenario import test_live_migration

T20, T21, T23, T31 = (codec.encode('nvidia %s 10de:0ffe nvidia-11' % v)
                      for v in ('2.0', '2.1', '2.3', '3.1'))
SRC, ACC = migtraits.SRC_PREFIX, migtraits.ACC_PREFIX
PRECHECK = base.PRECHECK_EVENT


def gpu(produces, *accepts):
    return [SRC + produces] + [ACC + t for t in accepts]


#: The demo's fleet (the product's README): src, and three destinations
#: the weigher prefers in this order: old and major refuse, newer accepts.
DEMO = {'src': gpu(T21, T21), 'old': gpu(T20, T20),
        'major': gpu(T31, T31), 'newer': gpu(T23, T21, T23)}
DEMO_WEIGHTS = {'old': 100, 'major': 90, 'newer': 10}


class FakeCloud(object):
    """Nova and placement, as far as the tests read them."""

    def __init__(self, pgpus, scheduler='filter', weights=None,
                 boot_on='src'):
        self.scheduler = scheduler
        self.weights = weights or {}
        self.boot_on = boot_on
        self.ids = itertools.count(1)
        self.providers = {}
        for name in sorted(pgpus):
            self.providers[name] = dict(
                name=name, root=name, parent=None,
                traits={'COMPUTE_NODE'},
                inventories={'VCPU': {'total': 64}, 'MEMORY_MB': {
                    'total': 65536}, 'DISK_GB': {'total': 1000}},
                usages={})
            if pgpus[name] is not None:
                self.providers[name + '-81'] = dict(
                    name=name + '_pci_0000_81_00_0', root=name,
                    parent=name, traits=set(pgpus[name]),
                    inventories={'VGPU': {'total': 1, 'max_unit': 1}},
                    usages={'VGPU': 0})
        self.allocations = {}
        self.servers = {}
        self.migrations = []
        self.actions = {}
        self.flavors = {'1': {'id': '1', 'ram': 512, 'vcpus': 1,
                              'disk': 1}}
        self.extra_specs = {'1': {}}

    # -- placement (resource_providers_client, placement_client) -------

    def list_resource_providers(self, **params):
        return {'resource_providers': [
            {'uuid': uuid, 'name': p['name'],
             'root_provider_uuid': p['root'],
             'parent_provider_uuid': p['parent']}
            for uuid, p in sorted(self.providers.items())]}

    def list_resource_provider_traits(self, uuid):
        return {'traits': sorted(self.providers[uuid]['traits'])}

    def list_resource_provider_inventories(self, uuid):
        return {'inventories': {
            rc: dict({'reserved': 0, 'allocation_ratio': 1.0,
                      'min_unit': 1, 'max_unit': inv['total'],
                      'step_size': 1}, **inv)
            for rc, inv in self.providers[uuid]['inventories'].items()}}

    def list_resource_provider_usages(self, uuid):
        return {'usages': dict(self.providers[uuid]['usages'])}

    def list_allocations(self, consumer):
        return {'allocations': {
            rp: {'resources': dict(res), 'generation': 1}
            for rp, res in self.allocations.get(consumer, {}).items()}}

    # -- nova (hypervisor, servers, migrations, flavors clients) -------

    def list_hypervisors(self, detail=False):
        return {'hypervisors': [
            {'id': uuid, 'hypervisor_hostname': p['name'], 'state': 'up',
             'status': 'enabled', 'service': {'host': p['name']}}
            for uuid, p in sorted(self.providers.items())
            if p['root'] == uuid]}

    def show_flavor(self, flavor_id):
        return {'flavor': self.flavors[flavor_id]}

    def create_flavor(self, **kwargs):
        self.flavors[kwargs['id']] = kwargs
        self.extra_specs[kwargs['id']] = {}
        return {'flavor': kwargs}

    def delete_flavor(self, flavor_id):
        self.flavors.pop(flavor_id)

    def set_flavor_extra_spec(self, flavor_id, **specs):
        self.extra_specs[flavor_id].update(specs)

    def list_flavor_extra_specs(self, flavor_id):
        return {'extra_specs': dict(self.extra_specs[flavor_id])}

    def _free_gpu(self, host):
        gpu = self.providers.get(host + '-81')
        if gpu and gpu['usages']['VGPU'] < gpu['inventories']['VGPU'][
                'total']:
            return host + '-81'
        return None

    def _place(self, server_id, host):
        server = self.servers[server_id]
        for rp, res in self.allocations.get(server_id, {}).items():
            for rc, n in res.items():
                self.providers[rp]['usages'][rc] -= n
        alloc = {host: {'VCPU': 1, 'MEMORY_MB': 512}}
        if server['vgpu']:
            alloc[self._free_gpu(host)] = {'VGPU': 1}
        for rp, res in alloc.items():
            for rc, n in res.items():
                usages = self.providers[rp]['usages']
                usages[rc] = usages.get(rc, 0) + n
        self.allocations[server_id] = alloc
        server['host'] = host

    def boot(self, flavor=None, image_id=None, wait_until=None):
        server_id = 'server-%d' % next(self.ids)
        specs = self.extra_specs[flavor]
        self.servers[server_id] = {'host': None,
                                   'vgpu': 'resources:VGPU' in specs}
        self._place(server_id, self.boot_on)
        return {'id': server_id}

    def show_server(self, server_id):
        host = self.servers[server_id]['host']
        return {'server': {'id': server_id, 'status': 'ACTIVE',
                           'OS-EXT-SRV-ATTR:host': host,
                           'OS-EXT-SRV-ATTR:hypervisor_hostname': host}}

    def _accepts(self, source, dest):
        tokens = migtraits.source_ids(
            self.providers[source + '-81']['traits'])
        return tokens <= migtraits.acc_tokens(
            self.providers[dest + '-81']['traits'])

    def live_migrate_server(self, server_id, host=None,
                            block_migration=None):
        assert block_migration == 'auto'
        server = self.servers[server_id]
        source = server['host']
        hosts = [h for h, p in self.providers.items()
                 if p['root'] == h and h != source and
                 (host is None or h == host)]
        if server['vgpu']:
            hosts = [h for h in hosts if self._free_gpu(h)]
            if self.scheduler == 'filter':
                hosts = [h for h in hosts if self._accepts(source, h)]
        if self.scheduler == 'broken':
            hosts = []
        hosts.sort(key=lambda h: -self.weights.get(h, 0))
        record = {'id': next(self.ids), 'instance_uuid': server_id,
                  'migration_type': 'live-migration',
                  'source_compute': source, 'dest_compute': None}
        events = ['conductor_live_migrate_instance']
        if hosts:
            events += [PRECHECK, 'compute_live_migration']
            self._place(server_id, hosts[0])
            record.update(status='completed', dest_compute=hosts[0])
        else:
            record['status'] = 'error'
        self.migrations.append(record)
        self.actions.setdefault(server_id, []).append(
            {'action': 'live-migration', 'request_id': 'req-%d' % record[
                'id'], 'start_time': '%05d' % record['id'],
             'events': [{'event': e} for e in events]})

    def list_migrations(self, **params):
        return {'migrations': [dict(m) for m in self.migrations]}

    def list_instance_actions(self, server_id):
        return {'instanceActions': self.actions.get(server_id, [])}

    def show_instance_action(self, server_id, request_id):
        return {'instanceAction': [
            a for a in self.actions[server_id]
            if a['request_id'] == request_id][0]}


def run(class_name, name, cloud):
    """Run one test method on ``cloud``: ('pass'|'fail'|'skip', text)."""
    test_class = getattr(test_live_migration, class_name, None) or getattr(
        test_device_traits, class_name)
    attrs = dict(
        rp_client=cloud, placement=cloud, admin_migrations_client=cloud,
        admin_hypervisor_client=cloud, admin_servers_client=cloud,
        admin_flavors_client=cloud, _device_flavor=None,
        _class_cleanups=[],
        create_test_server=classmethod(
            lambda cls, **kwargs: cloud.boot(**kwargs)))
    sim = type('Sim' + test_class.__name__, (test_class,), attrs)
    test = sim(name)
    try:
        getattr(test, name)()
    except unittest.SkipTest as exc:
        return 'skip', str(exc)
    except AssertionError as exc:
        return 'fail', str(exc)
    return 'pass', ''


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(base.waiters, 'wait_for_server_status',
                        lambda *args, **kwargs: None)
    monkeypatch.setattr(base.time, 'sleep', lambda seconds: None)


# The test classes by name: bound here, pytest would collect them.
DEVICE = 'DeviceLiveMigrationTest'
PLAIN = 'LiveMigrationWithoutDevicesTest'
TRAITS = 'DeviceTraitsTest'
TO_ACCEPTING = 'test_live_migrate_device_server_to_accepting_host'
TO_REFUSING = 'test_live_migrate_device_server_to_refusing_host'
WITHOUT_DEVICES = 'test_live_migrate_server_without_devices'
PUBLISHED = 'test_device_providers_publish_decodable_src_traits'


def test_with_the_filter_the_server_lands_on_the_accepting_host():
    cloud = FakeCloud(DEMO, 'filter', DEMO_WEIGHTS)
    assert run(DEVICE, TO_ACCEPTING, cloud) == ('pass', '')
    assert cloud.servers['server-1']['host'] == 'newer'


def test_without_the_filter_the_preferred_refusing_host_fails_the_test():
    cloud = FakeCloud(DEMO, 'stock', DEMO_WEIGHTS)
    outcome, text = run(DEVICE, TO_ACCEPTING, cloud)
    assert outcome == 'fail'
    assert cloud.servers['server-1']['host'] == 'old'
    assert 'to old, which does not accept' in text
    assert 'provider old_pci_0000_81_00_0 (old-81) lacks the acceptance' \
        in text
    assert 'nvidia 2.1 10de:0ffe nvidia-11' in text
    assert "the nodes that do: ['newer']" in text


def test_where_no_host_accepts_the_migration_must_fail_cleanly():
    fleet = {'src': DEMO['src'], 'old': DEMO['old'], 'major': DEMO['major']}
    cloud = FakeCloud(fleet, 'filter', DEMO_WEIGHTS)
    assert run(DEVICE, TO_ACCEPTING, cloud) == ('pass', '')
    assert cloud.servers['server-1']['host'] == 'src'
    assert cloud.migrations[-1]['status'] == 'error'
    outcome, text = run(DEVICE, TO_ACCEPTING,
                        FakeCloud(fleet, 'stock', DEMO_WEIGHTS))
    assert outcome == 'fail'
    assert 'should have failed in scheduling' in text


def test_naming_a_refusing_host_fails_cleanly_with_the_filter_only():
    cloud = FakeCloud(DEMO, 'filter', DEMO_WEIGHTS)
    assert run(DEVICE, TO_REFUSING, cloud) == ('pass', '')
    assert cloud.servers['server-1']['host'] == 'src'
    outcome, text = run(DEVICE, TO_REFUSING,
                        FakeCloud(DEMO, 'stock', DEMO_WEIGHTS))
    assert outcome == 'fail'
    assert 'does not accept its device strings' in text


def test_a_homogeneous_cloud_has_no_refusing_host_to_name():
    fleet = {'src': DEMO['src'], 'twin': gpu(T21, T21)}
    outcome, text = run(DEVICE, TO_REFUSING, FakeCloud(fleet))
    assert outcome == 'skip'
    assert 'homogeneous' in text
    assert run(DEVICE, TO_ACCEPTING, FakeCloud(fleet)) == ('pass', '')


def test_unpublished_source_devices_fail_the_device_tests():
    fleet = dict(DEMO, src=[ACC + T21])
    outcome, text = run(DEVICE, TO_ACCEPTING, FakeCloud(fleet))
    assert outcome == 'fail'
    assert 'publish no CUSTOM_MIGCOMPAT_SRC_* trait' in text


def test_no_device_provider_skips_the_device_tests():
    fleet = {'src': None, 'other': None}
    for name in (TO_ACCEPTING, TO_REFUSING):
        outcome, text = run(DEVICE, name, FakeCloud(fleet))
        assert outcome == 'skip' and 'device providers' in text
    outcome, text = run(TRAITS, PUBLISHED, FakeCloud(fleet))
    assert outcome == 'skip' and 'device providers' in text


@pytest.mark.parametrize('scheduler', ['filter', 'stock'])
def test_a_server_without_devices_migrates_as_before(scheduler):
    cloud = FakeCloud(DEMO, scheduler, DEMO_WEIGHTS)
    assert run(PLAIN, WITHOUT_DEVICES, cloud) == ('pass', '')
    assert cloud.servers['server-1']['host'] == 'old'


def test_a_filter_refusing_plain_servers_fails_that_test():
    outcome, text = run(PLAIN, WITHOUT_DEVICES,
                        FakeCloud(DEMO, 'broken', DEMO_WEIGHTS))
    assert outcome == 'fail'
    assert '(no device) from src ended error' in text


def test_published_traits_pass_when_every_device_publishes():
    assert run(TRAITS, PUBLISHED, FakeCloud(DEMO)) == ('pass', '')


def test_a_device_without_src_traits_or_a_malformed_one_fails():
    fleet = dict(DEMO, old=[], major=gpu(T31, '9P1234'))
    outcome, text = run(TRAITS, PUBLISHED, FakeCloud(fleet))
    assert outcome == 'fail'
    assert ('old_pci_0000_81_00_0 (old-81) of compute node old publishes '
            'no CUSTOM_MIGCOMPAT_SRC_* trait') in text
    assert ('major_pci_0000_81_00_0 (major-81) of compute node major has '
            'CUSTOM_MIGCOMPAT_ACC_9P1234, which does not decode') in text
