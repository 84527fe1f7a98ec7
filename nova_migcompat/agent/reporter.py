"""The reporting cycle: make placement tell the truth about local devices.

One cycle (:meth:`Reporter.run_cycle`):

1. discover the local devices and their strings;
2. list the compute node's provider tree (by the root provider's uuid
   once known, else by its name); map each mdev parent to Nova's physical
   GPU provider by name, PCI functions to the root provider;
3. read the fleet's catalog: every ``CUSTOM_MIGCOMPAT_SRC_*`` trait some
   provider has, decoded (listed in parts when one listing would pass the
   client's response bound);
4. bring the agent's own record of verdicts (:mod:`.record`) up to date:
   every (target device, catalog string) pair that was never checked,
   whose device changed, or whose verdict is due for a recheck is asked of
   the device's own source, oldest first, at most
   ``[migcompat]max_checks_per_cycle`` per cycle (the rest carry over to
   the next cycles; the report says how many wait);
5. per provider, compute our traits: ``SRC`` for the strings its devices
   produce, ``ACC`` only for the strings one of its devices accepts in
   the record, with its present identity, within the recheck age;
   everything else of ours (stale, foreign, unchecked) is withdrawn;
6. write only the providers whose set of our traits changed, keeping every
   trait that is not ours, with the provider generation, re-reading and
   retrying on a conflict; providers left without devices lose our traits;
7. optionally delete our traits that no provider has any more.

In a steady state (nothing changed) a cycle only reads: no kernel write,
and 2 placement requests (the tree, the catalog).  A provider's traits are
read again only when placement cannot prove them unchanged: see
:meth:`Reporter._traits`.  After a change (ours or anyone's) the tree's
traits are read in the next two cycles, then the cycles are steady again.
"""

import collections
import dataclasses
import os
import socket
import time
import typing

from oslo_log import log as logging

from nova_migcompat.agent import device as device_mod
from nova_migcompat.agent import device_process
from nova_migcompat.agent import identity as identity_mod
from nova_migcompat.agent import provider_names
from nova_migcompat.agent import record as record_mod
from nova_migcompat.agent import source as sources_mod
from nova_migcompat.agent import verdict as verdict_mod
from nova_migcompat import codec
from nova_migcompat import conf as migcompat_conf
from nova_migcompat import epoch
from nova_migcompat import exception

LOG = logging.getLogger(__name__)

#: Attempts to write one provider's traits when others write concurrently.
WRITE_ATTEMPTS = 4
#: SRC traits (whole strings, or parts of long ones) one provider
#: publishes at most: e.g. 32 instances' strings of 8 parts.  Strings
#: beyond are not published: their devices are managed without a string.
MAX_SRC_PER_PROVIDER = 256
#: Instances whose own strings one provider marks at most
#: (``CUSTOM_MIGCOMPAT_VM_*``); beyond, the provider's strings decide for
#: the others.
MAX_MARKERS_PER_PROVIDER = 64
#: Seconds (of the agent's monotonic clock) a tree listing's
#: ``Last-Modified`` header must have stood before the next listing that
#: relies on it (see Reporter._traits): one second for the header's
#: resolution, and up to two seconds either way between the clocks of
#: placement's API hosts.  At most the shortest ``[migcompat]interval``,
#: so that it costs no cycle.
SETTLE_SECONDS = 5

PRODUCERS = (device_mod.MDEV_TYPE, device_mod.MDEV, device_mod.PCI)
_TARGETS = (device_mod.MDEV_TYPE, device_mod.PCI)


@dataclasses.dataclass
class Producer:
    """A local device, its string's id and the tokens it publishes as."""

    device: device_mod.Device
    #: The string's id (its token, or a long string's ``2<s><digest>``).
    token: str
    #: The tokens of its SRC traits (one, or a long string's parts).
    parts: tuple = ()


@dataclasses.dataclass
class ProviderPlan:
    """The local devices behind one resource provider."""

    name: str
    #: Producers whose strings the provider produces.
    producers: list = dataclasses.field(default_factory=list)
    #: ``(source, device)`` of the devices that take part in the
    #: target-side check, each asked through its own source.
    targets: list = dataclasses.field(default_factory=list)
    #: A device of this provider could not be read: keep its SRC traits.
    degraded: bool = False
    #: Managed devices without a string: reason (a NOSRC reason of
    #: :mod:`~nova_migcompat.codec`) -> their names.
    unjudged: dict = dataclasses.field(default_factory=dict)
    #: Keys of the strings that left the catalog which a device of the
    #: provider still accepts in the record: their withdrawal is
    #: housekeeping, not a change of what the devices accept.
    backed: set = dataclasses.field(default_factory=set)

    def unjudge(self, reason, device_name):
        self.unjudged.setdefault(reason, []).append(device_name)


