"""Tests of the string formats and the format loader."""

import json
import string

import hypothesis
from hypothesis import strategies as st
import pytest

from nova_migcompat import compat_string
from nova_migcompat import exception
from nova_migcompat.formats import base
from nova_migcompat.formats import json_descriptor
from nova_migcompat.formats import keyvalue
from nova_migcompat.formats import loader
from nova_migcompat.formats import opaque
from tests import samples

# Alex Williamson's example, verbatim (comments, hex, trailing comma).
THREAD_JSON = """{
  "device_api": "vfio-pci",
  "vendor": "vendor-driver-name",
  "version": {
    "major": 0,
    "minor": 1
  },
  "vfio-pci": { // Based on above device_api
    "vendor": 0x1234, // Values for the exposed device
    "device": 0x5678,
    // Possibly further parameters for a more specific match
  },
  "mdev_attrs": [
    { "attribute0": "VALUE" }
  ]
}"""

THREAD_VENDOR_FIELDS = """{
  "device_api": "vfio-pci",
  "vendor": "vendor-driver-name",
  "version": {"major": 0, "minor": 1},
  "vendor_fields": [
    { "unknown_field0": "unknown_value0" },
    { "unknown_field1": "unknown_value1" },
  ]
}"""


THREAD_COMPATIBLE = {
    'device_type': 'pci',
    'device_id': '8086591d',
    'mdev_type': 'i915-GVTg_V5_{val1:int:1,2,4,8}',
    'aggregator': '{val1}/2',
    'interface_version': '{val3:int:2,3}',
}

GVTG = 'i915-v1-8086-591d-i915-GVTg_V5_8-1'


def _json(**fields):
    doc = {'device_api': 'vfio-pci', 'vendor': 'nvidia',
           'version': {'major': 2, 'minor': 1},
           'vfio-pci': {'vendor': 0x10de, 'device': 0x1eb8}}
    doc.update(fields)
    return json.dumps(doc)


def _json_error(text):
    with pytest.raises(exception.ParseError) as info:
        json_descriptor.JsonDescriptorFormat().parse(text)
    return str(info.value)


# -- JSON descriptor ---------------------------------------------------------

def test_json_thread_example():
    parsed = loader.parse(THREAD_JSON)
    assert parsed.format == 'json'
    assert parsed.text == THREAD_JSON
    assert parsed.device_api == 'vfio-pci'
    assert parsed.driver == 'vendor-driver-name'
    assert parsed.version == base.Version(0, 1)
    assert (parsed.pci_vendor, parsed.pci_device) == (0x1234, 0x5678)
    assert parsed.mdev_type is None
    assert parsed.attributes == {'attribute0': 'VALUE'}
    assert parsed.vendor_fields == {}


def test_json_thread_vendor_fields():
    parsed = loader.parse(THREAD_VENDOR_FIELDS)
    assert parsed.vendor_fields == {'unknown_field0': 'unknown_value0',
                                    'unknown_field1': 'unknown_value1'}
    assert parsed.pci_vendor is None


def test_json_strict_with_hex_strings_and_mdev_type():
    parsed = loader.parse(_json(**{
        'vfio-pci': {'vendor': '0x10DE', 'device': '0x1eb8',
                     'subsystem_vendor': 0x10de},
        'mdev_attrs': [{'mdev_type': 'nvidia-35'}, {'heads': 4}],
        'vendor_fields': [{'build': 'abc'}, {'debug': False},
                          {'caps': {'b': [1, 2], 'a': None}}],
        'extra': 'x'}))
    assert (parsed.pci_vendor, parsed.pci_device) == (0x10de, 0x1eb8)
    assert parsed.mdev_type == 'nvidia-35'
    assert parsed.attributes == {'heads': '4',
                                 'vfio-pci.subsystem_vendor': '4318',
                                 'extra': 'x'}
    assert parsed.vendor_fields == {'build': 'abc', 'debug': 'false',
                                    'caps': '{"a":null,"b":[1,2]}'}
    assert parsed.summary() == 'nvidia 2.1 10de:1eb8 nvidia-35'


def test_json_type_attribute_is_the_mdev_type():
    parsed = loader.parse(_json(mdev_attrs=[{'type': 'i915-GVTg_V5_4'}]))
    assert parsed.mdev_type == 'i915-GVTg_V5_4'
    assert parsed.attributes == {}


