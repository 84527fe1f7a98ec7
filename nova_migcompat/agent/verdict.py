"""The answer of a target-side check, and what may be published of it.

Only :data:`ACCEPTS` may ever be published as acceptance; :data:`UNKNOWN`
(a busy or vanished device, a refused unsafe write, a policy that cannot
tell) keeps whatever was published before, and is never turned into an
acceptance.
"""

import dataclasses

ACCEPTS = 'accepts'
REFUSES = 'refuses'
UNKNOWN = 'unknown'


@dataclasses.dataclass(frozen=True)
class Verdict:
    """``result`` is ACCEPTS, REFUSES or UNKNOWN; ``reason`` says why."""

    result: str
    reason: str

    @property
    def accepts(self):
        return self.result == ACCEPTS


def from_decision(decision):
    """The Verdict of an acceptance policy's Decision."""
    if decision.accepts is None:
        return Verdict(UNKNOWN, decision.reason)
    return Verdict(ACCEPTS if decision.accepts else REFUSES, decision.reason)
