"""Is nova-migcompat deployed and working?  Checks for operators.

In the spirit of ``nova-status upgrade check``: each check gives Success,
Warning or Failure (codes 0, 1, 2) and one line of details; the command's
exit status is the worst code.

* **Placement**: it can be read (the checks below need it);
* **Scheduler filter**: the nova.conf given lists the filter in
  ``[filter_scheduler]enabled_filters`` and makes it available in
  ``available_filters``, without losing nova's own filters;
* **Agents**: every compute node with device providers runs an agent
  (its root provider carries the agent's REPORTED trait); the device
  providers of the others are listed;
* **One agent per node**: no node is claimed by a second agent (its
  CLAIM trait: another host with the same ``[migcompat]nodename``);
* **Devices without a string**: device providers whose agent manages a
  device it cannot judge (their servers' live migrations are refused);
* **Codec versions**: the token versions in placement, and the traits
  this release cannot decode, with their providers: corrupt ones
  (Failure) and a newer release's (Warning);
* **Catalog**: the fleet's strings, and leftover trait definitions;
* **Stranded strings**: hosts whose devices produce a string that no other
  host accepts (their servers cannot live-migrate anywhere);
* **Agent on this host**: when the local agent last completed a cycle
  (from its ``last-cycle.json``).

Placement is read, never written.
"""

import collections
import time

from oslo_config import cfg

from nova_migcompat.agent import last_cycle
from nova_migcompat.agent import provider_names
from nova_migcompat.agent import state_file
from nova_migcompat import codec
from nova_migcompat import exception
from nova_migcompat import fleet

SUCCESS, WARNING, FAILURE = 0, 1, 2
RESULTS = {SUCCESS: 'Success', WARNING: 'Warning', FAILURE: 'Failure'}

FILTER = 'MigrationCompatibilityFilter'
#: ``available_filters`` values that make the filter available.
FILTER_PATHS = (
    'nova_migcompat.scheduler.filters.all_filters',
    'nova_migcompat.scheduler.filters.migration_compatibility_filter.'
    + FILTER)
NOVA_FILTERS = 'nova.scheduler.filters.all_filters'
FILTER_GROUP = 'filter_scheduler'
#: A local agent whose last cycle is older than this many intervals (plus
#: a minute) is reported as not running.
STALE_INTERVALS = 3
#: At most this many names in a line of details.
SHOWN = 10

Result = collections.namedtuple('Result', 'check code details')

#: Nova's two options, with Nova's defaults (nova/conf/scheduler.py), for
#: reading a nova.conf without Nova installed.
nova_filter_opts = [
    cfg.MultiStrOpt('available_filters', default=[NOVA_FILTERS],
                    help="Nova's option: the filter classes nova-scheduler "
                         'may use.'),
    cfg.ListOpt('enabled_filters',
                default=['ComputeFilter', 'ComputeCapabilitiesFilter',
                         'ImagePropertiesFilter',
                         'ServerGroupAntiAffinityFilter',
                         'ServerGroupAffinityFilter'],
                help="Nova's option: the filters nova-scheduler applies."),
]


def register_nova_filter_opts(conf):
    """Nova's ``[filter_scheduler]`` filter options, unless registered."""
    for opt in nova_filter_opts:
        try:
            conf.register_opt(opt, group=FILTER_GROUP)
        except cfg.DuplicateOptError:
            pass


def _names(items):
    items = sorted(items)
    shown = ', '.join(items[:SHOWN])
    if len(items) > SHOWN:
        shown += ' and %d more' % (len(items) - SHOWN)
    return shown


def _set_in_files(conf, name):
    location = conf.get_location(name, FILTER_GROUP)
    return location is not None and location.location == cfg.Locations.user


