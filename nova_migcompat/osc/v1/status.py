"""``status``: is nova-migcompat deployed and working?"""

from nova_migcompat.osc.v1 import base
from nova_migcompat import status


class CheckStatus(base.Lister):
    """Check the deployment, as nova-status upgrade check does for Nova.

    Checks: the scheduler filter in the nova.conf given (nova-migcompat
    only: give the nova-scheduler host's nova.conf); that every compute
    node with device providers carries nova-migcompat traits; the codec
    versions of the traits in placement; the catalog of strings; hosts
    whose devices produce strings no other host accepts; and, run on a
    compute host, when its agent last completed a cycle.  Placement is
    only read.

    Exit status: 0 every check succeeded, 1 a warning, 2 a failure.
    """

    examples = (
        ('--config-file /etc/nova/nova.conf',
         "every check, with this host's nova.conf"),
        ('-f json', 'the results as JSON'),
    )

    def take_action(self, parsed_args):
        conf = getattr(self.app, 'conf', None)
        results = status.run(
            self.placement, conf=conf,
            files=getattr(self.app, 'config_files', None),
            local=conf is not None)
        self.status = max(r.code for r in results)
        return (('Check', 'Result', 'Details'),
                [(r.check, status.RESULTS[r.code], r.details)
                 for r in results])
