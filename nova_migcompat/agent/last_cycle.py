"""When the agent last completed a reporting cycle, and how it went.

Placement keeps no time: an agent that stopped leaves its last traits
behind, and nothing in placement shows it.  After every cycle the agent
writes one small file, ``last-cycle.json`` under ``[migcompat]state_path``;
``nova-migcompat status`` on the host reads it and says when the agent
last finished a cycle, whether it published, and whether that is longer
ago than its interval allows.
"""

import json
import os
import time

from oslo_log import log as logging

from nova_migcompat.agent import state_file

LOG = logging.getLogger(__name__)

FILE_NAME = 'last-cycle.json'
FORMAT_VERSION = 1
MAX_FILE_BYTES = 64 * 1024


def path(conf):
    return os.path.join(conf.migcompat.state_path, FILE_NAME)


def write(conf, ok, summary, failure=None, clock=time.time):
    """Record a finished cycle; never raises (logs why not)."""
    doc = {'version': FORMAT_VERSION, 'node': conf.migcompat.nodename,
           'finished_at': clock(), 'ok': bool(ok), 'failure': failure,
           'summary': summary, 'interval': conf.migcompat.interval}
    try:
        state_file.write(path(conf), json.dumps(doc, sort_keys=True))
    except OSError as e:
        LOG.error('Cannot write %s (%s): nova-migcompat status cannot '
                  'tell when this agent last reported', path(conf), e)


def read(conf):
    """The last cycle's record, or None when there is none.

    :raises state_file.Unusable: it exists but cannot be used.
    """
    data = state_file.read(path(conf), MAX_FILE_BYTES)
    if data is None:
        return None
    try:
        doc = json.loads(data.decode('utf-8'))
        if doc.get('version') != FORMAT_VERSION:
            raise ValueError('format version %r' % doc.get('version'))
        float(doc['finished_at'])
        float(doc['interval'])
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise state_file.Unusable('malformed (%s)' % e)
    return doc