def check_filter(conf, files):
    """The scheduler filter in the nova.conf given."""
    check = 'Scheduler filter'
    if not files:
        return Result(check, WARNING, 'no nova.conf was read: give the '
                      "nova-scheduler host's with --config-file")
    where = ', '.join(files)
    group = conf[FILTER_GROUP]
    enabled = FILTER in group.enabled_filters
    available = any(path in group.available_filters for path in FILTER_PATHS)
    if not enabled and not _set_in_files(conf, 'enabled_filters'):
        return Result(check, WARNING, '%s does not set [%s]enabled_filters '
                      "(nova's default list lacks %s): is it a "
                      "nova-scheduler host's nova.conf?"
                      % (where, FILTER_GROUP, FILTER))
    if not enabled:
        return Result(check, FAILURE, '%s is not in [%s]enabled_filters of '
                      '%s: live migrations are not checked'
                      % (FILTER, FILTER_GROUP, where))
    if not available:
        return Result(check, FAILURE, '[%s]available_filters of %s lists '
                      'neither %s: nova-scheduler cannot load %s'
                      % (FILTER_GROUP, where, ' nor '.join(FILTER_PATHS),
                         FILTER))
    if NOVA_FILTERS not in group.available_filters:
        others = [f for f in group.enabled_filters if f != FILTER]
        return Result(check, FAILURE if others else WARNING,
                      '[%s]available_filters of %s no longer lists %s: '
                      "nova's own filters in enabled_filters (%s) cannot "
                      'be loaded, and nova-scheduler does not start (a '
                      'multi-valued option: list every value)'
                      % (FILTER_GROUP, where, NOVA_FILTERS,
                         ', '.join(others) or 'none'))
    return Result(check, SUCCESS, '%s is enabled and available in %s'
                  % (FILTER, where))


class Snapshot(object):
    """What the placement checks read, once."""

    def __init__(self, client):
        self.names, self.roots = fleet.index(client)
        # Only ours, by exact name: the listing is a LIKE.
        self.traits = sorted(t for t in client.traits(codec.PREFIX)
                             if codec.is_ours(t))
        self.associated = {t for t in client.traits(codec.PREFIX,
                                                    associated=True)
                           if codec.is_ours(t)}
        #: provider uuid -> its nova-migcompat traits
        self.carried = collections.defaultdict(set)
        for name in sorted(self.associated):
            if codec.parse_trait(name)[0] == codec.AGENT:
                # One per node: the nodes an agent reports are found by
                # their REPORTED trait, in one listing.
                continue
            for rp in client.providers_with_trait(name):
                self.carried[rp].add(name)
        #: root uuid -> its traits, for the nodes another agent claims.
        self.claimed = {}
        for rp, traits in self.carried.items():
            if any(codec.parse_trait(t)[0] == codec.CLAIM for t in traits):
                self.claimed[rp] = client.provider_traits(rp)[0]
        self.hosts, self.rows = fleet.matrix(client,
                                             (self.names, self.roots))


def _kinds(traits):
    return {(codec.parse_trait(t) or ('',))[0] for t in traits}


def check_agents(snap):
    """Every compute node with device providers runs an agent.

    A node runs one when its root provider carries the agent's REPORTED
    trait; the device providers of the others are listed: their servers
    are not judged (or are refused, with ``[migcompat]unmanaged_sources =
    refuse``).
    """
    check = 'Agents'
    devices = collections.defaultdict(list)
    for uuid, name in snap.names.items():
        root = snap.roots[uuid]
        if root != uuid and root in snap.names and \
                provider_names.is_pgpu_provider(snap.names[root], name):
            devices[root].append(name)
    with_agent = {root for root in snap.names
                  if codec.REPORTED in _kinds(snap.carried.get(root, ()))}
    silent = sorted(set(devices) - with_agent,
                    key=lambda root: snap.names[root])
    total = len(set(devices) | with_agent)
    if silent:
        return Result(check, WARNING, 'no nova-migcompat agent reports %d of '
                      '%d compute nodes with devices; their device '
                      'providers: %s (their servers are not judged, or are '
                      'refused with [migcompat]unmanaged_sources = refuse; '
                      'is nova-migcompat-agent running there?)'
                      % (len(silent), total,
                         _names('%s (%s)' % (snap.names[root], ', '.join(
                             sorted(devices[root]))) for root in silent)))
    if not total:
        return Result(check, WARNING, 'no compute node has device providers '
                      'or a nova-migcompat agent in placement')
    return Result(check, SUCCESS, 'an agent reports each of the %d compute '
                  'nodes with devices' % total)