@dataclasses.dataclass
class CycleReport:
    devices: int = 0
    tracked: int = 0
    catalog: int = 0
    providers: int = 0
    #: Target-side checks asked of the devices this cycle.
    checks: int = 0
    #: (device, string) pairs due for a check that wait for a later cycle.
    behind: int = 0
    #: Placement requests: all of them, and those that wrote.
    requests: int = 0
    writes: int = 0
    changed: list = dataclasses.field(default_factory=list)
    #: Problems with local devices (unreadable, unpublishable).
    device_problems: list = dataclasses.field(default_factory=list)
    #: Catalog traits that do not decode: ``(trait, reason)``.
    ignored_traits: list = dataclasses.field(default_factory=list)
    #: Acceptances withdrawn that the devices no longer back (the epoch
    #: moved for them).
    revoked: int = 0
    #: Why this cycle moved the withdrawal epoch (empty: it did not).
    epoch_moved: list = dataclasses.field(default_factory=list)
    #: Why the cycle failed, if it did.
    failure: typing.Optional[str] = None
    #: provider name -> token -> check result, for tools and tests.
    verdicts: dict = dataclasses.field(default_factory=dict)
    #: provider name -> our traits as published (or planned).
    published: dict = dataclasses.field(default_factory=dict)

    @property
    def ok(self):
        return self.failure is None

    @property
    def reads(self):
        """Placement requests that only read."""
        return self.requests - self.writes


@dataclasses.dataclass
class _Listing:
    """What one listing of the tree showed, and since when."""

    #: Uuids of the tree's providers.
    uuids: frozenset
    #: Its ``Last-Modified`` header (None: placement did not send one).
    modified: typing.Optional[str]
    #: Listings made so far by this reporter, this one included.
    number: int
    #: Monotonic time the first of the listings in a row with this header
    #: (and these uuids) was received.
    since: float
    #: Placement's clock had passed the header's second when this listing
    #: was served, so any later change moves the header.
    settled: bool


def over_budget(producers):
    """The devices of one provider whose strings pass its SRC budget.

    :param producers: ``(device, parts)`` of the provider's devices that
        produce a string.  Taken by kind then name (mdev types first, so
        that what a new server gets stays judged), each string's parts
        once: a device whose new parts would take the provider past
        :data:`MAX_SRC_PER_PROVIDER` SRC traits is over.  Returns their
        names, in that order.
    """
    published, over = set(), []
    for device, parts in sorted(producers, key=lambda p: (
            PRODUCERS.index(p[0].kind), p[0].name)):
        new = set(parts) - published
        if len(published) + len(new) > MAX_SRC_PER_PROVIDER:
            over.append(device.name)
            continue
        published |= new
    return over


