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

"""The ``[migcompat]`` group of tempest.conf."""

from oslo_config import cfg

migcompat_group = cfg.OptGroup(
    name='migcompat',
    title='nova-migcompat options',
    help='Options of the nova-migcompat tempest plugin: device '
         'live-migration compatibility (MigrationCompatibilityFilter and '
         'nova-migcompat-agent).')

MigcompatGroup = [
    cfg.BoolOpt('available',
                default=True,
                help='Whether nova-migcompat is deployed in the cloud under '
                     'test: nova-migcompat-agent on the compute hosts '
                     'publishing CUSTOM_MIGCOMPAT_* traits in placement. '
                     'When False, every test of this plugin is skipped '
                     '(as a [service_available] option).'),
    cfg.BoolOpt('filter_enabled',
                default=True,
                help='Whether MigrationCompatibilityFilter is in '
                     'nova-scheduler\'s [filter_scheduler]enabled_filters. '
                     'When False, the live migrations of servers with '
                     'devices, which rely on the filter\'s decisions, are '
                     'skipped.  Keep it True to show that they fail when '
                     'the filter is removed from the scheduler.'),
    cfg.StrOpt('device_flavor_ref',
               help='The ID of a flavor whose servers get a migratable '
                    'device (e.g. extra spec resources:VGPU=1, or a '
                    'pci_passthrough:alias).  If unset, the tests create '
                    'one, as admin, from [compute]flavor_ref with the extra '
                    'spec resources:<device_resource_class>='
                    '<device_resource_amount>.'),
    cfg.StrOpt('device_resource_class',
               default='VGPU',
               help='The placement resource class of the devices: the '
                    'device providers are the compute nodes\' child '
                    'providers with inventory of it (for vGPUs, the '
                    'physical GPUs <node>_pci_<address>), and the flavor '
                    'the tests create asks for it.'),
    cfg.IntOpt('device_resource_amount',
               default=1,
               min=1,
               help='How many units of device_resource_class the flavor the '
                    'tests create asks for (when device_flavor_ref is '
                    'unset).'),
    cfg.StrOpt('image_ref',
               help='The image of the servers with devices.  Defaults to '
                    '[compute]image_ref.'),
    cfg.IntOpt('migration_timeout',
               default=300,
               min=1,
               help='Seconds to wait for a live migration to end (its '
                    'migration record to reach completed, error, failed '
                    'or cancelled).'),
]


def list_opts():
    """The options for tempest's sample configuration."""
    return [(migcompat_group.name, MigcompatGroup)]