def check_one_agent(snap):
    """No node is claimed by a second agent (another host)."""
    check = 'One agent per node'
    conflicts = []
    for root, traits in sorted(snap.claimed.items(),
                               key=lambda item: snap.names.get(item[0], '')):
        reporting, claiming = codec.identities(traits)
        conflicts.append('%s (reported by agent %s; also claimed by %s)' % (
            snap.names.get(root, root), ', '.join(reporting) or 'none',
            ', '.join(claiming)))
    if conflicts:
        return Result(check, FAILURE, 'two agents have the same '
                      '[migcompat]nodename (a configuration copied to '
                      'another host?); only the reporting one publishes: '
                      "%s; stop the wrong one, then run 'nova-migcompat "
                      "purge --host NODE' once" % _names(conflicts))
    return Result(check, SUCCESS, 'no node is claimed by two agents')


def check_unjudged(snap):
    """Device providers whose agent has no string for a device."""
    check = 'Devices without a string'
    found = []
    for rp, traits in snap.carried.items():
        for name in traits:
            parsed = codec.parse_trait(name)
            if parsed and parsed[0] == codec.NOSRC:
                found.append('%s (%s)' % (snap.names.get(rp, rp),
                                          codec.reason_words(parsed[1])))
    if found:
        return Result(check, WARNING, 'the live migrations of the servers '
                      'on these device providers are refused: %s'
                      % _names(found))
    return Result(check, SUCCESS, 'every device an agent manages has a '
                  'compatibility string')


def check_codec(snap):
    """The token versions in use, and whether this release reads them.

    A SRC or ACC trait that does not decode is named with its provider:
    one of a newer release (upgrade the schedulers and the tools before
    the agents) or a corrupt one (damaged or planted: the servers of its
    provider are refused until its agent withdraws it, or ``purge
    --undecodable`` removes it).
    """
    check = 'Codec versions'
    versions = collections.Counter()
    problems = {codec.NEWER: [], codec.CORRUPT: []}
    for rp, traits in sorted(snap.carried.items()):
        where = snap.names.get(rp, rp)
        sources = []
        for name in sorted(traits):
            parsed = codec.parse_trait(name)
            if parsed is None or parsed[0] not in codec.ROLES:
                continue
            versions[parsed[1][:2]] += 1
            if parsed[0] == codec.SRC:
                sources.append(parsed[1])
                continue
            problem = codec.problem(parsed[1])
            if problem is not None:
                problems[problem[0]].append('%s... on %s' % (
                    name[:40], where))
        # A long string is judged by all its parts on the provider: one
        # missing, doubled or not matching the digest is corrupt.
        for key, words in sorted(codec.assemble(sources).problems.items()):
            why = codec.problem(key)
            kind = why[0] if why else codec.CORRUPT
            if codec.is_group(key):
                problems[kind].append('the long string %s on %s (%s)'
                                      % (key, where, words))
            else:
                problems[kind].append('%s... on %s' % (
                    codec.trait(codec.SRC, key)[:40], where))
    if not versions:
        return Result(check, SUCCESS, 'no nova-migcompat trait in placement')
    used = ', '.join('%s (%d traits)' % item
                     for item in sorted(versions.items()))
    details = ['in use: %s' % used]
    if problems[codec.CORRUPT]:
        details.append(
            'corrupt (no release decodes them; the live migrations of '
            'their servers are refused until the source agent withdraws '
            "them, or 'nova-migcompat purge --undecodable' removes "
            'them): %s' % _names(problems[codec.CORRUPT]))
    if problems[codec.NEWER]:
        details.append(
            'of a newer release (this one decodes %s: upgrade the '
            'schedulers and the operator tools before the agents; '
            'meanwhile the live migrations of their servers are '
            'refused): %s' % (', '.join(codec.HEADERS),
                              _names(problems[codec.NEWER])))
    code = (FAILURE if problems[codec.CORRUPT] else
            WARNING if problems[codec.NEWER] else SUCCESS)
    return Result(check, code, '; '.join(details))


