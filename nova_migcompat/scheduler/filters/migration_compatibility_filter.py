"""Keep only live-migration destinations whose devices accept the source's.
"""

import time

from nova import conf as nova_conf
from nova.scheduler.client import report
from nova.scheduler import filters
from nova.scheduler import utils as scheduler_utils
from oslo_log import log as logging

from nova_migcompat import codec
from nova_migcompat import conf as migcompat_conf
from nova_migcompat import epoch
from nova_migcompat import exception
from nova_migcompat import placement
from nova_migcompat import requirements
from nova_migcompat.scheduler import cache
from nova_migcompat.scheduler import live_migration

LOG = logging.getLogger(__name__)
CONF = nova_conf.CONF
migcompat_conf.register_opts(CONF)

#: Rejected hosts named in a request's INFO summary; every rejection is
#: logged at DEBUG.
SUMMARY_HOSTS = 20
#: Characters of a compatibility string quoted in a log line.
SHOWN_CHARS = 240
#: Where the filter keeps a request's plan on its RequestSpec (filter
#: objects are shared by concurrent requests; a RequestSpec is not).
_PLAN_ATTR = '_migcompat_plan'
_UNSET = object()
#: The most distinct source strings (one placement request each) the
#: filter checks for one request; beyond, [migcompat]on_error decides.
#: Placement has no query that tells which providers carry each of many
#: traits at once (``in:`` is any-of), so the bound is a count.
MAX_SOURCE_STRINGS = 64


class TooManyStrings(Exception):
    """The source devices publish more strings than the filter checks."""

    def __init__(self, count):
        super().__init__('%d distinct source strings, more than %d'
                         % (count, MAX_SOURCE_STRINGS))


def _on_error_passes():
    return CONF.migcompat.on_error == 'pass'


def _verb():
    return 'keeping all' if _on_error_passes() else 'rejecting all'


def _instance_uuid(spec_obj):
    """The request's instance uuid, or None; never raises."""
    try:
        if spec_obj.obj_attr_is_set('instance_uuid'):
            return spec_obj.instance_uuid
    except Exception:
        pass
    return None


def _shown(text):
    text = text.replace('\n', ' ')
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + '...'


class _Plan(object):
    """What one live migration needs, worked out once per request."""

    def __init__(self, migration):
        self.migration = migration
        self.requirements = []
        self.acceptance = requirements.Acceptance({}, {})
        self.rule = None
        self.error = None
        self.requests = 0
        self.started = time.monotonic()
        #: host name -> (its uuid, its candidates, its Judgement or None
        #: until worded), of the first SUMMARY_HOSTS rejected hosts.
        self.rejected = {}
        #: Hosts rejected on their merits.
        self.rejections = 0
        #: Whether every rejected host is logged (asked once per request).
        self.debug = LOG.isEnabledFor(logging.DEBUG)
        #: Hosts whose judging failed (logged once each).
        self.failed_hosts = set()
        #: Why every host is refused, whatever it accepts (a source device
        #: that cannot be judged), or None.
        self.refusal = None
        #: Whose strings decided, for the summary (VM markers), or ''.
        self.decided = ''

    def _strings(self, tokens):
        return ', '.join(repr(_shown(self.acceptance.strings.get(token) or
                                     codec.describe(token)))
                         for token in sorted(tokens))

    def reason(self, judgement):
        """Why a host was rejected, with the source strings decoded."""
        parts = []
        for shortfall in judgement.shortfalls:
            req = shortfall.requirement
            if req.host_level:
                where = 'the host (PCI functions)'
            elif shortfall.provider:
                where = 'device provider %s' % shortfall.provider
            else:
                where = 'no device provider of %s' % ','.join(
                    sorted(req.resource_classes))
            parts.append('%s does not accept %s'
                         % (where, self._strings(shortfall.tokens)))
        return '; '.join(parts)

    def judgement(self, host):
        """Why one of the first rejected hosts was rejected."""
        uuid, candidates, judgement = self.rejected[host]
        if judgement is None:
            judgement = requirements.judge_host(
                uuid, self.requirements, self.acceptance, candidates)
            self.rejected[host] = (uuid, candidates, judgement)
        return judgement

    def summary(self, judgement):
        """The strings a rejected host does not accept (for the summary)."""
        return 'does not accept %s' % self._strings(
            {token for shortfall in judgement.shortfalls
             for token in shortfall.tokens})


