"""``openstack migcompat explain``: a server found through the Nova API.

Only in the OpenStackClient plugin (it needs the compute API);
``nova-migcompat explain`` takes the server's UUID and node instead.
"""

from openstack import exceptions as sdk_exc

from nova_migcompat.osc.v1 import base
from nova_migcompat.osc.v1 import fleet as fleet_cmd

#: The embedded flavor (with its extra specs) of a server.
FLAVOR_MICROVERSION = '2.47'
PCI_ALIAS_SPEC = 'pci_passthrough:alias'


def find_server(compute, name_or_id, all_projects=False):
    """The server named or identified so, from the Nova API.

    :raises CommandError: no such server, or several with that name.
    """
    try:
        find = compute.find_server
    except AttributeError:
        find = None
    except sdk_exc.SDKException as e:
        raise base.CommandError('the compute service (Nova) cannot be '
                                'used: %s' % ' '.join(str(e).split()))
    if find is None:
        # openstacksdk's proxy of a service the catalog does not have.
        raise base.CommandError(
            "the cloud's service catalog has no compute service (Nova): "
            "'openstack migcompat explain' finds the server through it; "
            "'nova-migcompat explain SERVER_UUID --node NODE' works from "
            'placement alone')
    try:
        return find(name_or_id, ignore_missing=False, details=True,
                    all_projects=all_projects)
    except sdk_exc.DuplicateResource:
        raise base.CommandError(
            'more than one server is named %r: give its ID' % name_or_id)
    except sdk_exc.NotFoundException:
        raise base.CommandError(
            'no server with name or ID %r' % name_or_id)


def _version(text):
    return tuple(int(part) for part in text.split('.'))


def source_of(server):
    """``(node, has_pci)`` of a server as the Nova API shows it.

    :raises CommandError: the API shows no compute node (the server is not
        on one, or the caller may not see it: admin only by default).
    """
    used = server.microversion
    if used and _version(used) < _version(FLAVOR_MICROVERSION):
        raise base.CommandError(
            'the Nova API answered with microversion %s: telling whether '
            'the flavor of server %s has PCI devices needs %s'
            % (used, server.id, FLAVOR_MICROVERSION))
    node = server.hypervisor_hostname
    if not node:
        raise base.CommandError(
            'the Nova API shows no compute node for server %s (status %s; '
            'OS-EXT-SRV-ATTR:hypervisor_hostname is admin-only by default)'
            % (server.id, server.status))
    flavor = server.flavor
    specs = (flavor.extra_specs if flavor is not None else None) or {}
    return node, bool(specs.get(PCI_ALIAS_SPEC))


class ExplainMigration(fleet_cmd.ExplainBase):
    """Show which hosts accept a live migration of a server, and why.

    The Nova API says where the server runs and whether its flavor has PCI
    devices, placement the rest.  One row per host: the source (its devices
    and the strings they produce), then every other host, accepted (with
    its devices that accept the strings) or refused (with the strings it
    does not accept, decoded).  Hosts are judged by the scheduler filter's
    own rule; other filters are not applied.
    """

    examples = (
        ('my-vgpu-server', 'a server by name'),
        ('--all-projects -f json my-vgpu-server',
         "another project's server, as JSON"),
    )

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('server', metavar='<server>',
                            help='Server to explain (name or ID)')
        parser.add_argument('--all-projects', action='store_true',
                            help='Find the server by name in all projects '
                                 '(admin only)')
        return parser

    def source(self, parsed_args):
        server = find_server(self.app.client_manager.compute,
                             parsed_args.server, parsed_args.all_projects)
        node, has_pci = source_of(server)
        return server.id, node, has_pci