def check_catalog(snap):
    check = 'Catalog'
    strings = len(snap.rows)
    unused = len(set(snap.traits) - set(snap.associated))
    details = '%d strings produced in the fleet, %d acceptance traits' % (
        strings, sum(1 for t in snap.associated
                     if t.startswith(codec.ACC_PREFIX)))
    if unused:
        details += ('; %d trait definitions no provider has (the agents '
                    'delete them when [migcompat]delete_unused_traits)'
                    % unused)
    return Result(check, SUCCESS, details)


def check_stranded(snap):
    """Hosts producing a string that no other host accepts."""
    check = 'Stranded strings'
    stranded = []
    for row in snap.rows:
        for host in row['produced_by']:
            if not set(row['accepted_by']) - {host}:
                stranded.append('%s (%s)' % (host, row['summary']))
    if stranded:
        return Result(check, WARNING, 'no other host accepts what these '
                      'hosts produce, so their servers with devices cannot '
                      'live-migrate: %s' % _names(stranded))
    return Result(check, SUCCESS, 'every string produced is accepted by '
                  'another host' if snap.rows else 'no string produced')


def check_local_agent(conf, clock=time.time):
    """When the agent of this host last completed a cycle."""
    check = 'Agent on this host'
    where = last_cycle.path(conf)
    try:
        doc = last_cycle.read(conf)
    except state_file.Unusable as e:
        return Result(check, WARNING, 'cannot read %s: %s' % (where, e))
    if doc is None:
        location = conf.get_location('nodename', 'migcompat')
        if location is not None and location.location == cfg.Locations.user:
            # Configured for an agent ([migcompat]nodename is set).
            return Result(check, WARNING, 'no %s: the agent configured '
                          'here has not completed a cycle (is '
                          'nova-migcompat-agent running? is its '
                          'state_path this one?)' % where)
        return Result(check, SUCCESS, 'no %s: not a compute host (no '
                      '[migcompat]nodename set here)' % where)
    age = clock() - float(doc['finished_at'])
    interval = float(doc['interval'])
    ago = '%d s ago' % age if age < 600 else '%.1f h ago' % (age / 3600.0)
    if age > STALE_INTERVALS * interval + 60:
        return Result(check, WARNING, 'the agent last completed a cycle '
                      '%s (interval %d s): is nova-migcompat-agent running? '
                      'Its traits stay in placement meanwhile'
                      % (ago, interval))
    if not doc.get('ok'):
        return Result(check, WARNING, 'the last cycle (%s) failed: %s'
                      % (ago, doc.get('failure')))
    return Result(check, SUCCESS, 'last cycle %s: %s' % (ago,
                                                         doc.get('summary')))


def run(get_client, conf=None, files=None, local=False):
    """Every check; a list of :class:`Result`.

    :param get_client: returns the placement client (its errors, such as
        an unconfigured placement, fail the placement checks).
    :param conf: the configuration read (the filter check needs it; None
        skips it, as ``openstack migcompat status`` does).
    :param local: also check this host's agent.
    """
    results = []
    if conf is not None:
        results.append(check_filter(conf, files))
    try:
        snap = Snapshot(get_client())
    except exception.MigCompatError as e:
        # The checks of placement's content cannot run.
        results.append(Result('Placement', FAILURE,
                              ' '.join(str(e).split())))
    else:
        results += [Result('Placement', SUCCESS, '%d resource providers '
                           'read' % len(snap.names)),
                    check_agents(snap), check_one_agent(snap),
                    check_unjudged(snap),
                    check_codec(snap), check_catalog(snap),
                    check_stranded(snap)]
    if local:
        results.append(check_local_agent(conf))
    return results