def _source_traits(client, allocations):
    """A provider's traits, from the cache while its generation holds."""
    def traits_of(rp_uuid):
        generation = allocations[rp_uuid].get('generation')
        ours = cache.SOURCE_TRAITS.get(rp_uuid, generation)
        if ours is None:
            traits, generation = client.provider_traits(rp_uuid)
            ours = frozenset(t for t in traits if codec.is_ours(t))
            cache.SOURCE_TRAITS.put(rp_uuid, generation, ours)
        return ours
    return traits_of


def _accepting_under(current_epoch):
    """The providers accepting a token, kept while the epoch holds."""
    def accepting(client, token):
        seconds = CONF.migcompat.acceptance_cache_seconds
        found = cache.ACCEPTING.get(token, seconds, current_epoch)
        if found is not None:
            return found[0]
        most = CONF.migcompat.max_accepting_providers
        listing = client.providers_with_trait(
            codec.trait(codec.ACC, token), most)
        cache.ACCEPTING.put(token, listing, seconds, most, current_epoch)
        return listing
    return accepting


def _provider_name(client, uuid):
    """A provider's name for a log line (its uuid if it cannot be read)."""
    try:
        found = client.provider(uuid)
    except Exception:
        found = None
    return found.get('name', uuid) if found else uuid


def _decided(client, reqs):
    """Whose strings decided, where VM markers say it (for the summary).

    Names the providers that fell back to every string (their names cost
    a request each, in that rare case only).
    """
    own = sum(1 for r in reqs if r.own)
    fallback = sorted({r.sources[0] for r in reqs if r.fallback})
    words = ''
    if own:
        words += ("; the instance's own strings decided on %d source "
                  'device provider%s (VM markers)' % (own, '' if own == 1
                                                      else 's'))
    if fallback:
        words += ('; no VM marker of the instance on source device '
                  'provider %s, which has markers of other instances: '
                  'every string of the provider decided' % ', '.join(
                      _provider_name(client, uuid) for uuid in fallback))
    return words


