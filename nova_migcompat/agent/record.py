"""The agent's own record of what its devices answered.

An acceptance trait in placement is a claim this agent must be able to
back.  For every (local device, fleet string) the record keeps the
*definite* answer the device gave (accepts or refuses), when, and the
device's identity then: its own string, driver and driver version.  The
reporter publishes ``CUSTOM_MIGCOMPAT_ACC_*`` only for an "accepts" in
this record that the device gave with its present identity, less than
``[migcompat]recheck_age`` ago; anything else on our providers (stale,
foreign, unchecked) is withdrawn.

A verdict is reused, without touching the device, until its identity
changes or it is due for a recheck: at an age between 75% and 100% of
``recheck_age`` (spread per device and string, so that a fleet does not
recheck at once).  A recheck that cannot tell (busy, timed out) keeps an
acceptance until it is ``recheck_age`` old, no longer.  "Unknown" is
never recorded.

The record lives in one JSON file under ``[migcompat]state_path``,
written atomically (a temporary file, fsync, rename) only when it
changed, and it survives restarts.  A missing, unreadable, corrupt or
oversized file, one of another node, or one that someone else could
have written (not the agent's own, or writable by others, or in such a
directory) means "nothing verified yet": every pair is checked again,
nothing is trusted, nothing crashes.
"""

import hashlib
import heapq
import json
import time

from oslo_log import log as logging

from nova_migcompat.agent import state_file
from nova_migcompat.agent import verdict as verdict_mod
from nova_migcompat import exception
from nova_migcompat import version

LOG = logging.getLogger(__name__)

FILE_NAME = 'verdicts.json'
FORMAT_VERSION = 1
#: A state file larger than this is not ours to parse.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: A verdict is due for a recheck from this share of recheck_age on.
EARLIEST_RECHECK = 0.75
_DEFINITE = (verdict_mod.ACCEPTS, verdict_mod.REFUSES)


def _digest(*parts):
    data = json.dumps(parts, separators=(',', ':')).encode('utf-8')
    return hashlib.sha256(data).hexdigest()[:32]


def device_key(device):
    """A device's name on this host, e.g. ``mdev_type:0000:81:00.0/t``."""
    return '%s:%s' % (device.kind, device.name)


def identity(device):
    """What the device is now: its string, driver and driver version.

    Also how its answer is obtained: the kernel write of a writable
    attribute, or else this code's policies, whose version then counts (an
    upgraded policy judges again).
    """
    how = device.origin
    if device.attribute is None:
        how = '%s/%s' % (how, version.version_string())
    return _digest(device.string, device.facts.get('driver'),
                   device.facts.get('driver_version'), how)


def string_key(text):
    """The record's key of a compatibility string.

    Not its token: two tokens of one string share their verdicts.
    """
    return _digest(text)


class Entry(object):
    __slots__ = ('result', 'at', 'identity')

    def __init__(self, result, at, identity):
        self.result = result
        self.at = at
        self.identity = identity


