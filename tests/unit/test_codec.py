"""The trait codec: valid traits, exact round trips, clear refusals."""

import json
import re

from hypothesis import given
from hypothesis import strategies as st
import os_traits
import pytest

from nova_migcompat import codec
from nova_migcompat import compat_string
from nova_migcompat import exception
from tests import samples

# placement's schema for a custom trait (placement/schemas/common.py).
PLACEMENT_CUSTOM_TRAIT = re.compile(r'^CUSTOM_[A-Z0-9_]+$')

allowed_text = st.text(alphabet=compat_string.ALPHABET, min_size=1,
                       max_size=codec.MAX_PACKED_CHARS)


def assert_valid_trait(name):
    assert len(name) <= 255
    assert PLACEMENT_CUSTOM_TRAIT.match(name), name
    assert os_traits.is_custom(name)
    # normalize_name leaves a valid custom trait as it is.
    assert os_traits.normalize_name(name[len('CUSTOM_'):]) == name


@given(allowed_text)
def test_every_short_string_round_trips(text):
    token = codec.encode(text)
    assert codec.decode(token) == text
    for role in codec.ROLES:
        name = codec.trait(role, token)
        assert_valid_trait(name)
        assert codec.decode_trait(name) == (role, token, text)


@given(st.text(alphabet=compat_string.ALPHABET, min_size=1,
               max_size=compat_string.MAX_BYTES))
def test_any_string_round_trips_or_is_unpublishable(text):
    try:
        token = codec.encode(text)
    except exception.UnpublishableString as e:
        assert 'does not fit' in str(e)
        assert len(text) > codec.MAX_PACKED_CHARS
        return
    assert len(token) <= codec.MAX_TOKEN_LEN
    assert codec.decode(token) == text


@given(st.text(min_size=0, max_size=300))
def test_decode_of_arbitrary_text_never_crashes(token):
    try:
        text = codec.decode(token)
    except exception.InvalidToken:
        return
    assert compat_string.validate(text) == text


def test_longest_always_encodable_string():
    assert codec.MAX_PACKED_CHARS == 181
    worst = compat_string.ALPHABET[-1] * codec.MAX_PACKED_CHARS
    assert codec.decode(codec.encode(worst)) == worst
    # The first random (incompressible) string one longer does not fit.
    rng = __import__('random').Random(7)
    text = ''.join(rng.choice(compat_string.ALPHABET)
                   for _ in range(codec.MAX_PACKED_CHARS + 1))
    with pytest.raises(exception.UnpublishableString) as e:
        codec.encode(text)
    assert '182-character' in str(e.value)
    assert 'up to 181 characters always fit' in str(e.value)


def test_json_descriptors_compress_well_beyond_the_packed_limit():
    desc = {'device_api': 'vfio-pci', 'vendor': 'nvidia',
            'version': {'major': 535, 'minor': 104},
            'vfio-pci': {'vendor': 4318, 'device': 7864},
            'mdev_attrs': [{'mdev_type': 'nvidia-35'}],
            'vendor_fields': [{'build': 'a' * 40}, {'gsp': 'enabled'}]}
    text = json.dumps(desc, separators=(',', ':'))
    assert len(text) > codec.MAX_PACKED_CHARS
    token = codec.encode(text)
    assert token.startswith('1D')
    assert codec.decode(token) == text


def test_short_opaque_string_uses_packed_scheme():
    token = codec.encode('abc')
    assert token.startswith('1P')
    assert codec.decode(token) == 'abc'


# Tokens are published and compared across hosts and releases: a change
# of either scheme (or of the preset dictionary) must show here.
@pytest.mark.parametrize('text,token', [
    ('abc', '1PX7SD'),
    (samples.GVT, '1D16L0DWBQ7Y5UIAOBWQFBU6CY29EHY0F7AWW'),
    (samples.NVIDIA_21,
     '1DSB52CBUT6AZEG43RFKRIUJ5MQBLWM3YJK608BDYZ0XNZUDPY7JMW2V8JU9FUO0'),
])
def test_golden_tokens(text, token):
    assert codec.encode(text) == token
    assert codec.decode(token) == text


@pytest.mark.parametrize('text,reason', [
    ('', 'empty'),
    ('a\0b', 'NUL byte at offset 1'),
    ('caf\u00e9', 'non-ASCII'),
    ('a\x1bb', 'control character'),
    ('x' * 4097, 'more than the 4096 allowed'),
])
def test_invalid_strings_are_refused(text, reason):
    with pytest.raises(exception.InvalidCompatString) as e:
        codec.encode(text)
    assert reason in str(e.value)


