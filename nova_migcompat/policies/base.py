"""The acceptance policy interface."""

import abc
import dataclasses
import typing


@dataclasses.dataclass(frozen=True)
class Decision:
    """``accepts`` is True, False, or None when the policy cannot tell."""

    accepts: typing.Optional[bool]
    reason: str


class AcceptancePolicy(metaclass=abc.ABCMeta):
    """Decides whether a target device would accept a source's state."""

    name = None
    #: The string formats (``nova_migcompat.formats`` names) this policy
    #: judges: a target string of one of them is decided by this policy.
    formats = ()

    @abc.abstractmethod
    def decide(self, source, target):
        """Decide from two :class:`~nova_migcompat.formats.base.ParsedString`.

        Returns a :class:`Decision` whose reason reads well in a log line,
        e.g. ``driver nvidia 1.3 cannot accept 2.0: target minor is older``.
        """
