"""The trait codec: compatibility strings <-> custom placement traits.

A string S becomes a *token*, and the token becomes one of two traits:

* ``CUSTOM_MIGCOMPAT_SRC_<token>``: a device on this provider produces S;
* ``CUSTOM_MIGCOMPAT_ACC_<token>``: a device on this provider accepts S in
  the target-side ``migration_version`` write check.

Tokens decode back to the exact string, so the set of SRC traits in
placement *is* the fleet's catalog of strings: no other store is needed.

Token layout: ``<version><scheme><payload>``, all in ``[0-9A-Z]``:

* version ``1``, scheme ``P`` (packed): the string, read as a number in
  base 97 over :data:`compat_string.ALPHABET` behind a leading 1, written in
  base 36.  Every string of up to :data:`MAX_PACKED_CHARS` characters fits.
* version ``1``, scheme ``D`` (deflated): raw DEFLATE of the string with the
  preset dictionary :data:`_ZDICT_V1`, behind a leading 0x01 byte, written
  in base 36.  Longer strings fit when they compress well enough (JSON
  descriptors usually do).

The encoder takes the shorter of the two (``P`` on a tie).  Decoding is
exact for both.  A new encoding takes a new version or scheme character;
decoders refuse ones they do not know, so old agents ignore new tokens
instead of misreading them.
"""

import re
import string
import zlib

from nova_migcompat import compat_string
from nova_migcompat import exception

PREFIX = 'CUSTOM_MIGCOMPAT_'
SRC = 'SRC'
ACC = 'ACC'
#: The roles of a token: the string's producers and acceptors.
ROLES = (SRC, ACC)
#: ``CUSTOM_MIGCOMPAT_NOSRC_<REASON>``: the agent manages a device of
#: this provider that has no string it can vouch for (see :data:`REASONS`).
NOSRC = 'NOSRC'
#: ``CUSTOM_MIGCOMPAT_AGENT_<identity>``: on a compute node's root
#: provider, the agent that reports the node.
AGENT = 'AGENT'
#: ``CUSTOM_MIGCOMPAT_REPORTED``: on a compute node's root provider, an
#: agent reports the node (one trait for every node: one listing finds
#: them all).
REPORTED = 'REPORTED'
#: ``CUSTOM_MIGCOMPAT_CLAIM_<identity>``: on a compute node's root
#: provider, another agent (another host) claims the node that the
#: AGENT's agent reports: a conflict for an operator to resolve.
CLAIM = 'CLAIM'
#: Every kind of trait of ours; anything else under :data:`PREFIX` is
#: not ours (:func:`parse_trait`).
KINDS = ROLES + (NOSRC, AGENT, REPORTED, CLAIM)
SRC_PREFIX = PREFIX + SRC + '_'
ACC_PREFIX = PREFIX + ACC + '_'
NOSRC_PREFIX = PREFIX + NOSRC + '_'
AGENT_PREFIX = PREFIX + AGENT + '_'
CLAIM_PREFIX = PREFIX + CLAIM + '_'
REPORTED_TRAIT = PREFIX + REPORTED

#: Why a managed device has no string, as its NOSRC trait says it.
NO_STRING = 'NOSTRING'
UNREADABLE = 'UNREADABLE'
UNPUBLISHABLE = 'UNPUBLISHABLE'
NOT_MIGRATABLE = 'NOTMIGRATABLE'
NO_DEVICE = 'NODEVICE'
UNKNOWN = 'UNKNOWN'
#: The reasons, in words (an operator's log line; a reason of a newer
#: release is shown by its code).
REASONS = {
    NO_STRING: 'it has no migration_version attribute and no descriptor '
               'is synthesized ([migcompat]synthesize_descriptors)',
    UNREADABLE: 'its compatibility string cannot be read',
    UNPUBLISHABLE: 'its compatibility string is too long to publish',
    NOT_MIGRATABLE: 'its driver says it cannot migrate its state',
    NO_DEVICE: "the agent finds no device of Nova's for this provider",
    UNKNOWN: 'its device source cannot tell',
}
_REASON = re.compile(r'[A-Z][A-Z0-9]{0,31}\Z')
_IDENTITY = re.compile(r'[0-9A-Z]{8,40}\Z')