@pytest.mark.parametrize('token,reason', [
    ('', 'unknown codec version'),
    ('2PABC', 'unknown codec version'),
    ('1X12', 'unknown codec version'),
    ('1P', 'no payload'),
    ('1P0AB', 'leading zero'),
    ('1Pab', 'outside [0-9A-Z]'),
    ('1P_AB', 'outside [0-9A-Z]'),
    ('1D2', 'not a deflated string'),
    ('1P' + 'Z' * 300, 'at most 234'),
])
def test_malformed_tokens_are_refused(token, reason):
    with pytest.raises(exception.InvalidToken) as e:
        codec.decode(token)
    assert reason in str(e.value)


def test_deflate_bomb_is_bounded():
    # 231 base-36 digits of zeros deflate to far more than 4096 bytes.
    import zlib
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = comp.compress(b'a' * 100000) + comp.flush()
    token = '1D' + codec._to_base36(int.from_bytes(b'\x01' + data, 'big'))
    assert len(token) <= codec.MAX_TOKEN_LEN
    with pytest.raises(exception.InvalidToken) as e:
        codec.decode(token)
    assert 'bounded' in str(e.value)


def test_parse_trait_ignores_foreign_traits():
    assert codec.parse_trait('CUSTOM_GPU_FAST') is None
    assert codec.parse_trait('CUSTOM_MIGCOMPAT_XYZ_1PAB') is None
    assert codec.parse_trait('HW_CPU_X86_AVX') is None
    assert codec.parse_trait('CUSTOM_MIGCOMPAT_SRC_1PAB') == ('SRC', '1PAB')
    with pytest.raises(exception.InvalidToken):
        codec.decode_trait('CUSTOM_GPU_FAST')


def test_roles_give_distinct_traits():
    token = codec.encode('abc')
    assert codec.trait(codec.SRC, token) != codec.trait(codec.ACC, token)
    with pytest.raises(ValueError):
        codec.trait('XYZ', token)


@pytest.mark.parametrize('name', [
    # placement's name=startswith:CUSTOM_MIGCOMPAT_ is a LIKE, in which _
    # is any character: each of these is listed with ours.
    'CUSTOM_MIGCOMPATIBLE_FOO', 'CUSTOM_MIGCOMPAT1ZONE',
    'CUSTOM_MIGCOMPATXSRC_BAR', 'CUSTOM_MIGCOMPAT_SRCX1PAB',
    'CUSTOM_MIGCOMPAT_SRC', 'CUSTOM_MIGCOMPAT_SRC_', 'CUSTOM_MIGCOMPAT_SRC_1P',
    'CUSTOM_MIGCOMPAT_SRC_1P_AB', 'CUSTOM_MIGCOMPAT_ACC__1PAB',
    'CUSTOM_MIGCOMPAT_NOSRC_', 'CUSTOM_MIGCOMPAT_NOSRC_1BAD',
    'CUSTOM_MIGCOMPAT_NOSRC_NO_STRING', 'CUSTOM_MIGCOMPAT_AGENT_SHORT',
    'CUSTOM_MIGCOMPAT_AGENT_' + 'A' * 41, 'CUSTOM_MIGCOMPAT_REPORTED_X',
    'CUSTOM_MIGCOMPAT_REPORTEDX', 'CUSTOM_MIGCOMPAT_',
])
def test_look_alikes_are_not_ours(name):
    assert codec.parse_trait(name) is None
    assert not codec.is_ours(name)


def test_every_kind_of_ours_parses_exactly():
    token = codec.encode('abc')
    for role in codec.ROLES:
        assert codec.parse_trait(codec.trait(role, token)) == (role, token)
    for reason in codec.REASONS:
        assert codec.parse_trait(codec.nosrc_trait(reason)) == (
            codec.NOSRC, reason)
    identity = 'ABCDEFGH12345678'
    assert codec.parse_trait(codec.agent_trait(identity)) == (
        codec.AGENT, identity)
    assert codec.parse_trait(codec.REPORTED_TRAIT) == (codec.REPORTED, '')
    for name in (codec.nosrc_trait(codec.NO_DEVICE),
                 codec.agent_trait(identity), codec.REPORTED_TRAIT):
        assert_valid_trait(name)
    with pytest.raises(ValueError):
        codec.nosrc_trait('MADE_UP')
    with pytest.raises(ValueError):
        codec.agent_trait('lower')