def test_json_relaxed_syntax_only_outside_strings():
    parsed = loader.parse(
        '{"vendor": "a//b", "mdev_attrs": [{"x": "0x12,]"},],}')
    assert parsed.driver == 'a//b'
    assert parsed.attributes == {'x': '0x12,]'}


def test_json_minimal_object():
    parsed = loader.parse('  {}')
    assert parsed.format == 'json'
    assert parsed.driver is None and parsed.version is None


def test_json_deep_nesting_refused_before_json():
    # 10000 levels do not fit a compatibility string; the format alone
    # must still refuse them without recursing.
    bomb = '{"a":' * 10000 + '1' + '}' * 10000
    assert 'nesting deeper than 16' in _json_error(bomb)
    with pytest.raises(exception.InvalidCompatString):
        loader.parse(bomb)
    fitting = '[' * 4000 + ']' * 4000
    with pytest.raises(exception.ParseError, match='nesting deeper'):
        loader.parse('{"a":%s}' % fitting[:4090])


def test_json_nesting_bound_is_exact():
    ok = '{"a":' + '[' * 15 + ']' * 15 + '}'
    assert loader.parse(ok).attributes == {'a': '[' * 15 + ']' * 15}
    too_deep = '{"a":' + '[' * 16 + ']' * 16 + '}'
    assert 'nesting deeper than 16' in _json_error(too_deep)


def test_json_huge_numbers_refused():
    assert 'integer with 5000 characters' in _json_error(
        '{"a": %s}' % ('9' * 5000))
    with pytest.raises(exception.ParseError, match='4000 characters'):
        loader.parse('{"a": %s}' % ('9' * 4000))
    assert 'number with 25 characters' in _json_error(
        '{"a": 1.%s}' % ('1' * 23))
    assert 'more than the 20 allowed' in _json_error(
        '{"a": 1e9999999999999999999}')


@pytest.mark.parametrize('text, message', [
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ('{"version": {"major": 1, "major": 2, "minor": 0}}',
     "duplicate key 'major'"),
    ('{"a": NaN}', 'NaN is not a number'),
    ('{"a": -Infinity}', '-Infinity is not a number'),
    ('{"a": 1', 'invalid JSON'),
    ('{"a": "unterminated}', 'invalid JSON'),
    ('{a: 1}', 'invalid JSON'),
    ('{"device_api": 7}', 'device_api: expected a non-empty string, got 7'),
    ('{"device_api": ""}', "device_api: expected a non-empty string, got ''"),
    ('{"vendor": ["x"]}', 'vendor: expected a non-empty string, got a list'),
    ('{"version": "1.2"}', "version: expected an object with major and"
     " minor, got '1.2'"),
    ('{"version": {"major": 1}}', 'version: missing minor'),
    ('{"version": {"major": 1, "minor": 0, "patch": 3}}',
     "version: unknown field 'patch'"),
    ('{"version": {"major": -1, "minor": 0}}',
     'version.major: expected a non-negative integer, got -1'),
    ('{"version": {"major": 1, "minor": true}}',
     'version.minor: expected a non-negative integer, got true'),
    ('{"version": {"major": 1.0, "minor": 0}}',
     'version.major: expected a non-negative integer, got 1.0'),
    ('{"device_api": "vfio-pci", "vfio-pci": [1]}',
     'vfio-pci: expected an object, got a list'),
    ('{"device_api": "vfio-pci", "vfio-pci": {"vendor": "8086"}}',
     'vfio-pci.vendor: expected an integer or a "0x..." hex string, got'
     " '8086'"),
    ('{"device_api": "vfio-pci", "vfio-pci": {"device": 0x10000}}',
     'vfio-pci.device: 0x10000 is not a 16-bit PCI id'),
    ('{"device_api": "vfio-pci", "vfio-pci": {"device": true}}',
     'vfio-pci.device: expected an integer'),
    ('{"mdev_attrs": {"a": "b"}}',
     'mdev_attrs: expected a list of objects, got an object'),
    ('{"mdev_attrs": ["a"]}', "mdev_attrs[0]: expected an object, got 'a'"),
    ('{"mdev_attrs": [{"a": "1"}, {"a": "2"}]}',
     "mdev_attrs: 'a' appears twice"),
    ('{"mdev_attrs": [{"mdev_type": 5}]}',
     'mdev_attrs: mdev_type must be one non-empty string'),
    ('{"mdev_attrs": [{"mdev_type": "a"}, {"type": "b"}]}',
     'mdev_attrs: type must be one non-empty string'),
    ('{"vendor_fields": [{"a": 1}, {"a": 1}]}',
     "vendor_fields: 'a' appears twice"),
    ('{"heads": 1, "mdev_attrs": [{"heads": 2}]}',
     "attribute 'heads' defined twice"),
])
def test_json_malformed(text, message):
    assert message in _json_error(text)
    with pytest.raises(exception.ParseError, match='malformed json string'):
        loader.parse(text)


