"""Errors raised by nova-migcompat.

Every error names what was wrong and where (a sysfs path, a trait name), so
that a log line is enough to find the device or the placement record.
"""


class MigCompatError(Exception):
    """Base class of every nova-migcompat error."""


class InvalidCompatString(MigCompatError):
    """A compatibility string is not one the kernel interface allows."""

    def __init__(self, reason, where=None):
        self.reason = reason
        self.where = where
        msg = reason if where is None else '%s: %s' % (where, reason)
        super().__init__(msg)


class UnpublishableString(MigCompatError):
    """A valid compatibility string is too long to become a trait."""


class InvalidToken(MigCompatError):
    """A trait or token does not decode to a compatibility string."""


class ParseError(MigCompatError):
    """A compatibility string does not parse in a given format."""


class SysfsError(MigCompatError):
    """A sysfs entry could not be read safely."""

    def __init__(self, path, reason):
        self.path = path
        self.reason = reason
        super().__init__('%s: %s' % (path, reason))


class OutsideRoot(SysfsError):
    """A path, or a link it goes through, leads out of the sysfs root."""


class UnsafeWrite(SysfsError):
    """A write target is not a migration_version attribute we may write."""


class SysfsRootError(SysfsError):
    """The sysfs root is not a mounted sysfs (or FUSE) tree.

    ``path`` is the root itself, absolute.  Discovery fails: an unmounted
    or mistyped root must not look like a host without devices.
    """


class PlacementError(MigCompatError):
    """Placement answered something we cannot work with."""

    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status


class ResponseTooLarge(PlacementError):
    """Placement's answer is larger than the client reads."""


class TooManyProviders(ResponseTooLarge):
    """A provider listing holds more providers than the client reads."""

    def __init__(self, message, most):
        super().__init__(message)
        self.most = most


class PlacementNotConfigured(PlacementError):
    """No ``[placement]`` credentials or endpoint are configured."""


class PlacementUnavailable(PlacementError):
    """Placement could not be reached, or failed (5xx): try again later."""


class NotFound(PlacementError):
    """A resource provider or trait does not exist (any more)."""


class GenerationConflict(PlacementError):
    """A provider changed between our read and our write (409)."""


class RootProviderNotFound(MigCompatError):
    """The compute node's root resource provider is not in placement."""


class NodeClaimed(MigCompatError):
    """Another agent (another host) reports this node: publish nothing."""


class Stopped(MigCompatError):
    """The agent was asked to stop: the cycle ends before its next write."""


class DeadlineExceeded(MigCompatError):
    """A device call did not answer in time, or an earlier one still hangs.

    Whatever the call would have answered is discarded: it is unknown.
    """

    def __init__(self, key, reason):
        self.key = key
        self.reason = reason
        super().__init__('%s: %s' % (key, reason))
