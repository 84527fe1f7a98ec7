"""Keep only live-migration destinations whose devices accept the source's.
"""

import logging as std_logging
import time

from nova import conf as nova_conf
from nova.scheduler.client import report
from nova.scheduler import filters
from nova.scheduler import utils as scheduler_utils
from oslo_log import log as logging

from nova_migcompat import conf as migcompat_conf
from nova_migcompat import formats
from nova_migcompat import placement
from nova_migcompat import requirements
from nova_migcompat.scheduler import live_migration

LOG = logging.getLogger(__name__)
CONF = nova_conf.CONF
migcompat_conf.register_opts(CONF)

_SHOWN_CHARS = 200
#: Rejected hosts logged at INFO per request; the others at DEBUG (a
#: large fleet would otherwise log thousands of lines per migration).
INFO_REJECTIONS = 20


class _Plan(object):
    """What one request needs, worked out once (filters are shared)."""

    def __init__(self, migration):
        self.migration = migration
        self.requirements = []
        self.acceptance = requirements.Acceptance({}, {}, {})
        self.error = None
        self.requests = 0
        self.rejections = 0
        self.started = time.monotonic()
        self._described = {}

    def describe(self, token):
        if token not in self._described:
            self._described[token] = self._describe(token)
        return self._described[token]

    def _describe(self, token):
        text = self.acceptance.strings.get(token, '?')
        summary = formats.summary(text)
        shown = text if len(text) <= _SHOWN_CHARS else (
            text[:_SHOWN_CHARS] + '...')
        return '%s [%s]' % (summary, shown.replace('\n', ' '))


class MigrationCompatibilityFilter(filters.BaseHostFilter,
                                   filters.CandidateFilterMixin):
    """Keep hosts whose devices accept the live-migrating devices' state.

    For a live migration, keeps only the hosts, and of each host only the
    allocation candidates, whose device resource providers carry the
    ``CUSTOM_MIGCOMPAT_ACC_*`` trait of every ``CUSTOM_MIGCOMPAT_SRC_*``
    string of the instance's source device providers (root providers for
    PCI functions).  Every other request, and instances whose devices
    publish no string, pass untouched.
    """

    RUN_ON_REBUILD = False

    def filter_all(self, filter_obj_list, spec_obj):
        if scheduler_utils.request_is_rebuild(spec_obj):
            yield from filter_obj_list
            return
        plan = self._plan(spec_obj)
        if plan is None:
            yield from filter_obj_list
            return
        kept = total = 0
        for host_state in filter_obj_list:
            total += 1
            if self._passes(host_state, plan):
                kept += 1
                yield host_state
        quiet = max(0, plan.rejections - INFO_REJECTIONS)
        LOG.info('Live migration of instance %s: kept %d of %d hosts '
                 '(%d placement requests, %.1f ms)%s',
                 plan.migration.instance_uuid, kept, total, plan.requests,
                 (time.monotonic() - plan.started) * 1000,
                 '; %d more rejected hosts logged at DEBUG' % quiet
                 if quiet else '')

    def host_passes(self, host_state, spec_obj):
        plan = self._plan(spec_obj)
        return plan is None or self._passes(host_state, plan)

    def _plan(self, spec_obj):
        """What the request needs, or None if nothing; never raises."""
        instance_uuid = getattr(spec_obj, 'instance_uuid', None)
        try:
            migration = live_migration.find(spec_obj)
        except Exception as e:
            # Not known to be a live migration: [migcompat]on_error is for
            # live migrations; cold moves must not fail because of us.
            LOG.warning('Cannot tell whether the request for instance %s is '
                        'a live migration (%s: %s): every host passes',
                        instance_uuid, type(e).__name__, e)
            return None
        if migration is None:
            return None
        plan = _Plan(migration)
        client = None
        try:
            client = placement.PlacementClient.from_report_client(
                report.report_client_singleton())
            allocations = client.allocations(migration.migration_uuid)
            plan.requirements = requirements.source_requirements(
                allocations, lambda rp: client.provider_traits(rp)[0],
                migration.source_root, migration.has_pci)
            if not plan.requirements:
                LOG.debug('Instance %s has no tracked devices: every host '
                          'passes', instance_uuid)
                return None
            plan.acceptance = requirements.find_accepting(
                client, plan.requirements)
        except Exception as e:
            plan.error = e
            LOG.error('Cannot work out the device compatibility needs of '
                      'instance %s (%s: %s); [migcompat]on_error=%s: %s '
                      'hosts', instance_uuid, type(e).__name__, e,
                      CONF.migcompat.on_error,
                      'keeping all' if CONF.migcompat.on_error == 'pass'
                      else 'rejecting all')
        if client is not None:
            plan.requests = client.requests
        return plan

    def _passes(self, host_state, plan):
        if plan.error is None:
            try:
                return self._compatible(host_state, plan)
            except Exception as e:
                plan.error = e
                LOG.error('Cannot judge host %s for the live migration of '
                          'instance %s (%s: %s); [migcompat]on_error=%s',
                          host_state.host, plan.migration.instance_uuid,
                          type(e).__name__, e, CONF.migcompat.on_error)
        return CONF.migcompat.on_error == 'pass'

    def _compatible(self, host_state, plan):
        shortfall = requirements.check_host(
            host_state.uuid, plan.requirements, plan.acceptance.accepting)
        if shortfall is None and not getattr(
                host_state, 'allocation_candidates', None):
            shortfall = requirements.check_host_providers(
                host_state.uuid, plan.requirements, plan.acceptance)
        if shortfall is not None:
            self._log_rejection(host_state, plan, shortfall)
            return False
        if not getattr(host_state, 'allocation_candidates', None):
            return True
        shortfalls = []

        def compatible(candidate):
            shortfall = requirements.check_candidate(
                candidate, plan.requirements, plan.acceptance.accepting)
            if shortfall is not None:
                shortfalls.append(shortfall)
            if shortfall is not None and LOG.isEnabledFor(
                    std_logging.DEBUG):
                LOG.debug('Allocation candidate %s of host %s: %s',
                          candidate, host_state.host,
                          self._reason(plan, shortfall))
            return shortfall is None

        if self.filter_candidates(host_state, compatible):
            return True
        self._log_rejection(host_state, plan, shortfalls[0])
        return False

    @staticmethod
    def _reason(plan, shortfall):
        req = shortfall.requirement
        where = ('the host (PCI functions)' if req.host_level else
                 'device provider %s' % shortfall.provider
                 if shortfall.provider else
                 'no provider of %s' % ','.join(sorted(req.resource_classes)))
        return '%s does not accept the string of source provider %s: %s' % (
            where, ','.join(req.sources),
            plan.describe(shortfall.token) if shortfall.token
            else '(no provider)')

    def _log_rejection(self, host_state, plan, shortfall):
        plan.rejections += 1
        level = (std_logging.INFO if plan.rejections <= INFO_REJECTIONS
                 else std_logging.DEBUG)
        if LOG.isEnabledFor(level):
            LOG.log(level, 'Host %s rejected for the live migration of '
                    'instance %s: %s', host_state.host,
                    plan.migration.instance_uuid,
                    self._reason(plan, shortfall))
