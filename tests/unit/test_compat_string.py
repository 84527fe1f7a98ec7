"""Bounds and alphabet of compatibility strings read from the kernel."""

from hypothesis import given
from hypothesis import strategies as st
import pytest

from nova_migcompat import compat_string
from nova_migcompat import exception


def test_trailing_newline_is_stripped_once():
    assert compat_string.from_bytes(b'abc\n') == 'abc'
    assert compat_string.from_bytes(b'abc\n\n') == 'abc\n'
    assert compat_string.from_bytes(b'self:\n\ta=1\n') == 'self:\n\ta=1'


def test_4096_bytes_fit_and_4097_do_not():
    assert len(compat_string.from_bytes(b'x' * 4096 + b'\n')) == 4096
    with pytest.raises(exception.InvalidCompatString) as e:
        compat_string.from_bytes(b'x' * 4097, where='/bus/pci/x')
    assert str(e.value).startswith('/bus/pci/x: ')


def test_non_ascii_names_the_offset_and_place():
    with pytest.raises(exception.InvalidCompatString) as e:
        compat_string.from_bytes(b'ab\xc3\xa9',
                                 where='/dev/x/migration_version')
    assert 'non-ASCII byte 0xc3 at offset 2' in str(e.value)
    assert '/dev/x/migration_version' in str(e.value)


def test_nul_is_refused():
    with pytest.raises(exception.InvalidCompatString) as e:
        compat_string.from_bytes(b'a\x00')
    assert 'NUL byte at offset 1' in str(e.value)


@given(st.binary(max_size=5000))
def test_arbitrary_bytes_never_crash(data):
    try:
        text = compat_string.from_bytes(data)
    except exception.InvalidCompatString:
        return
    assert 0 < len(text) <= compat_string.MAX_BYTES
