"""What a compatibility string may be.

The kernel proposal makes ``migration_version`` an ASCII attribute of at
most PATH_MAX (4096) bytes.  Everything that enters nova-migcompat (read from
sysfs, decoded from a trait, typed by an operator) goes through
:func:`from_bytes` or :func:`validate`, so the rest of the code can rely on
these bounds.
"""

from nova_migcompat import exception

MAX_BYTES = 4096

#: Printable ASCII plus tab and newline: the key=value form of the proposal
#: spans several lines; other control characters are refused.
ALPHABET = '\t\n' + ''.join(chr(c) for c in range(0x20, 0x7f))
_ALLOWED = frozenset(ALPHABET)


def validate(text, where=None):
    """Return ``text`` if it is a valid compatibility string, else raise.

    :raises InvalidCompatString: naming the first offending character.
    """
    if not isinstance(text, str):
        raise exception.InvalidCompatString(
            'expected str, got %s' % type(text).__name__, where)
    if not text:
        raise exception.InvalidCompatString('empty string', where)
    if len(text) > MAX_BYTES:
        raise exception.InvalidCompatString(
            '%d bytes, more than the %d allowed' % (len(text), MAX_BYTES),
            where)
    for pos, char in enumerate(text):
        if char not in _ALLOWED:
            if char == '\0':
                what = 'NUL byte'
            elif ord(char) > 0x7f:
                what = 'non-ASCII character %r' % char
            else:
                what = 'control character %r' % char
            raise exception.InvalidCompatString(
                '%s at offset %d' % (what, pos), where)
    return text


def from_bytes(data, where=None):
    """Turn raw attribute bytes into a validated string.

    One trailing newline (sysfs attributes end with one) is stripped.
    """
    if len(data) > MAX_BYTES + 1:
        raise exception.InvalidCompatString(
            'more than %d bytes' % MAX_BYTES, where)
    if data.endswith(b'\n'):
        data = data[:-1]
    try:
        text = data.decode('ascii')
    except UnicodeDecodeError as e:
        raise exception.InvalidCompatString(
            'non-ASCII byte 0x%02x at offset %d' % (data[e.start], e.start),
            where)
    return validate(text, where)
