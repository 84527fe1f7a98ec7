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

"""The tempest plugin of nova-migcompat (``tempest.test_plugins`` entry
point ``nova_migcompat``)."""

import os

from tempest.test_discover import plugins

from nova_migcompat_tempest_plugin import config as migcompat_config


class MigcompatTempestPlugin(plugins.TempestPlugin):

    def load_tests(self):
        base_path = os.path.split(os.path.dirname(
            os.path.abspath(__file__)))[0]
        test_dir = 'nova_migcompat_tempest_plugin/tests'
        full_test_dir = os.path.join(base_path, test_dir)
        return full_test_dir, base_path

    def register_opts(self, conf):
        conf.register_group(migcompat_config.migcompat_group)
        conf.register_opts(migcompat_config.MigcompatGroup,
                           group=migcompat_config.migcompat_group)

    def get_opt_lists(self):
        return migcompat_config.list_opts()

    def get_service_clients(self):
        # Tempest's own placement clients (placement_client,
        # resource_providers_client) read everything the tests need:
        # providers, their traits, inventories and usages, and a
        # consumer's allocations.
        return []
