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

import hashlib
import re
import string
import uuid as uuid_mod
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
#: ``CUSTOM_MIGCOMPAT_VM_<instance>_<ref>``: on a device's provider, the
#: string of that instance's device (the instance's uuid in base 36, the
#: :func:`ref` of its string's id).
VM = 'VM'
#: Every kind of trait of ours; anything else under :data:`PREFIX` is
#: not ours (:func:`parse_trait`).
KINDS = ROLES + (NOSRC, AGENT, REPORTED, CLAIM, VM)
SRC_PREFIX = PREFIX + SRC + '_'
ACC_PREFIX = PREFIX + ACC + '_'
NOSRC_PREFIX = PREFIX + NOSRC + '_'
AGENT_PREFIX = PREFIX + AGENT + '_'
CLAIM_PREFIX = PREFIX + CLAIM + '_'
VM_PREFIX = PREFIX + VM + '_'
#: Characters of an instance uuid in base 36.
_UUID36_LEN = 25
_MARKER = re.compile(r'([0-9A-Z]{%d})_([0-9A-Z]{12})\Z' % _UUID36_LEN)
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


# Strings longer than one token -------------------------------------------

#: Version 2: a string longer than one token, published as numbered parts.
_MULTI = '2'
#: Characters of the digest that ties the parts of a string together.
DIGEST_LEN = 16
#: A long string's id: version, scheme, digest.  It names the string in
#: its ACC trait and in the instances' markers.
ID_LEN = 2 + DIGEST_LEN
#: A part: the id, the part's index and the count of parts (one base-36
#: digit each), then its share of the payload.
_PART_HEADER_LEN = ID_LEN + 2
_PART_PAYLOAD_LEN = MAX_TOKEN_LEN - _PART_HEADER_LEN
#: Parts of one string at most.
MAX_PARTS = 8


def _max_long_chars():
    # The largest packed number of n characters is 2 * 97**n - 1.
    most = 36 ** (MAX_PARTS * _PART_PAYLOAD_LEN)
    n = 0
    while 2 * _BASE ** (n + 1) <= most:
        n += 1
    return n


#: The longest string that always fits in :data:`MAX_PARTS` parts.
MAX_LONG_CHARS = _max_long_chars()


class Encoded(object):
    """A string as published: its id and the tokens of its SRC traits.

    A string that fits one token has that token for both; a longer one
    has the id ``2<scheme><digest>`` and its parts.
    """

    __slots__ = ('id', 'parts')

    def __init__(self, id_, parts):
        self.id = id_
        self.parts = tuple(parts)

    def __eq__(self, other):
        return isinstance(other, Encoded) and (self.id, self.parts) == (
            other.id, other.parts)

    def __hash__(self):
        return hash((self.id, self.parts))

    def __repr__(self):
        return 'Encoded(%r, %d parts)' % (self.id, len(self.parts))


def _digest(scheme, payload):
    """The digest of a long string's whole payload (and scheme)."""
    data = hashlib.sha256(('%s:%s' % (scheme, payload)).encode('ascii'))
    number = int.from_bytes(data.digest(), 'big')
    digits = []
    while len(digits) < DIGEST_LEN:
        number, rem = divmod(number, 36)
        digits.append(_DIGITS36[rem])
    return ''.join(digits)