class MigrationCompatibilityFilter(filters.BaseHostFilter):
    """Keep live-migration destinations whose devices accept the source's.

    For the live migration of an instance whose device resource providers
    carry ``CUSTOM_MIGCOMPAT_SRC_*`` traits, a host passes when its device
    providers carry the ``CUSTOM_MIGCOMPAT_ACC_*`` trait of every source
    string, and of each host only the allocation candidates whose device
    providers accept them are kept (host-level strings, of PCI functions,
    on the root provider).  No host passes when a source device provider
    says that the agent manages a device it cannot judge
    (``CUSTOM_MIGCOMPAT_NOSRC_*``) or carries a SRC trait this release
    cannot decode.  Every other request passes untouched, and so does an
    instance whose source host runs no agent, unless
    ``[migcompat]unmanaged_sources`` is ``refuse``.
    """

    RUN_ON_REBUILD = False

    def filter_all(self, filter_obj_list, spec_obj):
        plan = self._new_plan(spec_obj)
        if plan is None:
            return filter_obj_list
        if plan.refusal is not None:
            return self._refuse_all(filter_obj_list, plan)
        passed, total = self._judge_all(filter_obj_list, plan)
        try:
            self._log_summary(plan, len(passed), total)
        except Exception:
            LOG.exception('Cannot log the summary of the live migration of '
                          'instance %s', plan.migration.instance_uuid)
        return passed

    def _judge_all(self, hosts, plan):
        """``(the hosts that pass, how many were judged)``.

        The hot loop: a host with allocation candidates costs set
        membership only (:class:`~nova_migcompat.requirements.Rule`); the
        rest, and any host whose judging fails, go the long way.
        """
        passed = []
        total = 0
        keep = plan.rule.keep if plan.error is None else None
        for host_state in hosts:
            total += 1
            found = None
            if keep is not None:
                try:
                    candidates = host_state.allocation_candidates
                    if candidates:
                        found = keep(host_state.uuid, candidates)
                except Exception:
                    found = None
            if found:
                host_state.allocation_candidates = found
                passed.append(host_state)
            elif found is not None:
                self._reject(host_state, plan, candidates)
            elif self._passes(host_state, plan):
                passed.append(host_state)
        return passed, total

    @staticmethod
    def _refuse_all(hosts, plan):
        """No host: the source itself cannot be judged (one line)."""
        total = sum(1 for _host in hosts)
        LOG.warning('Live migration of instance %s refused on every host '
                    '(%d; %d placement requests): %s',
                    plan.migration.instance_uuid, total, plan.requests,
                    plan.refusal)
        return []

    def host_passes(self, host_state, spec_obj):
        plan = getattr(spec_obj, _PLAN_ATTR, _UNSET)
        if plan is _UNSET:
            plan = self._new_plan(spec_obj)
        if plan is not None and plan.refusal is not None:
            return False
        return plan is None or self._passes(host_state, plan)

    def _new_plan(self, spec_obj):
        """What the request needs (kept on the RequestSpec), or None.

        Never raises: a request that cannot even be read is not known to
        be a live migration, and every host passes.
        """
        try:
            plan = None
            if not scheduler_utils.request_is_rebuild(spec_obj):
                plan = self._plan(spec_obj)
        except Exception as e:
            plan = self._unknown(spec_obj, e, 'Cannot read the request')
        try:
            setattr(spec_obj, _PLAN_ATTR, plan)
        except Exception:
            pass
        return plan

    def _plan(self, spec_obj):
        """What a live migration needs, or None if nothing; never raises."""
        instance_uuid = _instance_uuid(spec_obj)
        if not live_migration.may_have_devices(spec_obj):
            # No database read, no placement request: a placement fault
            # cannot block the live migration of a server without devices.
            return None
        try:
            migration = live_migration.find(spec_obj)
        except Exception as e:
            # The instance may have devices and this may be a live
            # migration: fail closed, as for any error of a live migration
            # (a cold move of such an instance cannot be told apart then).
            return self._unknown(spec_obj, e, 'Cannot tell whether this is '
                                 'a live migration')
        if migration is None:
            return None
        plan = _Plan(migration)
        client = None
        try:
            client = placement.PlacementClient.from_report_client(
                report.report_client_singleton())
            allocations = client.allocations(migration.migration_uuid)
            source = requirements.read_source(
                allocations, _source_traits(client, allocations),
                live_migration.source_root(migration, allocations),
                migration.has_pci, instance=migration.instance_uuid)
            if source.refusals:
                plan.refusal = '; '.join(
                    'source device provider %s: %s'
                    % (_provider_name(client, r.provider), r.detail)
                    for r in source.refusals)
                plan.requests = client.requests
                return plan
            if source.untracked:
                return self._untracked(plan, source, client)
            plan.requirements = source.requirements
            plan.decided = _decided(client, plan.requirements)
            if plan.debug:
                LOG.debug('Instance %s: %s', instance_uuid, '; '.join(
                    'device provider %s: %s' % (
                        req.sources[0], 'its own strings (markers)'
                        if req.own else 'every string of the provider (no '
                        'marker of the instance)')
                    for req in plan.requirements))
            strings = set()
            for req in plan.requirements:
                strings |= req.tokens
            if len(strings) > MAX_SOURCE_STRINGS:
                plan.error = TooManyStrings(len(strings))
                LOG.error('The source devices of instance %s publish %d '
                          'distinct compatibility strings, more than the '
                          '%d the filter checks in one request; '
                          '[migcompat]on_error=%s: %s hosts', instance_uuid,
                          len(strings), MAX_SOURCE_STRINGS,
                          CONF.migcompat.on_error, _verb())
            else:
                current_epoch = None
                if CONF.migcompat.acceptance_cache_seconds > 0:
                    # Before any list: a list read under this epoch shows
                    # every withdrawal announced before it was read.
                    current_epoch = epoch.read(client)
                plan.acceptance = requirements.find_accepting(
                    client, plan.requirements,
                    _accepting_under(current_epoch), source.strings)
                plan.rule = requirements.Rule(plan.requirements,
                                              plan.acceptance)
        except exception.TooManyProviders as e:
            plan.error = e
            LOG.error('Placement lists more resource providers accepting a '
                      'source string of instance %s than the filter reads '
                      '(%s): raise [migcompat]max_accepting_providers above '
                      'the number of devices that accept it; '
                      '[migcompat]on_error=%s: %s hosts', instance_uuid, e,
                      CONF.migcompat.on_error, _verb())
        except Exception as e:
            plan.error = e
            LOG.error('Cannot work out the device compatibility needs of '
                      'instance %s (%s: %s); [migcompat]on_error=%s: %s '
                      'hosts', instance_uuid, type(e).__name__, e,
                      CONF.migcompat.on_error, _verb())
            LOG.debug('The error above, with its traceback', exc_info=True)
        if client is not None:
            plan.requests = client.requests
        return plan

    @staticmethod
    def _untracked(plan, source, client):
        """A source with no string and no refusal: stock Nova, or not."""
        migration = plan.migration
        if source.managed is not False:
            LOG.debug('Instance %s has no tracked devices: every host '
                      'passes', migration.instance_uuid)
            return None
        if CONF.migcompat.unmanaged_sources == 'refuse':
            plan.refusal = (
                'its source host %s runs no nova-migcompat agent, so its '
                'devices cannot be judged ([migcompat]unmanaged_sources = '
                'refuse)' % migration.source_host)
            plan.requests = client.requests
            return plan
        LOG.info('Instance %s: its source host %s runs no nova-migcompat '
                 'agent: its devices are not judged, and every host passes '
                 'as with stock Nova ([migcompat]unmanaged_sources = pass)',
                 migration.instance_uuid, migration.source_host)
        return None

    @staticmethod
    def _unknown(spec_obj, error, what):
        """A plan that follows on_error for every host, logged once."""
        instance_uuid = _instance_uuid(spec_obj)
        plan = _Plan(live_migration.LiveMigration(instance_uuid, None, None,
                                                  False))
        plan.error = error
        LOG.error('%s for instance %s, which may have devices (%s: %s); '
                  '[migcompat]on_error=%s: %s hosts', what, instance_uuid,
                  type(error).__name__, error, CONF.migcompat.on_error,
                  _verb())
        return plan

    def _passes(self, host_state, plan):
        """Judge one host; an error here decides this host only."""
        if plan.error is None:
            try:
                return self._compatible(host_state, plan)
            except Exception as e:
                host = getattr(host_state, 'host', None)
                if host not in plan.failed_hosts:
                    plan.failed_hosts.add(host)
                    LOG.exception('Cannot judge host %s for the live '
                                  'migration of instance %s (%s: %s); '
                                  '[migcompat]on_error=%s: %s it', host,
                                  plan.migration.instance_uuid,
                                  type(e).__name__, e,
                                  CONF.migcompat.on_error,
                                  'keeping' if _on_error_passes()
                                  else 'rejecting')
        return _on_error_passes()

    def _compatible(self, host_state, plan):
        candidates = getattr(host_state, 'allocation_candidates', None)
        judgement = None
        if candidates:
            kept = plan.rule.keep(host_state.uuid, candidates)
            if kept:
                host_state.allocation_candidates = kept
                return True
        else:
            # No candidates (placement gave none): judged by its providers.
            judgement = requirements.judge_host(
                host_state.uuid, plan.requirements, plan.acceptance)
            if judgement.accepts:
                return True
        self._reject(host_state, plan, candidates, judgement)
        return False

    @staticmethod
    def _reject(host_state, plan, candidates, judgement=None):
        plan.rejections += 1
        if len(plan.rejected) < SUMMARY_HOSTS:
            plan.rejected[host_state.host] = (host_state.uuid, candidates,
                                              judgement)
        if plan.debug:
            # Wording why must never change the verdict.
            try:
                if judgement is None:
                    judgement = requirements.judge_host(
                        host_state.uuid, plan.requirements, plan.acceptance,
                        candidates)
                LOG.debug('Host %s rejected for the live migration of '
                          'instance %s: %s', host_state.host,
                          plan.migration.instance_uuid,
                          plan.reason(judgement))
            except Exception:
                LOG.exception('Cannot word why host %s was rejected',
                              getattr(host_state, 'host', None))

    @staticmethod
    def _log_summary(plan, kept, total):
        if not LOG.isEnabledFor(logging.INFO):
            return
        by_reason = {}
        for host in list(plan.rejected):
            by_reason.setdefault(plan.summary(plan.judgement(host)),
                                 []).append(host)
        rejected = '; '.join('%s: %s' % (', '.join(sorted(hosts)), reason)
                             for reason, hosts in by_reason.items())
        more = plan.rejections - len(plan.rejected)
        LOG.info('Live migration of instance %s: kept %d of %d hosts (%d '
                 'placement requests, %.1f ms)%s%s%s',
                 plan.migration.instance_uuid, kept, total, plan.requests,
                 (time.monotonic() - plan.started) * 1000,
                 '; rejected %s' % rejected if rejected else '',
                 ' and %d more hosts (DEBUG)' % more if more > 0 else '',
                 plan.decided)