class VerdictRecord(object):
    """The verdicts of one node's devices.

    Kept by device: ``{device key: {string key: Entry}}``, so that a
    cycle's work grows with the verdicts recorded and the checks it makes,
    never with every (device, string) pair of a host with many devices and
    a fleet with many strings.

    :param path: the state file, or None for a record kept in memory only
        (``--dry-run``).
    :param node: the compute node name; a file of another node is ignored.
    :param recheck_age: seconds a definite verdict stays valid.
    :param clock: returns the current time (seconds since the epoch).
    """

    def __init__(self, path, node, recheck_age, clock=time.time):
        self.path = path
        self.node = node
        self.recheck_age = recheck_age
        self.clock = clock
        self._devices = {}
        self._dirty = False

    # The file ----------------------------------------------------------

    @classmethod
    def load(cls, path, node, recheck_age, clock=time.time):
        """The record in ``path``; empty (with one log line) if unusable."""
        record = cls(path, node, recheck_age, clock)
        if path is None:
            return record
        try:
            data = state_file.read(path, MAX_FILE_BYTES)
        except state_file.Unusable as e:
            LOG.warning('Ignoring the verdict record %s: %s; every '
                        'device is checked again', path, e)
            return record
        if data is None:
            return record
        try:
            record._parse(json.loads(data.decode('utf-8')))
        except (ValueError, TypeError, KeyError, IndexError) as e:
            LOG.warning('Ignoring the verdict record %s (%s): every device '
                        'is checked again', path, e)
            record._devices = {}
        return record

    def _parse(self, doc):
        if doc.get('version') != FORMAT_VERSION:
            raise ValueError('format version %r, not %d'
                             % (doc.get('version'), FORMAT_VERSION))
        if doc.get('node') != self.node:
            raise ValueError('written for node %r, not %r'
                             % (doc.get('node'), self.node))
        devices = {}
        for dev, string, result, at, ident in doc['verdicts']:
            if (not isinstance(dev, str) or not isinstance(string, str) or
                    result not in _DEFINITE or
                    not isinstance(at, (int, float)) or
                    not isinstance(ident, str)):
                raise ValueError('malformed entry')
            devices.setdefault(dev, {})[string] = Entry(result, float(at),
                                                        ident)
        self._devices = devices

    def save(self):
        """Write the record if it changed; never raises (logs why not)."""
        if self.path is None or not self._dirty:
            return
        doc = {'version': FORMAT_VERSION, 'node': self.node,
               'verdicts': [[dev, string, e.result, e.at, e.identity]
                            for dev in sorted(self._devices)
                            for string, e in sorted(
                                self._devices[dev].items())]}
        data = json.dumps(doc, separators=(',', ':'))
        if len(data) > MAX_FILE_BYTES:
            # load() would not read it: say so now, keep the old file.
            LOG.error('The verdict record of %d pairs needs %d bytes, more '
                      'than the %d read back: not written; after a restart '
                      'every device is checked again', len(self), len(data),
                      MAX_FILE_BYTES)
            return
        try:
            state_file.write(self.path, data)
            self._dirty = False
        except OSError as e:
            LOG.error('Cannot write the verdict record %s (%s): the '
                      'verdicts of this cycle are checked again after a '
                      'restart', self.path, e)

    # Verdicts ----------------------------------------------------------

    def __len__(self):
        return sum(len(entries) for entries in self._devices.values())

    def _entry(self, dev_key, str_key, ident):
        entry = self._devices.get(dev_key, {}).get(str_key)
        if entry is None or entry.identity != ident:
            return None
        return entry

    def _in_force(self, entry, now):
        return entry.at <= now < entry.at + self.recheck_age

    def valid(self, dev_key, str_key, ident, now=None):
        """The definite result still in force, or None."""
        entry = self._entry(dev_key, str_key, ident)
        now = self.clock() if now is None else now
        if entry is None or not self._in_force(entry, now):
            return None
        return entry.result

    def _recheck_due(self, dev_key, str_key, entry, now):
        # The same pair always gets the same share: rechecks spread out.
        share = int(_digest(dev_key, str_key, entry.at)[:8], 16) / 2.0 ** 32
        start = EARLIEST_RECHECK + (1 - EARLIEST_RECHECK) * share
        return not entry.at <= now < entry.at + self.recheck_age * start

    def due(self, dev_key, str_key, ident, now=None):
        """``(due, age key)``: must the device be asked (again)?

        The age key orders the pairs to check: never checked first, then
        the oldest verdicts.
        """
        entry = self._entry(dev_key, str_key, ident)
        if entry is None:
            return True, 0.0
        now = self.clock() if now is None else now
        return self._recheck_due(dev_key, str_key, entry, now), entry.at

    def pending(self, devices, str_keys, budget, now=None,
                should_stop=None):
        """The pairs to check this cycle, and how many more wait.

        ``devices``: ``(device key, identity, payload)``; ``str_keys``:
        the catalog's string keys.  Returns ``(pairs, behind)``: at most
        ``budget`` ``(payload, device key, identity, string key)``, never
        checked first (by device key, then string key), then the oldest
        verdicts due for a recheck; and the count of due pairs left for
        later cycles.  Time and memory grow with the verdicts recorded for
        these devices and the budget, not with devices times strings: the
        pairs never checked are enumerated lazily, and only as far as the
        budget reaches.
        """
        now = self.clock() if now is None else now
        should_stop = should_stop or (lambda: False)
        wanted = set(str_keys)
        ordered = sorted(str_keys)
        known, recheck = {}, []
        for dev_key, ident, payload in devices:
            count = 0
            for str_key, entry in self._devices.get(dev_key, {}).items():
                if entry.identity != ident or str_key not in wanted:
                    continue
                count += 1
                if self._recheck_due(dev_key, str_key, entry, now):
                    recheck.append((entry.at, dev_key, str_key, ident,
                                    payload))
            known[dev_key] = count
        fresh_due = sum(len(wanted) - known[dev_key]
                        for dev_key, _i, _p in devices)
        pairs = []
        for dev_key, ident, payload in sorted(devices,
                                              key=lambda d: d[0]):
            if len(pairs) >= budget:
                break
            if known[dev_key] == len(wanted):
                continue
            if should_stop():
                raise exception.Stopped('stopped while choosing the '
                                        'checks to run')
            entries = self._devices.get(dev_key, {})
            for str_key in ordered:
                entry = entries.get(str_key)
                if entry is None or entry.identity != ident:
                    pairs.append((payload, dev_key, ident, str_key))
                    if len(pairs) >= budget:
                        break
        left = budget - len(pairs)
        if left > 0 and recheck:
            pairs.extend((payload, dev_key, ident, str_key)
                         for _at, dev_key, str_key, ident, payload in
                         heapq.nsmallest(left, recheck,
                                         key=lambda r: r[:3]))
        return pairs, fresh_due + len(recheck) - len(pairs)

    def put(self, dev_key, str_key, ident, result, now=None):
        """Record a verdict; "unknown" is never recorded."""
        if result not in _DEFINITE:
            return
        now = self.clock() if now is None else now
        self._devices.setdefault(dev_key, {})[str_key] = Entry(result, now,
                                                               ident)
        self._dirty = True

    def results(self, dev_key, ident, now=None):
        """``{string key: result}`` of a device's verdicts in force."""
        now = self.clock() if now is None else now
        return {str_key: entry.result for str_key, entry
                in self._devices.get(dev_key, {}).items()
                if entry.identity == ident and self._in_force(entry, now)}

    def acceptances(self, now=None):
        """The acceptances in force, in one pass over the record.

        ``{(device key, identity): {string keys}}``.
        """
        now = self.clock() if now is None else now
        found = {}
        for dev, entries in self._devices.items():
            for str_key, entry in entries.items():
                if entry.result == verdict_mod.ACCEPTS and \
                        self._in_force(entry, now):
                    found.setdefault((dev, entry.identity), set()).add(
                        str_key)
        return found

    def keep_only(self, dev_keys, str_keys):
        """Forget devices that are gone and strings no longer in use."""
        for dev in [d for d in self._devices if d not in dev_keys]:
            del self._devices[dev]
            self._dirty = True
        for entries in self._devices.values():
            gone = [k for k in entries if k not in str_keys]
            for key in gone:
                del entries[key]
            if gone:
                self._dirty = True
