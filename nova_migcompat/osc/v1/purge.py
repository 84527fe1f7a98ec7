"""``purge``: remove nova-migcompat's traits from placement."""

import sys

from nova_migcompat.osc.v1 import base
from nova_migcompat import purge


class PurgeTraits(base.Lister):
    """Remove every CUSTOM_MIGCOMPAT_* trait from placement.

    For uninstalling or rolling back: first remove the filter from
    [filter_scheduler]enabled_filters and stop every nova-migcompat-agent
    (a running agent publishes its traits again).  Only nova-migcompat's
    own traits are touched, by exact name; each provider keeps every
    other trait; a provider that changes meanwhile is read again, never
    overwritten.  Then the trait definitions are deleted, and the
    withdrawal epoch's provider.  With --host, only those compute nodes'
    providers are cleaned (e.g. a host whose agent is gone for good) and
    the definitions stay.  With --undecodable, only the strings and
    acceptances this release cannot decode (corrupt or planted traits,
    or a newer release's) are removed, from every provider.

    Exit status 1 when a trait could not be removed or deleted (it is
    named on stderr).
    """

    examples = (
        ('--dry-run', 'what would be removed'),
        ('', 'remove every nova-migcompat trait'),
        ('--host compute7', "withdraw one compute node's traits"),
        ('--undecodable', 'remove corrupt or planted traits'),
    )

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--dry-run', action='store_true',
                            help='Show what would be removed; change '
                                 'nothing')
        parser.add_argument('--host', action='append', metavar='NODE',
                            help='Only the providers of this compute node '
                                 '(its root provider name); repeatable')
        parser.add_argument('--undecodable', action='store_true',
                            help='Only the SRC and ACC traits this release '
                                 'cannot decode (corrupt, planted, or of a '
                                 'newer release)')
        return parser

    def take_action(self, parsed_args):
        outcomes = purge.purge(self.placement(), hosts=parsed_args.host,
                               dry_run=parsed_args.dry_run,
                               undecodable=parsed_args.undecodable)
        left = purge.incomplete(outcomes)
        for outcome in left:
            print('%s: error: %s %s: %s' % (self.app.NAME, outcome.kind,
                                            outcome.name, outcome.result),
                  file=sys.stderr)
        self.status = 1 if left else 0
        return (('Kind', 'Name', 'Traits', 'Result'),
                [(o.kind, o.name, base.ListColumn(o.traits), o.result)
                 for o in outcomes])
