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
    ('2PX7SD', codec.NEWER, 'of codec version 2P, from a newer release'),
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