@pytest.mark.parametrize('token,kind,words', [
    # A newer release's version digit: upgrade the schedulers first.
    ('3PX7SD', codec.NEWER, 'of codec version 3P, from a newer release'),
    ('9ZABC', codec.NEWER, 'upgrade the schedulers and the operator tools '
     'before the agents'),
    # This release's headers with a payload that does not decode.
    ('1P0AB', codec.CORRUPT, 'corrupt: token'),
    ('1D2', codec.CORRUPT, 'not a deflated string'),
    # A known version with a scheme of no release, or no version at all.
    ('1XABC', codec.CORRUPT, "its header '1X' is of no codec version"),
    ('BAR', codec.CORRUPT, "its header 'BA' is of no codec version"),
    ('0PABC', codec.CORRUPT, "its header '0P' is of no codec version"),
])
def test_why_a_token_does_not_decode(token, kind, words):
    found = codec.problem(token)
    assert found[0] == kind
    assert words in found[1]
    assert words in codec.describe(token)
    # Never the old words, which read as "upgrade" for a corrupt token.
    assert 'cannot decode' not in codec.describe(token)


def test_a_token_that_decodes_has_no_problem():
    assert codec.problem(codec.encode(samples.NVIDIA_21)) is None


# Long strings (version 2) ----------------------------------------------------

def _random_text(n, seed=3):
    rng = __import__('random').Random(seed)
    return ''.join(rng.choice(compat_string.ALPHABET) for _ in range(n))


def _assemble_one(encoded):
    found = codec.assemble(encoded.parts)
    assert found.problems == {}
    (text,) = found.strings.values()
    assert list(found.strings) == [encoded.id]
    assert sorted(found.parts[encoded.id]) == sorted(encoded.parts)
    return text


@given(st.text(alphabet=compat_string.ALPHABET, min_size=1,
               max_size=compat_string.MAX_BYTES), st.randoms())
def test_any_string_round_trips_in_parts_or_is_unpublishable(text, rand):
    try:
        encoded = codec.encode_string(text)
    except exception.UnpublishableString as e:
        assert 'does not fit in %d traits' % codec.MAX_PARTS in str(e)
        assert len(text) > codec.MAX_LONG_CHARS
        return
    if len(encoded.parts) == 1:
        # What fits one token keeps version 1, its token its id.
        assert encoded.parts == (encoded.id,) == (codec.encode(text),)
        assert codec.decode(encoded.id) == text
    else:
        assert 2 <= len(encoded.parts) <= codec.MAX_PARTS
        assert codec.is_long_id(encoded.id)
        assert all(codec.is_part(p) and codec.string_id(p) == encoded.id
                   for p in encoded.parts)
    for part in encoded.parts:
        assert_valid_trait(codec.trait(codec.SRC, part))
        assert codec.problem(part) is None
    assert_valid_trait(codec.trait(codec.ACC, encoded.id))
    # The order parts are listed in does not matter.
    shuffled = list(encoded.parts)
    rand.shuffle(shuffled)
    assert _assemble_one(codec.Encoded(encoded.id, shuffled)) == text


def test_longest_always_encodable_long_string():
    # The worst case for the packed scheme, and incompressible text.
    for text in (compat_string.ALPHABET[-1] * codec.MAX_LONG_CHARS,
                 _random_text(codec.MAX_LONG_CHARS)):
        encoded = codec.encode_string(text)
        assert _assemble_one(encoded) == text
    # Incompressible text a few characters longer does not fit.
    with pytest.raises(exception.UnpublishableString) as e:
        codec.encode_string(_random_text(codec.MAX_LONG_CHARS + 4))
    assert 'up to %d characters always fit' % codec.MAX_LONG_CHARS in \
        str(e.value)


def test_nvidia_sized_metadata_fits():
    # NVIDIA's vGPU metadata is up to 468 bytes; printed as hex, 936.
    text = _random_text(936)
    assert len(codec.encode_string(text).parts) <= codec.MAX_PARTS


LONG = codec.encode_string(_random_text(900))
OTHER = codec.encode_string(_random_text(900, seed=4))


def _with_index(part, index, count=None):
    count = len(LONG.parts) if count is None else count
    return (part[:codec.ID_LEN] + codec.TOKEN_ALPHABET[index] +
            codec.TOKEN_ALPHABET[count] + part[codec.ID_LEN + 2:])