def test_json_top_level_must_be_an_object():
    assert 'expected a JSON object, got a list' in _json_error('[1, 2]')
    # The loader never offers it to the JSON format.
    assert loader.parse('[1, 2]').format == 'opaque'


def test_json_sniff():
    fmt = json_descriptor.JsonDescriptorFormat()
    assert fmt.sniff(' \n\t{')
    assert not fmt.sniff('self:\n a={v:int:1}')
    assert not fmt.sniff('x{}')


# -- key=value ---------------------------------------------------------------

def test_keyvalue_thread_example():
    parsed = loader.parse(samples.THREAD_KEYVALUE)
    assert parsed.format == 'keyvalue'
    assert parsed.text == samples.THREAD_KEYVALUE
    assert parsed.mdev_type == 'i915-GVTg_V5_2'
    assert (parsed.pci_vendor, parsed.pci_device) == (0x8086, 0x591d)
    assert parsed.version == base.Version(3, 0)
    assert parsed.driver is None
    assert parsed.attributes == {'device_type': 'pci', 'aggregator': '1'}
    assert parsed.compatible == (THREAD_COMPATIBLE,)


def test_keyvalue_self_mapping_is_exact():
    parsed = loader.parse(samples.THREAD_KEYVALUE)
    assert keyvalue.self_mapping(parsed) == {
        'device_type': 'pci', 'device_id': '8086591d',
        'mdev_type': 'i915-GVTg_V5_2', 'aggregator': '1',
        'interface_version': '3'}
    assert keyvalue.self_mapping(loader.parse(GVTG)) is None


def test_keyvalue_headers_comments_and_sections():
    text = ('# a vendor comment\n\nSELF:\n  driver=nvidia\n'
            '  software_version=2.1\n  interface_version=7\n'
            '  vendor_driver=other\n  empty=""\n'
            'COMPATIBLE:\n\t# first\n  driver=nvidia\n'
            'Compatible :\n  driver=nvidia\n  extra=""\n')
    parsed = loader.parse(text)
    assert parsed.driver == 'nvidia'
    assert parsed.version == base.Version(2, 1)
    assert parsed.attributes == {'interface_version': '7',
                                 'vendor_driver': 'other', 'empty': ''}
    assert parsed.compatible == ({'driver': 'nvidia'},
                                 {'driver': 'nvidia', 'extra': '""'})


def test_keyvalue_unparsed_identity_values_stay_attributes():
    parsed = loader.parse('self:\ndevice_id=8086\nsoftware_version=v2\n'
                          'vendor_driver=i915\n')
    assert parsed.pci_vendor is None and parsed.version is None
    assert parsed.driver == 'i915'
    assert parsed.attributes == {'device_id': '8086',
                                 'software_version': 'v2'}


def test_keyvalue_single_line_form():
    parsed = loader.parse('self: mdev_type=i915-GVTg_V5_4 aggregator=2; '
                          'compatible: mdev_type=i915-GVTg_V5_{v:int:2,4}'
                          ' aggregator={v}/2')
    assert parsed.mdev_type == 'i915-GVTg_V5_4'
    assert parsed.compatible == ({'mdev_type': 'i915-GVTg_V5_{v:int:2,4}',
                                  'aggregator': '{v}/2'},)


def test_keyvalue_sniff():
    fmt = keyvalue.KeyValueFormat()
    assert fmt.sniff('\n# c\n  Compatible:\n a=1')
    assert fmt.sniff('self: a=1')
    assert not fmt.sniff('# only a comment\n')
    assert not fmt.sniff('a=1\nself:\n')
    assert not fmt.sniff(GVTG)


