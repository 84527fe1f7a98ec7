"""The target-side check: would a local device accept a source's state?

For a device with a ``migration_version`` attribute the kernel decides: the
source string is written into the attribute and the write's errno is the
answer.  For a device with a synthesized descriptor, the configured
acceptance policy stands in for the vendor driver.

Only ``ACCEPTS`` may ever be published as acceptance; ``UNKNOWN`` (busy
device, vanished device, a refused unsafe write) keeps whatever was
published before.
"""

import dataclasses
import errno

from oslo_log import log as logging

from nova_migcompat.agent import device as device_mod
from nova_migcompat.agent import sysfs as sysfs_mod
from nova_migcompat import exception
from nova_migcompat import formats
from nova_migcompat import policies

LOG = logging.getLogger(__name__)

ACCEPTS = 'accepts'
REFUSES = 'refuses'
UNKNOWN = 'unknown'

#: Try again next cycle: the device is busy, or went away while we looked.
TRANSIENT_ERRNOS = frozenset([
    errno.EBUSY, errno.EAGAIN, errno.EINTR, errno.EIO, errno.ENOENT,
    errno.ENODEV, errno.ENXIO, errno.ETIMEDOUT])
#: Our own fault (not root, read-only mount): says nothing about the device.
PERMISSION_ERRNOS = frozenset([errno.EACCES, errno.EPERM, errno.EROFS])


@dataclasses.dataclass(frozen=True)
class Verdict:
    result: str
    reason: str

    @property
    def accepts(self):
        return self.result == ACCEPTS


def kernel_check(sysfs, device, text):
    """Write ``text`` into the device's attribute: the errno answers."""
    try:
        sysfs.write_migration_version(device.attribute, text)
    except exception.UnsafeWrite as e:
        LOG.error('Refusing the target-side check of %s: %s', device.name, e)
        return Verdict(UNKNOWN, 'unsafe write refused: %s' % e.reason)
    except exception.OutsideRoot as e:
        return Verdict(UNKNOWN, str(e))
    except OSError as e:
        name = sysfs_mod.errno_name(e.errno)
        if e.errno in TRANSIENT_ERRNOS:
            return Verdict(UNKNOWN, 'write failed with %s (transient, '
                           'retried next cycle)' % name)
        if e.errno in PERMISSION_ERRNOS:
            LOG.error('Cannot write %s: %s; the agent must run as root',
                      device.attribute, name)
            return Verdict(UNKNOWN, 'write failed with %s (not permitted)'
                           % name)
        return Verdict(REFUSES, 'the %s driver refused the string (%s)'
                       % (device.facts.get('driver', 'device'), name))
    return Verdict(ACCEPTS, 'the %s driver accepted the string'
                   % device.facts.get('driver', 'device'))


def policy_check(device, text, policy):
    """Decide acceptance of a synthesized descriptor by policy."""
    if text == device.string:
        # Same driver, version (or kernel release), ids and type.
        return Verdict(ACCEPTS, 'identical descriptor')
    try:
        source = formats.parse(text)
        target = formats.parse(device.string, where=device.name)
    except exception.MigCompatError as e:
        return Verdict(REFUSES, 'cannot compare: %s' % e)
    decision = policy.decide(source, target)
    if decision.accepts is None:
        return Verdict(UNKNOWN, decision.reason)
    return Verdict(ACCEPTS if decision.accepts else REFUSES,
                   decision.reason)


def check(sysfs, device, text, policy=None):
    """Would ``device`` accept the state of a device whose string is text?

    :param sysfs: the :class:`~nova_migcompat.agent.sysfs.Sysfs` of the device.
    :param policy: the acceptance policy for synthesized descriptors
        (default: the ``rules`` policy).
    """
    if not device.tracked:
        return Verdict(UNKNOWN, 'device has no usable string: %s'
                       % (device.error or 'not tracked'))
    if device.origin == device_mod.FROM_ATTRIBUTE:
        return kernel_check(sysfs, device, text)
    return policy_check(device, text,
                        policy or policies.get_policy('rules'))
