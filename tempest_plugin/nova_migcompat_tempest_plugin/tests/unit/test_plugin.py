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

"""The plugin as tempest loads it: entry point, options, discovery."""

import importlib.metadata
import os
import unittest

from oslo_config import cfg

from nova_migcompat_tempest_plugin import config as migcompat_config
from nova_migcompat_tempest_plugin import plugin

OPTS = {'available', 'filter_enabled', 'device_flavor_ref',
        'device_resource_class', 'device_resource_amount', 'image_ref',
        'migration_timeout'}


def test_the_entry_point_names_the_plugin_class():
    eps = [ep for ep in importlib.metadata.entry_points(
        group='tempest.test_plugins') if ep.name == 'nova_migcompat']
    assert len(eps) == 1
    assert eps[0].load() is plugin.MigcompatTempestPlugin


def test_tempest_plugin_manager_loads_it():
    from tempest.test_discover import plugins
    manager = plugins.TempestTestPluginManager()
    names = [ext.name for ext in manager.ext_plugins]
    assert 'nova_migcompat' in names
    assert 'nova_migcompat' in manager.get_plugin_load_tests_tuple()


def test_register_opts_registers_the_migcompat_group():
    conf = cfg.ConfigOpts()
    plugin.MigcompatTempestPlugin().register_opts(conf)
    conf([], project='tempest')
    assert set(conf.migcompat) == OPTS
    assert conf.migcompat.available is True
    assert conf.migcompat.filter_enabled is True
    assert conf.migcompat.device_flavor_ref is None
    assert conf.migcompat.device_resource_class == 'VGPU'
    assert conf.migcompat.device_resource_amount == 1
    assert conf.migcompat.image_ref is None
    assert conf.migcompat.migration_timeout == 300


def test_every_option_has_help_and_the_sample_lists_them():
    groups = plugin.MigcompatTempestPlugin().get_opt_lists()
    assert [name for name, _ in groups] == ['migcompat']
    opts = groups[0][1]
    assert {o.name for o in opts} == OPTS
    assert all(o.help and o.help.endswith('.') for o in opts)
    assert migcompat_config.list_opts() == groups


def test_the_amount_is_at_least_one():
    conf = cfg.ConfigOpts()
    plugin.MigcompatTempestPlugin().register_opts(conf)
    conf([], project='tempest')
    try:
        conf.set_override('device_resource_amount', 0, group='migcompat')
    except ValueError:
        return
    raise AssertionError('device_resource_amount = 0 was accepted')


def test_no_service_client_of_its_own():
    assert plugin.MigcompatTempestPlugin().get_service_clients() == []


def _ids(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _ids(item)
        else:
            yield item.id()


def test_tempest_discovers_the_scenario_tests_and_not_the_unit_tests():
    test_dir, top = plugin.MigcompatTempestPlugin().load_tests()
    assert os.path.isdir(test_dir) and test_dir.startswith(top)
    suite = unittest.TestLoader().discover(test_dir, top_level_dir=top)
    ids = sorted(i.split('[')[0] for i in _ids(suite))
    assert not [i for i in ids if 'Failed' in i or 'ModuleImport' in i], ids
    prefix = 'nova_migcompat_tempest_plugin.tests.scenario.'
    assert ids == sorted([
        prefix + 'test_device_traits.DeviceTraitsTest.'
        'test_device_providers_publish_decodable_src_traits',
        prefix + 'test_live_migration.DeviceLiveMigrationTest.'
        'test_live_migrate_device_server_to_accepting_host',
        prefix + 'test_live_migration.DeviceLiveMigrationTest.'
        'test_live_migrate_device_server_to_refusing_host',
        prefix + 'test_live_migration.LiveMigrationWithoutDevicesTest.'
        'test_live_migrate_server_without_devices',
    ])