def budget_words(provider):
    """Why the devices :func:`over_budget` names are not tracked.

    :param provider: the provider, in words (``provider <name>``).
    """
    return ('%s would publish more than %d SRC traits (the budget of one '
            "provider: %d instances' strings of %d parts)"
            % (provider, MAX_SRC_PER_PROVIDER,
               MAX_SRC_PER_PROVIDER // codec.MAX_PARTS, codec.MAX_PARTS))


class Reporter(object):
    """Reports one host's devices to placement.

    :param conf: an oslo.config object with the [migcompat] options.
    :param client: a :class:`nova_migcompat.placement.PlacementClient`, or
        None for :meth:`plan_locally` only.
    :param should_stop: a callable polled between steps; when it returns
        True the cycle stops before its next write or check.
    :param record: the :class:`~.record.VerdictRecord`; by default the one
        in ``[migcompat]state_path``, or one kept in memory when there is
        no client (a dry run).
    :param sources: the device sources; by default the configured ones, in
        a device process of their own
        (:mod:`~nova_migcompat.agent.device_process`: end it with
        :meth:`close`).
    :param process: the device process of a previous reporter, to load the
        configured sources in (a configuration reload).
    :raises SourcesNotLoaded: a configured source cannot be loaded.
    """

    def __init__(self, conf, client, sources=None, should_stop=None,
                 record=None, process=None):
        self.conf = conf
        self.client = client
        self.nodename = conf.migcompat.nodename
        self.should_stop = should_stop or (lambda: False)
        self.sources = (sources if sources is not None
                        else device_process.load(conf, self.should_stop,
                                                 process))
        self.mdev_types = set(migcompat_conf.mdev_types(conf))
        if record is None:
            path = None
            if client is not None:
                path = os.path.join(conf.migcompat.state_path,
                                    record_mod.FILE_NAME)
            record = record_mod.VerdictRecord.load(
                path, conf.migcompat.nodename, conf.migcompat.recheck_age)
        self.record = record
        #: The agent's monotonic clock (tests move it with placement's).
        self.monotonic = time.monotonic
        #: The compute node's root provider uuid, once found by name.
        self._root_uuid = None
        #: The last listing of the tree (a :class:`_Listing`).
        self._listing = None
        #: The traits known at the last listing carry over to this one.
        self._unchanged = False
        #: provider uuid -> (traits, generation, number of the listing
        #: after which they were read or proven unchanged).
        self._known_traits = {}
        #: This host's agent identity (the node's AGENT trait).
        self.identity = identity_mod.identity(
            conf.migcompat.nodename, conf.migcompat.state_path,
            keep=client is not None)
        #: Why the withdrawal epoch must move (nova_migcompat.epoch): the
        #: first cycle moves it, whatever a previous process left undone.
        self._epoch_owed = ['the agent started']
        self._epoch_failure = None
        #: Target device key -> identity, at the last cycle.
        self._identities = None
        #: The tree's provider uuids at the last cycle.
        self._tree_uuids = None
        #: id -> string of the catalog of the last cycle, and this one's.
        self._last_catalog = {}
        self._this_catalog = {}
        #: id -> the SRC tokens of each whole string of the catalog.
        self._catalog_parts = {}

    @property
    def process(self):
        """The device process of the sources (None: in-process sources)."""
        return device_process.process_of(self.sources)

    def close(self):
        """End the device process, without waiting for a hung device."""
        device_process.close(self.sources)

    # Local state -------------------------------------------------------

    def _excluded(self, dev):
        """True for an mdev (type) of a type the operator does not use.

        A device whose type is unknown is excluded only when it is healthy
        (then it has no type); an unreadable one may be of a used type.
        """
        if not self.mdev_types or dev.kind not in (device_mod.MDEV_TYPE,
                                                   device_mod.MDEV):
            return False
        if dev.mdev_type is None:
            return dev.error is None
        return dev.mdev_type not in self.mdev_types

    def _provider_name(self, dev):
        if dev.kind == device_mod.PCI:
            return self.nodename
        if dev.parent is None:
            return None
        return provider_names.pgpu_provider_name(self.nodename, dev.parent)

    def _device_provider(self, name):
        """Is ``name`` a provider of this node's devices (root or pGPU)?"""
        return name == self.nodename or provider_names.is_pgpu_provider(
            self.nodename, name)

    def collect(self, report, known_providers=None):
        """Discover devices and group them by provider name.

        :param known_providers: names of the providers in placement; devices
            of others (mdev parents Nova does not use) are left out.
        """
        plans = {}
        degrade_all = False
        for source, dev in sources_mod.discover(self.sources):
            if self._excluded(dev):
                if dev.error:
                    LOG.debug('Device %s of mdev type %s (not reported): '
                              '%s', dev.name, dev.mdev_type, dev.error)
                continue
            name = self._provider_name(dev)
            if name is None:
                if dev.error:
                    # Cannot tell which provider it belongs to: keep every
                    # provider's SRC traits this cycle.
                    degrade_all = True
                    report.device_problems.append('%s: %s'
                                                  % (dev.name, dev.error))
                continue
            report.devices += 1
            if known_providers is not None and name not in known_providers:
                LOG.debug('Device %s: no provider %s in placement (not used '
                          'by Nova), not reported', dev.name, name)
                continue
            plan = plans.setdefault(name, ProviderPlan(name))
            if dev.unmigratable is not None:
                plan.unjudge(codec.NOT_MIGRATABLE, dev.name)
                continue
            if not dev.tracked:
                if dev.error:
                    plan.degraded = True
                    plan.unjudge(codec.UNREADABLE, dev.name)
                    report.device_problems.append('%s: %s'
                                                  % (dev.name, dev.error))
                else:
                    plan.unjudge(codec.NO_STRING, dev.name)
                continue
            try:
                encoded = codec.encode_string(dev.string)
            except exception.UnpublishableString as e:
                # Loud: the device cannot take part until its vendor
                # shortens its string; its servers are refused meanwhile.
                LOG.error('Device %s (%s) is not tracked: unpublishable: '
                          '%s', dev.name, dev.path, e)
                plan.unjudge(codec.UNPUBLISHABLE, dev.name)
                report.device_problems.append('%s: unpublishable: %s'
                                              % (dev.name, e))
                continue
            report.tracked += 1
            if dev.kind in PRODUCERS:
                plan.producers.append(Producer(dev, encoded.id,
                                               encoded.parts))
            if dev.kind in _TARGETS:
                plan.targets.append((source, dev))
        if degrade_all:
            for name in known_providers or ():
                if self._device_provider(name):
                    plans.setdefault(name, ProviderPlan(name))
            for plan in plans.values():
                plan.degraded = True
                plan.unjudge(codec.UNREADABLE, '(a device of unknown parent)')
        for plan in plans.values():
            self._bound(plan, report)
        return plans

    @staticmethod
    def _bound(plan, report):
        """Keep a provider's strings within :data:`MAX_SRC_PER_PROVIDER`.

        The devices whose strings would pass the bound are managed without
        one (their servers are refused), in one line.
        """
        over = over_budget((p.device, p.parts) for p in plan.producers)
        kept = [p for p in plan.producers if p.device.name not in over]
        if over:
            why = budget_words('provider %s' % plan.name)
            LOG.error('%d devices are not tracked (%s%s): %s; the live '
                      'migrations of the servers on the provider are '
                      'refused', len(over), ', '.join(over[:3]),
                      ', ...' if len(over) > 3 else '', why)
            report.tracked -= len(over)
            for name in over:
                report.device_problems.append('%s: unpublishable: %s'
                                              % (name, why))
            for name in over:
                plan.unjudge(codec.UNPUBLISHABLE, name)
        plan.producers = kept
        instances = {p.device.instance for p in kept if p.device.instance}
        if len(instances) > MAX_MARKERS_PER_PROVIDER:
            LOG.warning('Provider %s has devices of %d instances: VM markers '
                        'for %d of them only (the budget of one provider); '
                        'the live migrations of the others are judged by '
                        'every string of the provider', plan.name,
                        len(instances), MAX_MARKERS_PER_PROVIDER)

    def evaluate(self, plans, catalog, report):
        """Per provider, what its devices accept of each catalog string.

        Brings the record up to date within the cycle's budget, then reads
        every verdict from it: ``accepts`` when a device of the provider
        accepts in the record, ``refuses`` when every device refuses there,
        ``unknown`` otherwise (not checked yet, or could not tell).
        """
        record = self.record
        texts = {}
        for text in catalog.values():
            texts.setdefault(record_mod.string_key(text), text)
        targets = [(source, dev, record_mod.device_key(dev),
                    record_mod.identity(dev))
                   for plan in plans.values()
                   for source, dev in plan.targets]
        budget = self.conf.migcompat.max_checks_per_cycle
        pairs, report.behind = record.pending(
            [(dev_key, ident, (source, dev))
             for source, dev, dev_key, ident in targets], list(texts),
            budget, should_stop=self.should_stop)
        unknown = collections.OrderedDict()
        for (source, dev), dev_key, ident, str_key in pairs:
            if self.should_stop():
                raise exception.Stopped('stopped during the target-side '
                                        'check')
            report.checks += 1
            verdict = source.check(dev, texts[str_key])
            if verdict.result == verdict_mod.UNKNOWN:
                unknown.setdefault(dev.name, []).append(verdict.reason)
            record.put(dev_key, str_key, ident, verdict.result)
        for name, reasons in unknown.items():
            LOG.info('Device %s could not tell whether it accepts %d '
                     'fleet strings (%s): asked again next cycle', name,
                     len(reasons), reasons[0])
        if report.behind:
            LOG.warning('%d target-side checks wait for later cycles '
                        '([migcompat]max_checks_per_cycle=%d); until then '
                        'their strings are not published as accepted',
                        report.behind, budget)
        # Before the record forgets the strings that left the catalog:
        # which of them each provider's devices still accept.
        acceptances = record.acceptances()
        for plan in plans.values():
            for _source, dev in plan.targets:
                plan.backed |= acceptances.get(
                    (record_mod.device_key(dev), record_mod.identity(dev)),
                    set()).difference(texts)
        self._note_identities({dev_key: ident for _s, _d, dev_key, ident
                               in targets})
        record.keep_only({t[2] for t in targets}, set(texts))
        now = record.clock()
        keys = {token: record_mod.string_key(text)
                for token, text in catalog.items()}
        verdicts = {}
        for plan in plans.values():
            # Each device's verdicts once: a provider with many devices
            # and a fleet with many strings cost their sum, not product.
            accepted, refusals = set(), collections.Counter()
            for _source, dev in plan.targets:
                for str_key, result in record.results(
                        record_mod.device_key(dev), record_mod.identity(dev),
                        now).items():
                    if result == verdict_mod.ACCEPTS:
                        accepted.add(str_key)
                    else:
                        refusals[str_key] += 1
            devices = len(plan.targets)
            per_token = {}
            for token, str_key in keys.items():
                if str_key in accepted:
                    per_token[token] = verdict_mod.ACCEPTS
                elif devices and refusals[str_key] == devices:
                    per_token[token] = verdict_mod.REFUSES
                else:
                    per_token[token] = verdict_mod.UNKNOWN
            verdicts[plan.name] = per_token
        report.verdicts = verdicts
        return verdicts

    def desired(self, plan, verdicts, current, root=False):
        """Our traits for a provider, given its current traits.

        ``ACC`` only for what the record says a device of the provider
        accepts: an acceptance someone else wrote, or one this agent can no
        longer back, is withdrawn.  ``NOSRC_<reason>`` for the managed
        devices without a string (an unreadable device whose provider
        keeps the SRC traits it published before is judged by them), and
        on the node's ``root`` provider, ``REPORTED`` and ``AGENT_<identity>``.
        """
        want = set()
        if root and self.identity:
            want |= {codec.REPORTED_TRAIT, codec.agent_trait(self.identity)}
            # Other agents' marks are theirs (or the operator's) to remove.
            want |= {t for t in current if (codec.parse_trait(t) or ('',))[0]
                     in (codec.AGENT, codec.CLAIM) and
                     codec.parse_trait(t)[1] != self.identity}
        if plan is None:
            return want
        want |= {codec.trait(codec.SRC, part) for p in plan.producers
                 for part in (p.parts or (p.token,))}
        instances = {}
        for producer in plan.producers:
            if producer.device.instance:
                instances.setdefault(producer.device.instance, set()).add(
                    producer.token)
        for instance in sorted(instances)[:MAX_MARKERS_PER_PROVIDER]:
            want |= {codec.marker_trait(instance, token)
                     for token in instances[instance]}
        if plan.degraded:
            want |= {t for t in current
                     if (codec.parse_trait(t) or ('',))[0] == codec.SRC}
        for token, result in verdicts.get(plan.name, {}).items():
            if result == verdict_mod.ACCEPTS:
                want.add(codec.trait(codec.ACC, token))
        has_src = any(t.startswith(codec.SRC_PREFIX) for t in want)
        for reason in plan.unjudged:
            if reason == codec.UNREADABLE and has_src:
                continue
            want.add(codec.nosrc_trait(reason))
        return want

    def _withdrawn(self, plan, ours, want, catalog):
        """How many acceptances of ``ours`` leaving for ``want`` revoke.

        Withdrawing an acceptance of a string that left the catalog while
        a device of the provider still accepts it is housekeeping; any
        other withdrawal (a refusal, an expired or unchecked verdict, a
        device gone or changed, a trait someone else wrote) revokes.
        """
        revoked = 0
        for name in ours - want:
            parsed = codec.parse_trait(name)
            if parsed is None or parsed[0] != codec.ACC:
                continue
            token = parsed[1]
            if plan is not None and token not in catalog:
                text = self._last_catalog.get(token)
                key = record_mod.string_key(text) if text else None
                if key in plan.backed:
                    continue
            revoked += 1
        return revoked

    # Placement ---------------------------------------------------------

    def read_catalog(self, report):
        """The fleet's strings: ``{id: string}``, from its SRC traits.

        Long strings are reassembled from their parts; one that is not
        whole (a part missing, extra, duplicated or corrupt, a digest that
        does not match) is ignored, never guessed: unknown to every target.
        """
        tokens = []
        for name in self._src_traits(codec.SRC_PREFIX):
            parsed = codec.parse_trait(name)
            if parsed and parsed[0] == codec.SRC:
                tokens.append(parsed[1])
        assembled = codec.assemble(tokens)
        for id_, why in sorted(assembled.problems.items()):
            report.ignored_traits.append((codec.trait(codec.SRC, id_), why))
        self._catalog_parts = assembled.parts
        catalog = assembled.strings
        for name, reason in report.ignored_traits[:20]:
            LOG.warning('Ignoring trait %s in placement: %s', name[:80],
                        reason)
        if len(report.ignored_traits) > 20:
            LOG.warning('Ignoring %d more traits that do not decode',
                        len(report.ignored_traits) - 20)
        return catalog

    def _src_traits(self, prefix):
        """The SRC traits in use, listed in parts when one is too large.

        A listing that passes the client's response bound is split by the
        next character of the token: each part is a fraction of the
        catalog, so a catalog of any size is read.  (Names that stop at
        the prefix or go on with a character no token has are not tokens
        and are not listed then.)
        """
        try:
            return self.client.traits(prefix, associated=True)
        except exception.ResponseTooLarge:
            if len(prefix) >= codec.MAX_TRAIT_LEN:
                raise
            LOG.info('Listing the traits %s* in parts: one listing is too '
                     'large', prefix)
        names = set()
        for char in codec.TOKEN_ALPHABET:
            names |= self._src_traits(prefix + char)
        return names

    def _add_local_strings(self, plans, catalog):
        """Add the local strings to the catalog.

        A string already in the catalog keeps the token (and parts) it has
        there (a host whose zlib deflates differently must not fork it).
        """
        tokens = {}
        known = getattr(self, '_catalog_parts', {})
        for token in sorted(catalog):
            tokens.setdefault(catalog[token], token)
        for plan in plans.values():
            for producer in plan.producers:
                token = tokens.setdefault(producer.device.string,
                                          producer.token)
                if token != producer.token:
                    producer.token = token
                    producer.parts = known.get(token, (token,))
                catalog.setdefault(producer.token, producer.device.string)

    def _find_root(self):
        """The compute node's root provider, by name."""
        root = self.client.find_provider(self.nodename)
        if root is None and self.nodename == socket.gethostname():
            # The default: libvirt may report the FQDN as the hostname.
            fqdn = socket.getfqdn()
            if fqdn != self.nodename:
                root = self.client.find_provider(fqdn)
                if root is not None:
                    LOG.info('Using the compute node provider %s (the '
                             'FQDN of this host); set [migcompat]nodename '
                             'to skip the lookup', fqdn)
                    self.nodename = fqdn
        if root is None:
            raise exception.RootProviderNotFound(
                'No resource provider named %r in placement: is '
                'nova-compute running on this host, and is '
                '[migcompat]nodename its hypervisor hostname (see '
                '"openstack hypervisor list")?' % self.nodename)
        return root

    def _own_tree(self, providers, root_uuid):
        """``{name: provider}`` if ``root_uuid`` is our root in the listing.

        None when the listing is empty (no such provider any more), or the
        provider ``root_uuid`` is not named after this node or is not a
        root (renamed, or moved under another provider).
        """
        for rp in providers:
            if rp.get('uuid') == root_uuid:
                if rp.get('name') == self.nodename and \
                        rp.get('root_provider_uuid') == root_uuid and \
                        rp.get('parent_provider_uuid') is None:
                    return {p['name']: p for p in providers}
                return None
        return None

    def _tree(self):
        """The compute node's provider tree: ``{name: provider}``.

        One request in a steady state: the tree listed by the root's uuid
        found in an earlier cycle.  When that uuid no longer lists this
        node's root (deleted, re-created under a new uuid, renamed), the
        root is looked up by name again.
        """
        tree = None
        if self._root_uuid is not None:
            sent = self.monotonic()
            providers, modified = self.client.provider_tree(self._root_uuid)
            tree = self._own_tree(providers, self._root_uuid)
            if tree is None:
                LOG.info('Provider %s is no longer the root provider %s: '
                         'looking it up by name', self._root_uuid,
                         self.nodename)
                self._root_uuid = None
        if tree is None:
            root = self._find_root()
            sent = self.monotonic()
            providers, modified = self.client.provider_tree(root['uuid'])
            tree = self._own_tree(providers, root['uuid'])
            if tree is None:
                raise exception.PlacementError(
                    'provider %s (%s) is not a root provider, or its tree '
                    'changed while it was read' % (self.nodename,
                                                   root['uuid']))
            self._root_uuid = root['uuid']
        self._note_listing(tree, modified, sent, self.monotonic())
        return tree

    def _note_listing(self, tree, modified, sent, received):
        """Tell whether the tree's traits known before carry over.

        They do when the tree has the same providers and the same
        ``Last-Modified`` header as at the previous listing, and that
        listing was settled (see :meth:`_traits`).
        """
        uuids = frozenset(rp['uuid'] for rp in tree.values())
        last = self._listing
        same = (last is not None and modified is not None and
                last.uuids == uuids and last.modified == modified)
        since = last.since if same else received
        self._unchanged = same and last.settled
        self._listing = _Listing(
            uuids=uuids, modified=modified,
            number=(last.number + 1) if last else 1, since=since,
            settled=modified is not None and
            sent - since >= SETTLE_SECONDS)

    def _traits(self, rp):
        """A provider's ``(traits, generation)``.

        Read again unless placement proves them unchanged since we read
        them: the tree listed with the same providers and the same
        ``Last-Modified`` header as at the previous listing, this
        provider with the generation we know, and our traits read (or
        proven unchanged) after that listing.  The header is the newest
        ``updated_at``/``created_at`` of the tree's providers; placement
        updates ``updated_at`` with every generation bump, and a provider
        deleted and created again with the same uuid (a compute node's
        root: Nova keeps its uuid in ``compute_id``) has a new
        ``created_at``, so the header moves even when its generation,
        starting again from 0, comes back to the one we know.  When the
        header or the providers changed, every provider of the tree is
        read again: the header does not say which one moved, and another
        provider's change may hide such a re-creation.

        The header has a resolution of one second: a change made in the
        same second as the change the header shows does not move it.  So
        the previous listing must also have been *settled*: its header
        stood since a listing at least :data:`SETTLE_SECONDS` earlier,
        hence placement's clock had left the header's second when it
        served the previous listing, and any change since then has a later
        time.  After a change the tree's traits are therefore read in two
        cycles (the one that sees the header move, and the next).  What
        remains assumed: placement's API hosts stamp ``updated_at`` with
        clocks within two seconds of each other.  A transport or a
        placement that sends no ``Last-Modified`` header gets every
        provider's traits read in every cycle.
        """
        uuid = rp['uuid']
        number = self._listing.number
        known = self._known_traits.get(uuid)
        if known is not None and known[2] == number:
            # Read (or proven) after this very listing.
            return set(known[0]), known[1]
        if self._unchanged and known is not None and \
                rp.get('generation') is not None and \
                known[1] == rp['generation'] and known[2] == number - 1:
            self._known_traits[uuid] = (known[0], known[1], number)
            return set(known[0]), known[1]
        return self._read_traits(uuid)

    def _read_traits(self, uuid):
        current, generation = self.client.provider_traits(uuid)
        self._known_traits[uuid] = (frozenset(current), generation,
                                    self._listing.number)
        return current, generation

    # One agent per node ---------------------------------------------------

    def _owner(self, traits):
        """Who reports the node, from its root's traits.

        ``(owner identity or None, other identities)``: the agent whose
        AGENT trait is on the root reports the node; when two are (two
        agents wrote at once), the lowest identity does, and the other one
        steps back.  CLAIM traits are the other agents' claims.
        """
        reporting, claiming = codec.identities(traits)
        others = sorted((set(reporting) | set(claiming)) - {self.identity})
        return (min(reporting) if reporting else None), others

    def _conflict(self, owner, others):
        return exception.NodeClaimed(
            'node %s is reported by another nova-migcompat agent (identity '
            '%s; this agent is %s): two agents have [migcompat]nodename = '
            '%s (a configuration copied to another host?); this one '
            'publishes nothing and withdraws nothing: stop the wrong one, '
            "then run 'nova-migcompat purge --host %s' once"
            % (self.nodename, owner, self.identity, self.nodename,
               self.nodename))

    def _check_owner(self, root, report):
        """Publish only as the node's agent; else claim it and fail."""
        current, _generation = self._traits(root)
        owner, others = self._owner(current)
        if owner is None or owner == self.identity:
            if others:
                LOG.warning('Node %s is also claimed by nova-migcompat '
                            'agent(s) %s (another host with [migcompat]'
                            'nodename = %s?); this agent (%s) reports it',
                            self.nodename, ', '.join(others),
                            self.nodename, self.identity)
            return
        self._claim(root, report)
        raise self._conflict(owner, others)

    def _claim(self, root, report):
        """Leave this agent's claim on the root (for status), no more."""
        mine = codec.agent_trait(self.identity)
        claim = codec.claim_trait(self.identity)
        current, generation = self._read_traits(root['uuid'])
        for _attempt in range(WRITE_ATTEMPTS):
            want = (current - {mine}) | {claim}
            if want == current:
                return
            self.client.ensure_trait(claim)
            report.writes += 1
            try:
                self.client.set_provider_traits(root['uuid'], want,
                                                generation)
            except exception.GenerationConflict:
                report.writes += 1
                current, generation = self._read_traits(root['uuid'])
                continue
            report.writes += 1
            self._known_traits.pop(root['uuid'], None)
            return

    def _write(self, rp, plan, verdicts, report, created, catalog):
        uuid = rp['uuid']
        current, generation = self._traits(rp)
        root = rp['name'] == self.nodename
        for _attempt in range(WRITE_ATTEMPTS):
            want = self.desired(plan, verdicts, current, root=root)
            ours = {t for t in current if codec.is_ours(t)}
            report.published[rp['name']] = want
            if root:
                # Another agent wrote the root meanwhile: the lower
                # identity reports the node, the other steps back before
                # it writes any device provider.
                owner, others = self._owner(want)
                if owner != self.identity:
                    self._claim(rp, report)
                    raise self._conflict(owner, others)
            if ours == want:
                return
            if self.should_stop():
                raise exception.Stopped('stopped before writing %s'
                                        % rp['name'])
            # Create new traits once per cycle, never from memory of past
            # cycles: another agent may have garbage-collected them since.
            for name in sorted(want - current - created):
                self.client.ensure_trait(name)
                report.writes += 1
                created.add(name)
            traits = (current - ours) | want
            revoked = self._withdrawn(plan, ours, want, catalog)
            if revoked:
                # Owed before the write: a write that fails after placement
                # applied it still announces the withdrawal.
                self._owe_epoch('%s withdrew %d acceptance(s)'
                                % (rp['name'], revoked))
            try:
                generation = self.client.set_provider_traits(
                    uuid, traits, generation)
            except exception.GenerationConflict:
                LOG.info('Provider %s changed while we wrote its traits; '
                         're-reading', rp['name'])
                report.writes += 1
                current, generation = self._read_traits(uuid)
                continue
            report.revoked += revoked
            # What we wrote is read back in the next cycle: our write
            # moved the header, and placement does not tell whether only
            # our write moved it.
            self._known_traits.pop(uuid, None)
            report.writes += 1
            report.changed.append(rp['name'])
            LOG.info('Provider %s: %d nova-migcompat traits published '
                     '(+%d -%d)', rp['name'], len(want), len(want - ours),
                     len(ours - want))
            return
        raise exception.PlacementError(
            'provider %s: %d conflicting writes in a row, giving up for '
            'this cycle' % (rp['name'], WRITE_ATTEMPTS))

    def _collect_garbage(self, report):
        # Only ours, by exact name: the listing is a LIKE, where _ is any
        # character.
        for name in sorted(self.client.traits(codec.PREFIX,
                                              associated=False)):
            if codec.is_ours(name) and self.client.delete_trait(name):
                report.writes += 1

    # The withdrawal epoch ------------------------------------------------

    def _owe_epoch(self, reason):
        """The epoch must move before this cycle counts as done."""
        self._epoch_owed.append(reason)

    def _note_identities(self, identities):
        """Owe an epoch move for target devices changed or gone.

        An acceptance withdrawn as housekeeping may survive in a
        scheduler's list (see :mod:`nova_migcompat.epoch`): it must not
        outlive the identity of the device that gave it.
        """
        last, self._identities = self._identities, identities
        if last is None:
            return
        changed = sorted(key for key, ident in last.items()
                         if identities.get(key) != ident)
        if changed:
            self._owe_epoch('devices changed or gone: %s'
                            % ', '.join(changed[:5]) +
                            (' and %d more' % (len(changed) - 5)
                             if len(changed) > 5 else ''))

    def _note_tree(self, uuids):
        """Owe an epoch move for providers that left the tree."""
        last, self._tree_uuids = self._tree_uuids, uuids
        if last is not None and last - uuids:
            self._owe_epoch('%d provider(s) left the tree'
                            % len(last - uuids))

    def _settle_epoch(self, report):
        """Move the epoch if owed; False when placement refused.

        Never raises: the epoch stays owed, and the cycle fails.
        """
        if not self._epoch_owed:
            return True
        reasons = list(self._epoch_owed)
        try:
            report.writes += epoch.move(self.client)
        except exception.MigCompatError as e:
            self._epoch_failure = str(e)
            return False
        report.epoch_moved = reasons
        del self._epoch_owed[:len(reasons)]
        LOG.info('Withdrawal epoch moved (%s)', '; '.join(reasons))
        return True

    def run_cycle(self):
        """One reporting cycle; never raises: the report says what failed."""
        report = CycleReport()
        start = self.client.requests
        try:
            self._run(report)
        except (exception.MigCompatError, OSError) as e:
            # Logged once, by whoever runs the cycle (the agent: with the
            # cycle's summary).
            report.failure = str(e)
        except Exception as e:
            # A malformed answer (or a bug): report it in one line (the
            # agent logs the cycle's failure), write nothing more, and let
            # the daemon try again; the traceback only at DEBUG.
            report.failure = '%s: %s' % (type(e).__name__, e)
            LOG.debug('Reporting cycle failed unexpectedly', exc_info=True)
        report.requests = self.client.requests - start
        return report

    def _run(self, report):
        tree = self._tree()
        uuids = {rp['uuid'] for rp in tree.values()}
        self._known_traits = {uuid: known for uuid, known
                              in self._known_traits.items() if uuid in uuids}
        # The node is this agent's to report, or nothing is written.
        self._check_owner(tree[self.nodename], report)
        self._note_tree(uuids)
        plans = self.collect(report, known_providers=set(tree))
        for name in tree:
            if provider_names.is_pgpu_provider(self.nodename, name) and \
                    name not in plans:
                # Nova offers a device the sources do not see: its servers
                # cannot be judged.
                plans[name] = ProviderPlan(name)
                plans[name].unjudge(codec.NO_DEVICE, name)
        report.providers = len(tree)
        catalog = self.read_catalog(report)
        self._add_local_strings(plans, catalog)
        report.catalog = len(catalog)
        # What the strings of the last cycle were: a retired string's
        # acceptance is withdrawn as housekeeping when still backed.
        self._last_catalog, self._this_catalog = self._this_catalog, dict(
            catalog)
        if self.should_stop():
            raise exception.Stopped(
                'stopped before the target-side check')
        try:
            verdicts = self.evaluate(plans, catalog, report)
        finally:
            self.record.save()
        # The devices are still there to back what is published (a tree
        # that went away during the checks must not withdraw everything).
        for source in self.sources:
            source.confirm()
        failures = []
        created = set()
        try:
            # The root first: its write proves the node is still ours.
            for name in sorted(tree, key=lambda n: (n != self.nodename, n)):
                try:
                    self._write(tree[name], plans.get(name), verdicts,
                                report, created, catalog)
                except exception.NotFound:
                    LOG.info('Provider %s disappeared during the cycle',
                             name)
                    self._owe_epoch('provider %s disappeared' % name)
                except (exception.PlacementUnavailable, exception.Stopped,
                        exception.NodeClaimed):
                    raise
                except exception.PlacementError as e:
                    failures.append(str(e))
        finally:
            # Whatever stopped the writes, those done are announced.
            settled = self._settle_epoch(report)
        if not settled:
            failures.insert(0, 'withdrawals not announced yet (the '
                            'withdrawal epoch did not move: %s)'
                            % self._epoch_failure)
        if failures:
            raise exception.PlacementError('; '.join(failures))
        if self.conf.migcompat.delete_unused_traits:
            self._collect_garbage(report)

    def plan_locally(self):
        """What a cycle would publish, without placement.

        The catalog is the local strings only, and every mdev parent is
        assumed to have its provider.
        """
        report = CycleReport()
        plans = self.collect(report)
        catalog = collections.OrderedDict()
        self._add_local_strings(plans, catalog)
        report.catalog = len(catalog)
        verdicts = self.evaluate(plans, catalog, report)
        for name, plan in plans.items():
            report.published[name] = self.desired(
                plan, verdicts, set(), root=name == self.nodename)
        return report, plans, catalog
