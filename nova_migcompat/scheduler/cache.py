"""What a scheduler process remembers between live-migration requests.

Three caches, one per scheduler process (filter objects are created per
request, so the caches are module-level):

* :data:`SOURCE_TRAITS`, exact: a provider's nova-migcompat traits, keyed
  by its uuid and generation.  Placement bumps a provider's generation on
  every change of its traits, and a migration's allocations carry each
  provider's generation, so an entry is used only while it is provably
  current.
* :data:`ACCEPTING`: the providers accepting one source string, kept for
  ``[migcompat]acceptance_cache_seconds`` and used only under the
  withdrawal epoch it was read under (:mod:`nova_migcompat.epoch`): an
  agent that withdraws an acceptance moves the epoch in the same cycle,
  so a list is never used after a withdrawal it does not show.  Placement
  has no generation for "who carries this trait"; a destination that newly
  accepts is seen up to that many seconds later (fail closed).
* :data:`COMPUTE_NODES`: a host's compute node uuids, used only when the
  migration's allocations hold one of them (which proves it current).

All three are bounded: a number of entries, and for the listings a number
of providers in all (``[migcompat]max_accepting_providers``), the oldest
forgotten first.
"""

import collections
import threading
import time


class GenerationCache(object):
    """``(uuid, generation) -> value``, the least recently used forgotten.

    :param size: entries at most.
    """

    def __init__(self, size):
        self.size = size
        self._entries = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, uuid, generation):
        """The value stored for this generation of ``uuid``, or None."""
        if generation is None:
            return None
        with self._lock:
            key = (uuid, generation)
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, uuid, generation, value):
        if generation is None:
            return
        with self._lock:
            self._entries[(uuid, generation)] = value
            self._entries.move_to_end((uuid, generation))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self):
        with self._lock:
            self._entries.clear()


class ListingCache(object):
    """``key -> (listing, epoch, when read)`` for a number of seconds.

    A listing is a mapping whose length counts against ``most``, the
    providers held in all.  It is used only under the epoch it was read
    under (None, no epoch: never kept).  Concurrent misses of one key may
    both read placement; the later answer is kept.

    :param clock: seconds, monotonic (replaceable in tests).
    """

    def __init__(self, entries, clock=time.monotonic):
        self.entries = entries
        self.clock = clock
        self._listings = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, seconds, epoch):
        """``(listing, age)`` if read under ``epoch`` within ``seconds``.

        Else None (and an entry of another epoch, or too old, is
        forgotten).
        """
        if seconds <= 0 or epoch is None:
            return None
        with self._lock:
            found = self._listings.get(key)
            if found is None:
                return None
            age = self.clock() - found[2]
            if found[1] != epoch or not 0 <= age < seconds:
                del self._listings[key]
                return None
            return found[0], age

    def put(self, key, listing, seconds, most, epoch):
        """Keep ``listing``, read under ``epoch`` (read before it).

        Not kept when caching is off, there is no epoch, or it cannot fit.
        """
        if seconds <= 0 or epoch is None or len(listing) > most:
            return
        with self._lock:
            self._listings.pop(key, None)
            self._listings[key] = (listing, epoch, self.clock())
            held = sum(len(found[0]) for found in self._listings.values())
            while held > most or len(self._listings) > self.entries:
                _key, (old, _epoch, _when) = self._listings.popitem(
                    last=False)
                held -= len(old)

    def clear(self):
        with self._lock:
            self._listings.clear()


#: Source providers' nova-migcompat traits by generation.  An entry is a
#: few hundred bytes; 4096 of them cover a burst of live migrations from
#: many hosts.
SOURCE_TRAITS = GenerationCache(4096)
#: Providers accepting a string: ``token ->``
#: :class:`~nova_migcompat.placement.ProviderRoots` (with its by-host index
#: once a request built it).  The filter checks at most 64 strings in one
#: request.
ACCEPTING = ListingCache(entries=64)
#: ``(cell uuid, host) -> (compute node uuid, ...)``.
COMPUTE_NODES = {}
#: Hosts remembered at most (then forgotten all at once).
MOST_HOSTS = 100000


def clear():
    """Forget everything (a scheduler process that just started)."""
    SOURCE_TRAITS.clear()
    ACCEPTING.clear()
    COMPUTE_NODES.clear()