#: Placement's limit on a trait name.
MAX_TRAIT_LEN = 255
MAX_TOKEN_LEN = MAX_TRAIT_LEN - len(SRC_PREFIX)

_VERSION = '1'
_PACKED = 'P'
_DEFLATED = 'D'
_HEADER_LEN = 2
_MAX_PAYLOAD_LEN = MAX_TOKEN_LEN - _HEADER_LEN

_DIGITS36 = string.digits + string.ascii_uppercase
#: Every character a token may hold.
TOKEN_ALPHABET = _DIGITS36
_VALUE36 = {c: i for i, c in enumerate(_DIGITS36)}
_BASE = len(compat_string.ALPHABET)
_INDEX = {c: i for i, c in enumerate(compat_string.ALPHABET)}
_MAX_PAYLOAD = 36 ** _MAX_PAYLOAD_LEN


def _max_packed_chars():
    # The largest packed number of n characters is 2 * 97**n - 1.
    n = 0
    while 2 * _BASE ** (n + 1) <= _MAX_PAYLOAD:
        n += 1
    return n


#: The longest string that always fits, whatever its characters.
MAX_PACKED_CHARS = _max_packed_chars()

# Substrings common in the formats of the kernel thread; the most frequent
# last (DEFLATE reaches the end of the dictionary with shorter distances).
# Changing this changes the meaning of version-1 D tokens: never edit it,
# add a new version instead.
_ZDICT_V1 = (
    b'nvidia-i915-GVTg_V5_hisi_acc_vfio_pci-mlx5_vfio_pci-qat-'
    b'software_version=compatible_type=compatible_pci_ids='
    b'interface_version=device_type=pci\n\tdevice_id=aggregator={val1}'
    b'\nself:\n\tmdev_type=\ncompatible:\n\t{val1:int:'
    b'"vendor_fields":[{"'
    b'"mdev_attrs":[{"mdev_type":"'
    b'{"device_api":"vfio-pci","vendor":"'
    b'","version":{"major":'
    b',"minor":'
    b'},"vfio-pci":{"vendor":'
    b',"device":'
)


def _to_base36(number):
    digits = []
    while number:
        number, rem = divmod(number, 36)
        digits.append(_DIGITS36[rem])
    return ''.join(reversed(digits))


def _from_base36(payload, token):
    if not payload:
        raise exception.InvalidToken('token %r has no payload' % token)
    if payload[0] == '0':
        raise exception.InvalidToken(
            'token %r is not canonical (leading zero)' % token)
    number = 0
    for char in payload:
        try:
            number = number * 36 + _VALUE36[char]
        except KeyError:
            raise exception.InvalidToken(
                'token %r has a character outside [0-9A-Z]: %r'
                % (token, char))
    return number


def _pack(text):
    number = 1
    for char in text:
        number = number * _BASE + _INDEX[char]
    return _to_base36(number)


def _unpack(number, token):
    chars = []
    while number > 1:
        if len(chars) > compat_string.MAX_BYTES:
            break
        number, rem = divmod(number, _BASE)
        chars.append(compat_string.ALPHABET[rem])
    if number != 1:
        raise exception.InvalidToken('token %r is not a packed string'
                                     % token)
    return ''.join(reversed(chars))


def _deflate(text):
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY,
                            _ZDICT_V1)
    data = comp.compress(text.encode('ascii')) + comp.flush()
    return _to_base36(int.from_bytes(b'\x01' + data, 'big'))