def _kv_error(text):
    with pytest.raises(exception.ParseError) as info:
        loader.parse(text)
    message = str(info.value)
    assert 'malformed keyvalue string' in message
    return message


@pytest.mark.parametrize('text, message', [
    ('compatible:\n a=1\n', 'no self: section'),
    ('self:\n a=1\nself:\n b=1\n', 'second self: section at line 3'),
    ('self:\n', 'self: section at line 1 is empty'),
    ('self:\n a=1\ncompatible:\n', 'compatible: section at line 3 is empty'),
    ('self:\n a=1\n a=2\n', "duplicate key 'a'"),
    ('self:\n just text\n', "line 2: expected key=value, got 'just text'"),
    ('self:\n =1\n', "line 2: invalid key ''"),
    ('self:\n a b=1\n', "line 2: invalid key 'a b'"),
    ('self: a=1 oops', "line 1: expected key=value, got 'oops'"),
])
def test_keyvalue_malformed_structure(text, message):
    assert message in _kv_error(text)


@pytest.mark.parametrize('pattern, message', [
    ('{v:float:1}', "k: unknown type 'float' in {v:float:1}"),
    ('{v:int:}', 'k: no choices in {v:int:}'),
    ('{v:string:}', 'k: no choices in {v:string:}'),
    ('{v:int:1,,2}', "k: empty choice in '1,,2'"),
    ('{v:string:"a",}', 'k: empty choice'),
    ('{v:string:a,b}', 'k: string choices must be double-quoted'),
    ('{v:int:x}', "k: 'x' is not an integer"),
    ('{v:int:-1}', "k: '-1' is not an integer"),
    ('{v:int:1234567890}', "k: '1234567890' is not an integer of at most 9"),
    ('{v:int:5-1}', 'k: empty int range 5-1'),
    ('{v:int:1-100000}', 'k: int range 1-100000 has more than 4096 values'),
    ('{v:int:%s}' % ','.join(str(i) for i in range(65)),
     'k: more than 64 choices'),
    ('{v}', 'k: reference to undefined variable v'),
    ('{v:int:1', 'k: unclosed { at offset 0'),
    ('a}b', 'k: unmatched } at offset 1'),
    ('{a{b}}', 'k: nested { at offset 2'),
    ('{v:int}', 'k: expected {name} or {name:type:choices}, got {v:int}'),
    ('{9v:int:1}', "k: invalid variable name '9v'"),
    ('{a b}', 'k: invalid variable reference {a b}'),
    ('{v:int:1,2}{v:int:3}', 'k: variable v defined twice'),
    (''.join('{x%d:int:1}' % i for i in range(17)),
     'k: more than 16 variables'),
    ('{x:int:1}' + 'a{x}' * 32, 'k: more than 64 literal and {...} parts'),
])
def test_keyvalue_malformed_pattern(pattern, message):
    text = 'self:\n k=1\ncompatible:\n k=%s\n' % pattern
    assert 'compatible section 1: ' + message in _kv_error(text)


@pytest.mark.parametrize('second, message', [
    ('{v}/0', 'b: division by zero in {v}/0'),
    ('{v}/x', 'b: bad arithmetic {v}/x'),
    ('{v}*', 'b: bad arithmetic {v}*'),
    ('{v}**2', 'b: bad arithmetic {v}**2'),
    ('{v}/1234567890', "b: '1234567890' is not an integer"),
    ('{w}+1', 'b: reference to undefined variable w'),
])
def test_keyvalue_bad_arithmetic(second, message):
    text = ('self:\n a=1\ncompatible:\n a=x\ncompatible:\n'
            ' a={v:int:1,2}\n b=%s\n' % second)
    assert 'compatible section 2: ' + message in _kv_error(text)


def test_keyvalue_reference_must_come_after_definition():
    text = 'self:\n a=1\ncompatible:\n b={v}\n a={v:int:1}\n'
    assert 'b: reference to undefined variable v' in _kv_error(text)


def test_keyvalue_too_many_keys():
    keys = ''.join(' k%d=1\n' % i for i in range(129))
    assert 'more than 128 keys' in _kv_error(
        'self:\n a=1\ncompatible:\n' + keys)


