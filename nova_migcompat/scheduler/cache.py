"""What a scheduler process remembers between live-migration requests.

Three caches, one per scheduler process (filter objects are created per
request, so the caches are module-level):

* :data:`SOURCE_TRAITS`, exact: a provider's nova-migcompat traits, keyed
  by its uuid and generation.  Placement bumps a provider's generation on
  every change of its traits, and a migration's allocations carry each
  provider's generation, so an entry is used only while it is provably
  current.
* :data:`ACCEPTING`, timed: the providers accepting one source string, for
  ``[migcompat]acceptance_cache_seconds``.  Placement has no generation for
  "who carries this trait", so this one is stale for up to that long; the
  option's help says what that means.
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
    """``key -> (listing, when read)`` for a number of seconds.

    A listing is a mapping whose length counts against ``most``, the
    providers held in all.  Concurrent misses of one key may both read
    placement; the later answer is kept.

    :param clock: seconds, monotonic (replaceable in tests).
    """

    def __init__(self, entries, clock=time.monotonic):
        self.entries = entries
        self.clock = clock
        self._listings = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, seconds):
        """``(listing, age in seconds)`` if read less than ``seconds`` ago.

        Else None (and a stale entry is forgotten).
        """
        if seconds <= 0:
            return None
        with self._lock:
            found = self._listings.get(key)
            if found is None:
                return None
            age = self.clock() - found[1]
            if not 0 <= age < seconds:
                del self._listings[key]
                return None
            return found[0], age

    def put(self, key, listing, seconds, most):
        """Keep ``listing`` (unless caching is off or it cannot fit)."""
        if seconds <= 0 or len(listing) > most:
            return
        with self._lock:
            self._listings.pop(key, None)
            self._listings[key] = (listing, self.clock())
            held = sum(len(found[0]) for found in self._listings.values())
            while held > most or len(self._listings) > self.entries:
                _key, (old, _when) = self._listings.popitem(last=False)
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
