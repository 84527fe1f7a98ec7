"""Load the format plugins and parse a string with the first that fits."""

import functools

from stevedore import extension

from nova_migcompat import compat_string
from nova_migcompat import exception

NAMESPACE = 'nova_migcompat.formats'


@functools.lru_cache(maxsize=None)
def _formats():
    manager = extension.ExtensionManager(NAMESPACE, invoke_on_load=True)
    return tuple(sorted((ext.obj for ext in manager),
                        key=lambda fmt: (fmt.priority, fmt.name)))


def parse(text, where=None):
    """Parse a compatibility string with the first format that sniffs it.

    :param where: what the string belongs to (a sysfs path, a trait), for
        error messages.
    :raises InvalidCompatString: if ``text`` is not a valid string.
    :raises ParseError: if the format that recognised it finds it
        malformed; the message names ``where`` and the format.
    """
    compat_string.validate(text, where)
    for fmt in _formats():
        if fmt.sniff(text):
            try:
                return fmt.parse(text)
            except exception.ParseError as e:
                prefix = '' if where is None else '%s: ' % where
                raise exception.ParseError('%smalformed %s string: %s' % (
                    prefix, fmt.name, e)) from None
    raise exception.ParseError('%sno string format recognises %r' % (
        '' if where is None else '%s: ' % where, text[:60]))


def summary(text):
    """A one-line description of a string, for tables and log lines."""
    try:
        return parse(text).summary()
    except exception.MigCompatError:
        return 'malformed string'