# -- key=value matching ------------------------------------------------------

THREAD_SELF = {'device_type': 'pci', 'device_id': '8086591d',
               'mdev_type': 'i915-GVTg_V5_2', 'aggregator': '1',
               'interface_version': '3'}


def _thread_self(**changes):
    attrs = dict(THREAD_SELF, **changes)
    return {k: v for k, v in attrs.items() if v is not None}


def matches(self_attrs, section):
    """``(accepts, reason)`` of keyvalue.match."""
    result = keyvalue.match(self_attrs, section)
    return result.ok, result.reason


@pytest.mark.parametrize('changes, ok, reason', [
    ({}, True, 'all 5 keys match (val1=2, val3=3)'),
    ({'mdev_type': 'i915-GVTg_V5_8', 'aggregator': '4'}, True,
     'all 5 keys match (val1=8, val3=3)'),
    ({'mdev_type': 'i915-GVTg_V5_16'}, False,
     'mdev_type i915-GVTg_V5_16 not in i915-GVTg_V5_{1,2,4,8}'),
    ({'mdev_type': 'i915-GVTg_V5_02'}, False,
     'mdev_type i915-GVTg_V5_02 not in i915-GVTg_V5_{1,2,4,8}'),
    ({'mdev_type': 'i915-GVTg_V5_8', 'aggregator': '3'}, False,
     'aggregator 3 != 4 ({val1}/2 with val1=8)'),
    ({'mdev_type': 'i915-GVTg_V5_1'}, False,
     'aggregator 1 != 1/2 ({val1}/2 with val1=1)'),
    ({'interface_version': '4'}, False, 'interface_version 4 not in {2,3}'),
    ({'device_id': '8086591e'}, False, 'device_id 8086591e != 8086591d'),
    ({'aggregator': None}, False,
     'aggregator absent, expected 1 ({val1}/2 with val1=2)'),
    ({'device_type': None}, False, 'device_type absent, expected pci'),
    ({'mdev_type': None}, False,
     'mdev_type absent, expected i915-GVTg_V5_{1,2,4,8}'),
    ({'unrelated': 'x'}, True, 'all 5 keys match (val1=2, val3=3)'),
])
def test_matches_thread_example(changes, ok, reason):
    assert matches(_thread_self(**changes),
                   THREAD_COMPATIBLE) == (ok, reason)


@pytest.mark.parametrize('attrs, ok', [
    ({}, True),
    ({'opt': ''}, True),
    ({'opt': '""'}, True),
    ({'opt': 'x'}, False),
])
def test_matches_empty_means_absent_or_empty(attrs, ok):
    assert matches(attrs, {'opt': '""'})[0] is ok
    assert matches(attrs, {'opt': ''})[0] is ok
    if not ok:
        assert matches(attrs, {'opt': '""'})[1] == (
            'opt x is not empty')


@pytest.mark.parametrize('attrs, ok', [
    ({'a': 'gpu-fast', 'b': 'fast'}, True),
    ({'a': 'gpu-', 'b': ''}, True),
    ({'a': 'gpu-slow', 'b': 'slow'}, False),
    ({'a': 'gpu-fast', 'b': 'fast2'}, False),
])
def test_matches_string_variables(attrs, ok):
    section = {'a': 'gpu-{s:string:"fast","", "x:y}"}', 'b': '{s}'}
    assert matches(attrs, section)[0] is ok


@pytest.mark.parametrize('value, ok', [
    ('3', True), ('1', True), ('4', True), ('7', True), ('10', True),
    ('0', False), ('5', False), ('11', False), ('-1', False), ('', False),
])
def test_matches_int_ranges(value, ok):
    assert matches({'n': value}, {'n': '{v:int:1-4,7,9-10}'})[
        0] is ok


@pytest.mark.parametrize('op, value, ok', [
    ('*2', '6', True), ('*2', '5', False), ('+1', '4', True),
    ('-1', '2', True), ('-5', '-2', True), ('/3', '1', True),
    ('+1', '3', False),
])
def test_matches_arithmetic(op, value, ok):
    section = {'a': '{v:int:3}', 'b': '{v}' + op}
    assert matches({'a': '3', 'b': value}, section)[0] is ok