def encode_string(text):
    """The :class:`Encoded` of a compatibility string.

    One token where it fits (version 1); else the shorter of its packed
    and deflated payloads cut into up to :data:`MAX_PARTS` parts of
    version 2, tied together by the digest of the whole payload.

    :raises InvalidCompatString: ``text`` is not a valid string.
    :raises UnpublishableString: it does not fit in :data:`MAX_PARTS`
        parts.
    """
    try:
        token = encode(text)
        return Encoded(token, (token,))
    except exception.UnpublishableString:
        pass
    candidates = [(_PACKED, _pack(text))] if \
        len(text) <= MAX_PARTS * _PART_PAYLOAD_LEN * 2 else []
    candidates.append((_DEFLATED, _deflate(text)))
    scheme, payload = min(candidates, key=lambda c: len(c[1]))
    count = -(-len(payload) // _PART_PAYLOAD_LEN)
    if count > MAX_PARTS:
        raise exception.UnpublishableString(
            'a %d-character compatibility string does not fit in %d traits '
            '(it needs %d parts; strings of up to %d characters always '
            'fit, longer ones when they compress)'
            % (len(text), MAX_PARTS, count, MAX_LONG_CHARS))
    id_ = _MULTI + scheme + _digest(scheme, payload)
    parts = [id_ + _DIGITS36[i] + _DIGITS36[count] +
             payload[i * _PART_PAYLOAD_LEN:(i + 1) * _PART_PAYLOAD_LEN]
             for i in range(count)]
    return Encoded(id_, parts)


def is_long_id(token):
    """Is ``token`` the id of a long string (``2<scheme><digest>``)?"""
    return (isinstance(token, str) and len(token) == ID_LEN and
            token[0] == _MULTI and token[1] in (_PACKED, _DEFLATED) and
            all(c in TOKEN_ALPHABET for c in token))


def is_part(token):
    """Is ``token`` shaped like a part of a long string?"""
    return (isinstance(token, str) and len(token) > _PART_HEADER_LEN and
            token[0] == _MULTI)


def is_group(key):
    """Is a key of :attr:`Assembled.problems` a long string's id?

    (Rather than a whole token: both are keys there.)
    """
    return (isinstance(key, str) and len(key) == ID_LEN and
            key[0] == _MULTI)


def string_id(token):
    """The id of the string a SRC token belongs to (itself if whole)."""
    return token[:ID_LEN] if is_part(token) else token


def ref(id_):
    """A short reference to a string id (12 base-36 digits), for markers."""
    number = int.from_bytes(hashlib.sha256(id_.encode('ascii')).digest(),
                            'big')
    digits = []
    while len(digits) < REF_LEN:
        number, rem = divmod(number, 36)
        digits.append(_DIGITS36[rem])
    return ''.join(digits)


REF_LEN = 12


class Assembled(object):
    """What a set of SRC tokens says: whole strings, and what is broken.

    ``strings``: id -> the exact string; ``parts``: id -> its SRC tokens
    (as published: republish them, never re-encode); ``problems``: id ->
    why it is not a string (a missing, extra, duplicated or corrupt part,
    a digest that does not match, a newer release's version).
    """

    def __init__(self):
        self.strings = {}
        self.parts = {}
        self.problems = {}


def assemble(tokens):
    """Reassemble the strings of SRC tokens (single and parts).

    A long string is used only when every part is present, no index is
    given two contents, every part says the same count, and the digest of
    the whole matches; anything else is a problem of its id, never a
    partial or a guessed string.  Costs grow with the tokens given: a
    catalog of thousands of parts of one id, or of many ids, is read once.
    """
    found = Assembled()
    groups = {}
    for token in sorted(set(tokens)):
        if not is_part(token):
            why = problem(token)
            if why is None:
                found.strings[token] = decode(token)
                found.parts[token] = (token,)
            else:
                found.problems[token] = why[1]
            continue
        groups.setdefault(token[:ID_LEN], []).append(token)
    for id_, parts in groups.items():
        why = _long_problem(id_, parts)
        if why is not None:
            found.problems[id_] = why
            continue
        ordered = sorted(parts, key=lambda p: _VALUE36[p[ID_LEN]])
        payload = ''.join(p[_PART_HEADER_LEN:] for p in ordered)
        try:
            text = _decode_payload(id_[1], payload, id_)
        except exception.InvalidToken as e:
            found.problems[id_] = 'corrupt: %s' % e
            continue
        found.strings[id_] = text
        found.parts[id_] = tuple(ordered)
    return found


def _long_problem(id_, parts):
    """Why the parts of one id are not one whole string, or None."""
    if id_[0] > NEWEST_VERSION:
        return problem(id_)[1]
    if not is_long_id(id_):
        return ('corrupt: %r is not the id of a long string (this release '
                'decodes %s)' % (id_[:ID_LEN], ', '.join(HEADERS)))
    if len(parts) > MAX_PARTS:
        return ('corrupt: %d parts, more than the %d a string has at most'
                % (len(parts), MAX_PARTS))
    counts, indexes = set(), {}
    for part in parts:
        index, count = _VALUE36.get(part[ID_LEN]), _VALUE36.get(
            part[ID_LEN + 1])
        if count is None or index is None or not 0 <= index < count or \
                not 2 <= count <= MAX_PARTS:
            return ('corrupt: part %r has no valid index and count'
                    % part[ID_LEN:ID_LEN + 2])
        counts.add(count)
        if index in indexes:
            return 'corrupt: part %d has two contents' % index
        indexes[index] = part
    if len(counts) != 1:
        return 'corrupt: its parts disagree on their count (%s)' % \
            ', '.join(str(c) for c in sorted(counts))
    (count,) = counts
    missing = sorted(set(range(count)) - set(indexes))
    if missing:
        return ('incomplete: part%s %s of %d missing'
                % ('s' if len(missing) > 1 else '',
                   ', '.join(str(i + 1) for i in missing), count))
    payload = ''.join(indexes[i][_PART_HEADER_LEN:] for i in range(count))
    if _digest(id_[1], payload) != id_[2:]:
        return 'corrupt: its parts do not match their digest'
    return None


def _decode_payload(scheme, payload, token):
    if scheme == _PACKED:
        text = _unpack(_from_base36(payload, token), token)
    else:
        text = _inflate(_from_base36(payload, token), token)
    try:
        return compat_string.validate(text)
    except exception.InvalidCompatString as e:
        raise exception.InvalidToken('%r decodes to an invalid string: %s'
                                     % (token[:40], e.reason))


def is_token(text):
    """Is ``text`` shaped like a token of any codec version?

    Unlike :func:`decode`, this does not need to know the version: a
    token of a newer release is still in our namespace (see
    :func:`problem`, which tells why one does not decode).
    """
    return (isinstance(text, str) and _HEADER_LEN < len(text) <=
            MAX_TOKEN_LEN and all(c in TOKEN_ALPHABET for c in text))


#: The token headers (version and scheme) this release decodes: whole
#: strings, and parts of long ones.
HEADERS = (_VERSION + _PACKED, _VERSION + _DEFLATED, _MULTI + _PACKED,
           _MULTI + _DEFLATED)
#: The newest codec version this release knows.  A new scheme always
#: comes with a new version digit, so a token whose version digit is
#: larger comes from a newer release; any other header that this release
#: does not decode belongs to no release.
NEWEST_VERSION = _MULTI
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
    if is_long_id(token):
        # A long string's id (an ACC token): only its parts can be wrong.
        return None
    if is_part(token):
        return _part_problem(token)
    try:
        decode(token)
    except exception.InvalidToken as e:
        return CORRUPT, ('corrupt: %s' % e if header in HEADERS else
                         'corrupt: its header %r is of no codec version '
                         '(this release decodes %s)'
                         % (header, ', '.join(HEADERS)))
    return None


def _part_problem(token):
    """What one part alone can show to be wrong (the rest: assemble)."""
    why = _long_problem(token[:ID_LEN], [token])
    if why is None or why.startswith('incomplete'):
        return None
    return CORRUPT, why


def describe(token):
    """The string of a token, or words saying why it does not decode.

    A long string's id or part alone is not a string: :func:`assemble`
    its parts.
    """
    why = problem(token)
    if why is not None:
        return '(token %s..., %s)' % (token[:16], why[1])
    if is_long_id(token):
        return '(the long string %s)' % token
    if is_part(token):
        return '(part %d of %d of the long string %s)' % (
            _VALUE36[token[ID_LEN]] + 1, _VALUE36[token[ID_LEN + 1]],
            token[:ID_LEN])
    return decode(token)


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


def _uuid36(instance):
    number = uuid_mod.UUID(instance).int
    digits = []
    while len(digits) < _UUID36_LEN:
        number, rem = divmod(number, 36)
        digits.append(_DIGITS36[rem])
    return ''.join(reversed(digits))


def marker_trait(instance, id_):
    """The marker of an instance's device string (its id).

    :raises ValueError: ``instance`` is not a uuid.
    """
    return VM_PREFIX + _uuid36(instance) + '_' + ref(id_)


def markers(traits, instance=None):
    """``{instance uuid36: {refs}}`` of the VM markers among ``traits``.

    With ``instance`` (a uuid), only that instance's: ``{refs}``.
    """
    found = {}
    for name in traits:
        parsed = parse_trait(name)
        if parsed and parsed[0] == VM:
            who, ref_ = parsed[1].split('_')
            found.setdefault(who, set()).add(ref_)
    if instance is None:
        return found
    return found.get(_uuid36(instance), set())


def reason_words(reason):
    """A NOSRC reason in words."""
    return REASONS.get(reason, 'reason %s (of a newer release)' % reason)


def parse_trait(name):
    """Split one of our trait names into ``(kind, body)``, exactly.

    ``kind`` is one of :data:`KINDS`; ``body`` is the token of a SRC or
    ACC trait (shaped like a token of any version), the reason of a NOSRC
    trait, the identity of an AGENT or CLAIM trait, ``<instance>_<ref>``
    of a VM marker, empty for REPORTED.
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
    if kind == VM:
        return (kind, body) if _MARKER.match(body) else None
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
