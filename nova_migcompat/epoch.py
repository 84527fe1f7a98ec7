"""The withdrawal epoch: placement's proof that no acceptance was withdrawn.

A scheduler keeps the list of providers that accept a source string for a
few seconds (``[migcompat]acceptance_cache_seconds``): a burst of live
migrations of one device model then reads it once.  Placement has no
generation for "the providers with this trait", so the list alone cannot
tell that an agent withdrew one of its acceptances since.  The epoch can:

* it is the ``(name, generation)`` of one resource provider of
  nova-migcompat's own, at the fixed uuid :data:`EPOCH_UUID` and named
  ``nova-migcompat-epoch-<nonce>`` (a root without inventory: Nova never
  schedules to it, and no other tool writes it);
* an agent whose cycle withdraws an acceptance it cannot still back moves
  the epoch in the same cycle, after the withdrawal, before the cycle
  counts as done (:func:`move`); so does ``nova-migcompat purge``;
* the filter reads the epoch once per live-migration request, before any
  list, and reuses a list only when it was read under the same epoch
  (:mod:`nova_migcompat.scheduler.cache`).

Moving it sets the provider's (empty) aggregates with its generation:
placement increments the generation, always.  A write that conflicts
proves that someone moved it after our withdrawal, which is all a
withdrawal needs.  When the provider is deleted and created again, its
generation starts again from 0, but its name gets a new nonce: an epoch
never comes back.  While the provider does not exist, the filter keeps no
list at all.

What needs no move: an acceptance withdrawn because its string left the
fleet's catalog while the device's verdict still backs it (housekeeping:
the claim stayed true).  Such an acceptance may survive in a scheduler's
list; it is used only if the string comes back, and only while the device
keeps the identity it accepted with: any change of a device's identity,
and a device that goes away, move the epoch too (see
:mod:`nova_migcompat.agent.reporter`).
"""

import uuid as uuid_mod

from oslo_log import log as logging

from nova_migcompat import exception

LOG = logging.getLogger(__name__)

#: The epoch provider's uuid, the same in every deployment.
EPOCH_UUID = str(uuid_mod.uuid5(
    uuid_mod.NAMESPACE_URL,
    'https://opendev.org/openstack/nova-migcompat/withdrawal-epoch'))
#: Its name, before a nonce chosen when it is created.
NAME_PREFIX = 'nova-migcompat-epoch-'
#: Creations and reads before :func:`move` gives up.
ATTEMPTS = 4


def read(client):
    """The current epoch, ``(name, generation)``; None while there is none.

    :raises PlacementError: placement cannot be read.
    """
    provider = client.provider(EPOCH_UUID)
    if provider is None:
        return None
    return provider.get('name'), provider['generation']


def _create(client):
    name = NAME_PREFIX + uuid_mod.uuid4().hex
    if client.create_provider(EPOCH_UUID, name):
        LOG.info('Created the withdrawal epoch provider %s (%s)', name,
                 EPOCH_UUID)


def move(client):
    """Move the epoch on (creating its provider first if there is none).

    Call it after the withdrawals it announces have been written.

    :returns: the placement requests that wrote.
    :raises PlacementError: placement could not be written: the
        withdrawals are not announced yet (call it again).
    """
    writes = 0
    for _attempt in range(ATTEMPTS):
        provider = client.provider(EPOCH_UUID)
        if provider is None:
            _create(client)
            writes += 1
            continue
        writes += 1
        try:
            client.touch_provider(EPOCH_UUID, provider['generation'])
        except exception.GenerationConflict:
            # Someone moved it after our withdrawal: it is announced.
            pass
        except exception.NotFound:
            continue
        return writes
    raise exception.PlacementError(
        'cannot move the withdrawal epoch (provider %s): it disappeared %d '
        'times in a row' % (EPOCH_UUID, ATTEMPTS))
