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

"""Every compute node with device providers publishes well-formed traits.
"""

from tempest import config
from tempest.lib import decorators

from nova_migcompat_tempest_plugin.common import traits as migtraits
from nova_migcompat_tempest_plugin.tests import base

CONF = config.CONF


class DeviceTraitsTest(base.MigcompatBaseTest):
    """The agents' publication, read from placement alone."""

    @decorators.idempotent_id('09a0e053-00f9-4e3b-9313-2057ff074c88')
    def test_device_providers_publish_decodable_src_traits(self):
        """Each device provider has SRC traits, and all its traits decode.

        The device providers of each compute node: its children
        ``<node>_pci_*`` with inventory of [migcompat]device_resource_class
        (physical GPUs), and every provider of its tree carrying
        ``CUSTOM_MIGCOMPAT_*`` traits about devices (a root provider, for
        PCI functions).  Each must carry at least one
        ``CUSTOM_MIGCOMPAT_SRC_*`` trait and no
        ``CUSTOM_MIGCOMPAT_NOSRC_*`` trait (a device its agent cannot
        judge), and each of its ``CUSTOM_MIGCOMPAT_*`` traits must be one
        of the product's, its strings decoding with the product's codec.
        """
        if not migtraits.can_decode():
            raise self.skipException(
                'nova_migcompat is not importable here: install the plugin '
                'with its dependencies (pip install without --no-deps) to '
                'decode the traits')
        nodes = self.compute_nodes()
        fleet = self.fleet(set(nodes), usages=False)
        rc = CONF.migcompat.device_resource_class
        problems = []
        checked = []
        for root, node in sorted(nodes.items(),
                                 key=lambda i: i[1]['hypervisor_hostname']):
            for provider in fleet.tracked_providers(root, rc):
                checked.append(provider.name)
                where = ('provider %s (%s) of compute node %s'
                         % (provider.name, provider.uuid,
                            node['hypervisor_hostname']))
                reasons = migtraits.nosrc_reasons(provider.traits)
                if reasons:
                    problems.append(
                        '%s has a device its agent manages without a '
                        'string (CUSTOM_MIGCOMPAT_NOSRC_%s): the live '
                        'migrations of its servers are refused'
                        % (where, ', _'.join(reasons)))
                elif not migtraits.src_tokens(provider.traits):
                    problems.append(
                        '%s publishes no CUSTOM_MIGCOMPAT_SRC_* trait '
                        '(its nova-migcompat traits: %s)'
                        % (where, migtraits.ours(provider.traits) or 'none'))
                for name, why in sorted(
                        migtraits.malformed(provider.traits).items()):
                    problems.append('%s has %s, which does not decode: %s'
                                    % (where, name, why))
        if not checked:
            raise self.skipException(
                'No compute node has device providers: none of the %d '
                'compute nodes has a child provider <node>_pci_* with %s '
                'inventory or a provider with CUSTOM_MIGCOMPAT_* traits'
                % (len(nodes), rc))
        if problems:
            self.fail(
                'Device providers whose nova-migcompat traits are missing or '
                'malformed (is nova-migcompat-agent running on every compute '
                'node, with the same or an older codec than this one?):\n'
                '%s\n(checked: %s)'
                % ('\n'.join(problems), ', '.join(checked)))