def test_matches_backtracks_across_keys():
    # "12" splits as x=1,y=2 or x=12,y absent...; only x=1,y=2 fits "b".
    section = {'a': '{x:int:1-20}{y:int:1-9}', 'b': '{y}-{x}'}
    assert matches({'a': '12', 'b': '2-1'}, section) == (
        True, 'all 2 keys match (x=1, y=2)')
    section = {'a': '{x:string:"a","ab"}{y:string:"bc","c"}', 'b': '{x}'}
    assert matches({'a': 'abc', 'b': 'ab'}, section) == (
        True, 'all 2 keys match (x=ab, y=c)')
    # Both bindings of "a" fail on "b": the first one tried is reported.
    assert matches({'a': 'abc', 'b': 'zz'}, section) == (
        False, 'b zz != a')
    assert matches({'a': '12', 'b': '1-3'},
                   {'a': '{x:int:1-20}{y:int:1-9}',
                    'b': '{y}-{x}'})[0] is False


def test_matches_literal_text_after_int_reference():
    section = {'a': '{v:int:1,2}', 'b': '{v}-rev', 'c': '{v}+x'}
    assert matches({'a': '2', 'b': '2-rev', 'c': '2+x'}, section)[0]


def test_matches_gives_up_on_pathological_patterns():
    choice = '{%s:string:"","x","xx","xxx"}'
    section = {'a': ''.join(choice % ('v%d' % i) for i in range(16)) + 'z'}
    result = keyvalue.match({'a': 'x' * 30 + 'y'}, section)
    assert not result.ok
    assert 'too complex' in result.reason


def test_match_reports_how_far_it_got():
    result = keyvalue.match(_thread_self(interface_version='9'),
                            THREAD_COMPATIBLE)
    assert (result.ok, result.key, result.matched) == (
        False, 'interface_version', 4)


def test_matches_refuses_malformed_sections():
    with pytest.raises(exception.ParseError, match='empty compatible'):
        matches({}, {})
    with pytest.raises(exception.ParseError, match='a: unclosed'):
        matches({}, {'a': '{'})


# -- opaque ------------------------------------------------------------------

def test_opaque_gvtg_example():
    parsed = loader.parse(GVTG)
    assert parsed.format == 'opaque'
    assert parsed.driver == 'i915'
    assert parsed.version == base.Version(1, 0)
    assert (parsed.pci_vendor, parsed.pci_device) == (0x8086, 0x591d)
    assert parsed.mdev_type == 'i915-GVTg_V5_8'
    assert parsed.attributes == {'aggregator': '1'}


def test_opaque_gvtg_with_minor_version():
    parsed = opaque.OpaqueFormat().parse(
        'i915-v2.3-8086-3e92-i915-GVTg_V5_4-2')
    assert parsed.version == base.Version(2, 3)
    assert parsed.mdev_type == 'i915-GVTg_V5_4'
    assert parsed.attributes == {'aggregator': '2'}


@pytest.mark.parametrize('text, driver', [
    ('nvidia-535.104-GRID-A100', 'nvidia'),
    ('hisi_acc_vfio_pci-1-2', 'hisi_acc_vfio_pci'),
    ('i915-v1-8086-591d', 'i915'),
    ('NV-1', None),
    ('nodash', None),
    ('-leading', None),
])
def test_opaque_other_strings(text, driver):
    parsed = loader.parse(text)
    assert parsed.format == 'opaque'
    assert parsed.driver == driver
    assert parsed.version is None and parsed.mdev_type is None
    assert parsed.attributes == {}


def test_opaque_sniffs_everything():
    assert opaque.OpaqueFormat().sniff('anything at all')


# -- loader ------------------------------------------------------------------

def test_parse_names_where_and_format():
    with pytest.raises(exception.ParseError) as info:
        loader.parse('{"a": 1, "a": 2}', where='/sys/bus/pci/devices/x')
    assert str(info.value) == (
        "/sys/bus/pci/devices/x: malformed json string: duplicate key 'a'")


@pytest.mark.parametrize('text', ['', 'a\0b', 'x' * 4097, 'caf\xe9', 7])
def test_parse_refuses_invalid_strings(text):
    with pytest.raises(exception.InvalidCompatString, match='^dev: '):
        loader.parse(text, where='dev')


