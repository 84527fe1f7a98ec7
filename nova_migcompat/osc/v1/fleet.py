"""``matrix`` and ``explain``: the fleet as placement sees it.

Thin renderers over :mod:`nova_migcompat.fleet`, which judges hosts with
the scheduler filter's own rule.
"""

from nova_migcompat import fleet
from nova_migcompat.osc.v1 import base


class ShowMatrix(base.Lister):
    """Show the fleet's device compatibility strings against its hosts.

    One row per string some device produces (a CUSTOM_MIGCOMPAT_SRC_* trait
    in placement), one column per host: "accepts", or "-" (refuses, or
    could not tell: placement keeps no difference), with "(source)" where
    the host produces the string.
    """

    examples = (
        ('', 'the table'),
        ('--long -f json', 'with each full string and its token, as JSON'),
    )

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--long', action='store_true',
                            help='Also show each full string and its token')
        return parser

    def take_action(self, parsed_args):
        hosts, rows = fleet.matrix(self.placement())
        columns, cells = fleet.matrix_rows(hosts, rows)
        if parsed_args.long:
            columns += ('String', 'Token')
            cells = [cell + (row['string'], row['token'])
                     for cell, row in zip(cells, rows)]
        return columns, cells


class ExplainBase(base.Lister):
    """Rows of :func:`fleet.explain` for the server :meth:`source` names."""

    def source(self, parsed_args):
        """``(server uuid, its compute node or None, has PCI devices)``."""
        raise NotImplementedError()

    def take_action(self, parsed_args):
        server, node, has_pci = self.source(parsed_args)
        # The operator tool reads nova.conf: the scheduler's option.
        unmanaged = getattr(getattr(getattr(self.app, 'conf', None),
                                    'migcompat', None),
                            'unmanaged_sources', None)
        result = fleet.explain(self.placement(), server, source_node=node,
                               host_level=has_pci, unmanaged=unmanaged)
        columns, rows = fleet.explain_rows(result)
        return columns, [(host, verdict, base.ListColumn(devices), detail)
                         for host, verdict, devices, detail in rows]


class ExplainFromPlacement(ExplainBase):
    """Show which hosts accept a live migration of a server, and why.

    From placement alone: the server's allocations say its devices, their
    traits the strings to accept.  One row per host: the source (its
    devices and the strings they produce), then every other host, accepted
    (with its devices that accept the strings) or refused (with the
    strings it does not accept, decoded).  Hosts are judged by the
    scheduler filter's own rule; other filters are not applied.
    ``openstack migcompat explain`` finds the server by name and its node
    through the Nova API.
    """

    examples = (
        ('8f1f0e16-5c41-4b4c-9a4e-0d6e5b3b2f11 --node compute1',
         'a server on compute1 with an mdev (vGPU)'),
        ('8f1f0e16-5c41-4b4c-9a4e-0d6e5b3b2f11 --node compute1 --pci',
         'a server with flavor PCI devices (SR-IOV VFs)'),
    )

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('server', metavar='SERVER_UUID',
                            help='The server (instance) UUID')
        parser.add_argument(
            '--node', help="The server's compute node (hypervisor "
            'hostname, the name of its root provider); default: the tree '
            'of its first allocation')
        parser.add_argument('--pci', action='store_true',
                            help='The server has flavor PCI devices')
        return parser

    def source(self, parsed_args):
        return parsed_args.server, parsed_args.node, parsed_args.pci
