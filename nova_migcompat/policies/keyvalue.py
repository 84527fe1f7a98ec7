"""The key=value policy: a target's ``compatible`` sections decide.

The source's exact ``self`` mapping (recovered from its text, see
:func:`nova_migcompat.formats.keyvalue.self_mapping`) must satisfy at least
one ``compatible`` section of the target.
"""

from nova_migcompat.formats import base as format_base
from nova_migcompat.formats import keyvalue
from nova_migcompat.policies import base


def _closest(results):
    """The failure that got furthest, and its section number."""
    number, result = max(enumerate(results, 1),
                         key=lambda item: (item[1].matched, -item[0]))
    return number, result


class KeyValuePolicy(base.AcceptancePolicy):
    """Accept iff the source's ``self`` matches a target ``compatible``."""

    name = 'keyvalue'
    formats = (format_base.FORMAT_KEYVALUE,)

    def decide(self, source, target):
        for side, parsed in (('source', source), ('target', target)):
            if parsed.format != format_base.FORMAT_KEYVALUE:
                return base.Decision(
                    None, 'keyvalue policy cannot tell: %s is a %s string'
                    % (side, parsed.format))
        if not target.compatible:
            return base.Decision(None, 'keyvalue policy cannot tell: target'
                                 ' has no compatible: section')
        self_attrs = keyvalue.self_mapping(source)
        results = []
        for number, section in enumerate(target.compatible, 1):
            result = keyvalue.match(self_attrs, section)
            if result.ok:
                return base.Decision(True, 'compatible section %d: %s' % (
                    number, result.reason))
            results.append(result)
        if len(results) == 1:
            return base.Decision(False, results[0].reason)
        number, result = _closest(results)
        return base.Decision(False, 'no compatible section matches; closest'
                             ' (section %d): %s' % (number, result.reason))