def test_parse_from_bytes_strips_newline():
    text = compat_string.from_bytes((GVTG + '\n').encode())
    assert loader.parse(text).attributes == {'aggregator': '1'}


# -- properties --------------------------------------------------------------

_FUZZ = hypothesis.settings(max_examples=150, deadline=None)


def _parse_or_expected_error(text):
    try:
        return loader.parse(text)
    except (exception.InvalidCompatString, exception.ParseError):
        return None


@_FUZZ
@hypothesis.given(st.text(alphabet=compat_string.ALPHABET, max_size=300))
def test_parse_arbitrary_text_raises_only_expected_errors(text):
    parsed = _parse_or_expected_error(text)
    if parsed is not None:
        assert parsed.text == text


@_FUZZ
@hypothesis.given(st.binary(max_size=300))
def test_parse_arbitrary_bytes_raises_only_expected_errors(data):
    try:
        text = compat_string.from_bytes(data)
    except exception.InvalidCompatString:
        return
    _parse_or_expected_error(text)


@_FUZZ
@hypothesis.given(st.text(alphabet='{}[]":,0x1aeE.-+/ \nNa', max_size=200))
def test_parse_json_like_noise(noise):
    _parse_or_expected_error('{' + noise)


@_FUZZ
@hypothesis.given(st.text(alphabet='{}:,"=\n-+*/019abintrg s;#', max_size=200))
def test_parse_keyvalue_like_noise(noise):
    parsed = _parse_or_expected_error('self:\n a=1\ncompatible:\n' + noise)
    if parsed is not None:
        for section in parsed.compatible:
            keyvalue.match({'a': '1', 'b': '12'}, section)


@_FUZZ
@hypothesis.given(st.text(alphabet=compat_string.ALPHABET, min_size=1,
                          max_size=200))
def test_opaque_never_raises(text):
    parsed = opaque.OpaqueFormat().parse(text)
    assert parsed.text == text
    assert parsed.format == 'opaque'


_NAMES = st.text(alphabet=string.ascii_letters + string.digits + '_-.',
                 min_size=1, max_size=12)
_VALUES = st.text(alphabet=compat_string.ALPHABET, max_size=20)
_SCALARS = st.one_of(_VALUES, st.integers(-10 ** 9, 10 ** 9), st.booleans())


def _expected_string(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


@st.composite
def descriptors(draw):
    """(descriptor dict, expected ParsedString fields)."""
    api = draw(st.sampled_from(['vfio-pci', 'vfio-ccw', 'vfio-ap']))
    major, minor = draw(st.integers(0, 10 ** 6)), draw(st.integers(0, 99))
    vendor, device = draw(st.integers(0, 0xffff)), draw(st.integers(0,
                                                                    0xffff))
    hex_ids = draw(st.booleans())
    attrs = draw(st.dictionaries(
        _NAMES.filter(lambda n: n not in ('mdev_type', 'type')), _VALUES,
        max_size=4))
    mdev_type = draw(st.none() | _NAMES)
    fields = draw(st.dictionaries(_NAMES, _SCALARS, max_size=4))
    mdev_attrs = [{k: v} for k, v in attrs.items()]
    if mdev_type is not None:
        mdev_attrs.insert(draw(st.integers(0, len(mdev_attrs))),
                          {'mdev_type': mdev_type})
    doc = {
        'device_api': api, 'vendor': draw(_NAMES),
        'version': {'major': major, 'minor': minor},
        api: {'vendor': '0x%04x' % vendor if hex_ids else vendor,
              'device': '0x%x' % device if hex_ids else device},
        'mdev_attrs': mdev_attrs,
        'vendor_fields': [{k: v} for k, v in fields.items()],
    }
    expected = dict(
        device_api=api, driver=doc['vendor'],
        version=base.Version(major, minor), pci_vendor=vendor,
        pci_device=device, mdev_type=mdev_type, attributes=attrs,
        vendor_fields={k: _expected_string(v) for k, v in fields.items()})
    return doc, expected


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(descriptors(), st.sampled_from([None, 0, 2]))
def test_json_descriptor_round_trip(case, indent):
    doc, expected = case
    text = json.dumps(doc, indent=indent)
    parsed = loader.parse(text)
    assert parsed.format == 'json'
    assert parsed.text == text
    for field, value in expected.items():
        assert getattr(parsed, field) == value, field