@pytest.mark.parametrize('parts,words', [
    (LONG.parts[1:], 'incomplete: part 1 of'),
    (LONG.parts[:-1], 'incomplete: part %d of' % len(LONG.parts)),
    (LONG.parts + (_with_index(LONG.parts[0], len(LONG.parts)),),
     'no valid index and count'),
    (LONG.parts + (LONG.parts[0][:-1] + 'Z',), 'part 0 has two contents'),
    # Part 1 of another string under this id (a foreign part).
    ((LONG.parts[0], LONG.id + OTHER.parts[1][codec.ID_LEN:]) +
     LONG.parts[2:], 'do not match their digest'),
    ((_with_index(LONG.parts[0], 0, len(LONG.parts) + 1),) + LONG.parts[1:],
     'disagree on their count'),
    (tuple(_with_index(LONG.parts[0], i, 9) for i in range(9)),
     'more than the 8'),
])
def test_a_long_string_not_whole_is_never_a_string(parts, words):
    found = codec.assemble(parts)
    assert found.strings == {}
    assert list(found.problems) == [LONG.id]
    assert words in found.problems[LONG.id]


def test_whole_strings_beside_broken_ones_are_kept():
    short = codec.encode(samples.NVIDIA_21)
    found = codec.assemble(LONG.parts[1:] + OTHER.parts + (short,))
    assert found.strings == {
        OTHER.id: codec.assemble(OTHER.parts).strings[OTHER.id],
        short: samples.NVIDIA_21}
    assert list(found.problems) == [LONG.id]


def test_a_newer_multi_part_version_is_newer():
    newer = '3' + LONG.parts[0][1:]
    found = codec.assemble([newer])
    assert 'from a newer release' in found.problems[newer]
    assert codec.problem(newer)[0] == codec.NEWER


@given(st.lists(st.text(alphabet=codec.TOKEN_ALPHABET, min_size=1,
                        max_size=codec.MAX_TOKEN_LEN), max_size=30))
def test_assemble_of_arbitrary_tokens_never_crashes(tokens):
    found = codec.assemble(tokens)
    for key, text in found.strings.items():
        assert compat_string.validate(text) == text
        assert not set(found.parts[key]) - set(tokens)
    assert not set(found.strings) & set(found.problems)


@given(st.lists(st.sampled_from(LONG.parts + OTHER.parts), max_size=20))
def test_assemble_of_any_subset_of_parts_is_exact(parts):
    found = codec.assemble(parts)
    for encoded in (LONG, OTHER):
        if set(encoded.parts) <= set(parts):
            assert encoded.id in found.strings
        elif set(encoded.parts) & set(parts):
            assert encoded.id in found.problems
        else:
            assert encoded.id not in found.strings
            assert encoded.id not in found.problems


def test_hostile_catalogs_are_bounded_in_work():
    # Thousands of parts of one id: one problem, decided by counting.
    same = [LONG.id + codec.TOKEN_ALPHABET[i % 8] + '8' + '%040d' % i
            for i in range(5000)]
    found = codec.assemble(same)
    assert found.strings == {}
    assert 'parts, more than the 8' in found.problems[LONG.id]


# VM markers ------------------------------------------------------------------

INSTANCE = '6f1c3a52-8a0e-4d7e-9a53-2b4b0f0d2e11'


@given(st.uuids(), st.sampled_from([LONG.id, codec.encode('x y 1.0')]))
def test_markers_round_trip(instance, string_id):
    name = codec.marker_trait(str(instance), string_id)
    assert_valid_trait(name)
    assert codec.parse_trait(name)[0] == codec.VM
    assert codec.markers([name], str(instance)) == {codec.ref(string_id)}
    assert codec.markers([name], INSTANCE) == set() or \
        str(instance) == INSTANCE


def test_a_marker_needs_an_instance_uuid():
    with pytest.raises(ValueError):
        codec.marker_trait('not-a-uuid', LONG.id)


def test_the_layout_drawn_in_the_docs_is_the_codecs():
    import os
    path = os.path.join(os.path.dirname(__file__), '..', '..', 'doc',
                        'source', 'traits.rst')
    with open(path) as f:
        text = f.read()
    assert 'up to %d characters\n' % (
        codec.MAX_TOKEN_LEN - codec.ID_LEN - 2) in text
    assert 'parts of the string (2 to %d)' % codec.MAX_PARTS in text
    assert 'The first %d characters' % codec.ID_LEN in text
    assert '%d base-36 digits of SHA-256' % codec.DIGEST_LEN in text
