"""``openstack migcompat explain`` and ``openstack migcompat matrix``.

Thin renderers over :mod:`nova_migcompat.fleet`: the Nova API says
where a server runs and whether its flavor has PCI devices, placement says
the rest.
"""

from openstack import exceptions as sdk_exc
from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import exceptions

from nova_migcompat import exception
from nova_migcompat import fleet

#: The embedded flavor (with its extra specs) of a server.
FLAVOR_MICROVERSION = '2.47'
PCI_ALIAS_SPEC = 'pci_passthrough:alias'


def find_server(compute, name_or_id, all_projects=False):
    """The server named or identified so, from the Nova API.

    :raises CommandError: no such server, or several with that name.
    """
    try:
        return compute.find_server(name_or_id, ignore_missing=False,
                                   details=True, all_projects=all_projects)
    except sdk_exc.DuplicateResource:
        raise exceptions.CommandError(
            'more than one server is named %r: give its ID' % name_or_id)
    except sdk_exc.NotFoundException:
        raise exceptions.CommandError(
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
        raise exceptions.CommandError(
            'the Nova API answered with microversion %s: telling whether '
            'the flavor of server %s has PCI devices needs %s'
            % (used, server.id, FLAVOR_MICROVERSION))
    node = server.hypervisor_hostname
    if not node:
        raise exceptions.CommandError(
            'the Nova API shows no compute node for server %s (status %s; '
            'OS-EXT-SRV-ATTR:hypervisor_hostname is admin-only by default)'
            % (server.id, server.status))
    flavor = server.flavor
    specs = (flavor.extra_specs if flavor is not None else None) or {}
    return node, bool(specs.get(PCI_ALIAS_SPEC))


def _fleet(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except exception.MigCompatError as e:
        raise exceptions.CommandError(str(e))


class ExplainMigration(command.Lister):
    """Which hosts accept a live migration of a server's devices, and why.

    One row per host: the source (its devices and the strings they
    produce), then every other host, accepted (with its devices that accept
    the strings) or refused (with the strings it does not accept, decoded).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('server', metavar='<server>',
                            help='Server to explain (name or ID)')
        parser.add_argument('--all-projects', action='store_true',
                            help='Find the server by name in all projects '
                                 '(admin only)')
        return parser

    def take_action(self, parsed_args):
        compute = self.app.client_manager.compute
        server = find_server(compute, parsed_args.server,
                             parsed_args.all_projects)
        node, has_pci = source_of(server)
        result = _fleet(fleet.explain,
                        self.app.client_manager.migcompat, server.id,
                        source_node=node, host_level=has_pci)
        columns, rows = fleet.explain_rows(result)
        return columns, [(host, verdict, format_columns.ListColumn(devices),
                          detail)
                         for host, verdict, devices, detail in rows]


class ShowMatrix(command.Lister):
    """The fleet's device compatibility strings against its hosts.

    A cell says ``accepts`` or ``-`` (refuses, or could not tell: placement
    keeps no difference), and ``(source)`` where the host produces it.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--long', action='store_true',
                            help='Also show each full string and its token')
        return parser

    def take_action(self, parsed_args):
        hosts, rows = _fleet(fleet.matrix,
                             self.app.client_manager.migcompat)
        columns, cells = fleet.matrix_rows(hosts, rows)
        if parsed_args.long:
            columns += ('String', 'Token')
            cells = [cell + (row['string'], row['token'])
                     for cell, row in zip(cells, rows)]
        return columns, cells