def _inflate(number, token):
    data = number.to_bytes((number.bit_length() + 7) // 8, 'big')
    if data[:1] != b'\x01':
        raise exception.InvalidToken('token %r is not a deflated string'
                                     % token)
    decomp = zlib.decompressobj(-15, _ZDICT_V1)
    try:
        out = decomp.decompress(data[1:], compat_string.MAX_BYTES + 1)
    except zlib.error as e:
        raise exception.InvalidToken('token %r does not inflate: %s'
                                     % (token, e))
    if not decomp.eof or decomp.unconsumed_tail or decomp.unused_data:
        raise exception.InvalidToken(
            'token %r does not inflate to one bounded string' % token)
    try:
        return out.decode('ascii')
    except UnicodeDecodeError:
        raise exception.InvalidToken('token %r inflates to non-ASCII bytes'
                                     % token)


def encode(text):
    """Return the token of a compatibility string.

    :raises InvalidCompatString: ``text`` is not a valid string.
    :raises UnpublishableString: ``text`` is valid but too long to encode.
    """
    compat_string.validate(text)
    candidates = []
    if len(text) <= _MAX_PAYLOAD_LEN * 2:
        candidates.append(_VERSION + _PACKED + _pack(text))
    candidates.append(_VERSION + _DEFLATED + _deflate(text))
    token = min(candidates, key=len)
    if len(token) > MAX_TOKEN_LEN:
        raise exception.UnpublishableString(
            'a %d-character compatibility string does not fit in a trait '
            '(its token needs %d characters, at most %d fit; strings of up '
            'to %d characters always fit, longer ones when they compress)'
            % (len(text), len(token), MAX_TOKEN_LEN, MAX_PACKED_CHARS))
    return token


def decode(token):
    """Return the exact string a token stands for.

    :raises InvalidToken: the token is malformed, of an unknown version, or
        does not decode to a valid compatibility string.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LEN:
        raise exception.InvalidToken('token is not a string of at most %d '
                                     'characters' % MAX_TOKEN_LEN)
    header, payload = token[:_HEADER_LEN], token[_HEADER_LEN:]
    if header == _VERSION + _PACKED:
        text = _unpack(_from_base36(payload, token), token)
    elif header == _VERSION + _DEFLATED:
        text = _inflate(_from_base36(payload, token), token)
    else:
        raise exception.InvalidToken(
            'token %r has an unknown codec version/scheme %r'
            % (token[:40], header))
    try:
        return compat_string.validate(text)
    except exception.InvalidCompatString as e:
        raise exception.InvalidToken('token %r decodes to an invalid string: '
                                     '%s' % (token[:40], e.reason))


def is_token(text):
    """Is ``text`` shaped like a token of any codec version?

    Unlike :func:`decode`, this does not need to know the version: a
    token of a newer release is still in our namespace (see
    :func:`problem`, which tells why one does not decode).
    """
    return (isinstance(text, str) and _HEADER_LEN < len(text) <=
            MAX_TOKEN_LEN and all(c in TOKEN_ALPHABET for c in text))


#: The token headers (version and scheme) this release decodes.
HEADERS = (_VERSION + _PACKED, _VERSION + _DEFLATED)
#: The newest codec version this release knows.  A new scheme always
#: comes with a new version digit, so a token whose version digit is
#: larger comes from a newer release; any other header that this release
#: does not decode belongs to no release.
NEWEST_VERSION = _VERSION
#: :func:`problem`'s kinds.
CORRUPT = 'corrupt'
NEWER = 'newer'


def problem(token):
    """Why a token does not decode: None, or ``(kind, words)``.

    ``kind`` is :data:`NEWER` for a token of a newer release (its version
    digit is larger than this release's: upgrade the scheduler and the
    tools before the agents), :data:`CORRUPT` for one this release should
    decode but cannot (a header it knows with a payload that does not
    decode, or a header of no release: damaged or planted).
    """
    header = token[:_HEADER_LEN] if isinstance(token, str) else ''
    if header[:1].isdigit() and header[:1] > NEWEST_VERSION:
        return NEWER, ('of codec version %s, from a newer release of '
                       'nova-migcompat (this one decodes %s): upgrade the '
                       'schedulers and the operator tools before the '
                       'agents' % (header, ', '.join(HEADERS)))
    try:
        decode(token)
    except exception.InvalidToken as e:
        return CORRUPT, ('corrupt: %s' % e if header in HEADERS else
                         'corrupt: its header %r is of no codec version '
                         '(this release decodes %s)'
                         % (header, ', '.join(HEADERS)))
    return None


def describe(token):
    """The string of a token, or words saying why it does not decode."""
    try:
        return decode(token)
    except exception.InvalidToken:
        return '(token %s..., %s)' % (token[:16], problem(token)[1])


def trait(role, token):
    """The trait name of a token in a role (:data:`SRC` or :data:`ACC`)."""
    if role not in ROLES:
        raise ValueError('unknown role %r' % role)
    return PREFIX + role + '_' + token


def nosrc_trait(reason):
    """The NOSRC trait of a reason (one of :data:`REASONS`)."""
    if reason not in REASONS:
        raise ValueError('unknown reason %r' % reason)
    return NOSRC_PREFIX + reason


def agent_trait(identity):
    """The AGENT trait of an agent identity (8 to 40 of ``[0-9A-Z]``)."""
    if not _IDENTITY.match(identity):
        raise ValueError('not an agent identity: %r' % identity)
    return AGENT_PREFIX + identity


def claim_trait(identity):
    """The CLAIM trait of an agent identity."""
    if not _IDENTITY.match(identity):
        raise ValueError('not an agent identity: %r' % identity)
    return CLAIM_PREFIX + identity


def identities(traits):
    """The identities of a root's AGENT and of its CLAIM traits.

    ``(reporting, claiming)``, as sorted lists.
    """
    found = {AGENT: set(), CLAIM: set()}
    for name in traits:
        parsed = parse_trait(name)
        if parsed and parsed[0] in found:
            found[parsed[0]].add(parsed[1])
    return sorted(found[AGENT]), sorted(found[CLAIM])


def reason_words(reason):
    """A NOSRC reason in words."""
    return REASONS.get(reason, 'reason %s (of a newer release)' % reason)


def parse_trait(name):
    """Split one of our trait names into ``(kind, body)``, exactly.

    ``kind`` is one of :data:`KINDS`; ``body`` is the token of a SRC or
    ACC trait (shaped like a token of any version), the reason of a NOSRC
    trait, the identity of an AGENT or CLAIM trait, empty for REPORTED.
    Returns None for any name that is not exactly one of ours, whatever it
    starts with: placement's ``name=startswith:`` listing is an SQL
    ``LIKE``, in which ``_`` is any character, so a listing of our prefix
    may hold names of others.
    """
    if not isinstance(name, str) or len(name) > MAX_TRAIT_LEN or \
            not name.startswith(PREFIX):
        return None
    if name == REPORTED_TRAIT:
        return REPORTED, ''
    kind, sep, body = name[len(PREFIX):].partition('_')
    if not sep:
        return None
    if kind in ROLES:
        return (kind, body) if is_token(body) else None
    if kind == NOSRC:
        return (kind, body) if _REASON.match(body) else None
    if kind in (AGENT, CLAIM):
        return (kind, body) if _IDENTITY.match(body) else None
    return None


def is_ours(name):
    """Is ``name`` exactly one of nova-migcompat's traits?"""
    return parse_trait(name) is not None


def decode_trait(name):
    """Return ``(role, token, string)`` of one of our SRC or ACC traits.

    :raises InvalidToken: not one of our SRC or ACC traits, or its token
        does not decode (:func:`problem` says why).
    """
    parsed = parse_trait(name)
    if parsed is None or parsed[0] not in ROLES:
        raise exception.InvalidToken(
            '%r is not a nova-migcompat trait (%sSRC_... or %sACC_...)'
            % (name[:60], PREFIX, PREFIX))
    role, token = parsed
    return role, token, decode(token)
