"""The JSON descriptor of the 2020 thread (Alex Williamson's proposal).

::

    {"device_api": "vfio-pci", "vendor": "vendor-driver-name",
     "version": {"major": 0, "minor": 1},
     "vfio-pci": {"vendor": 0x1234, "device": 0x5678},
     "mdev_attrs": [{"attribute0": "VALUE"}],
     "vendor_fields": [{"field": "value"}]}

The thread's example is not strict JSON: it has hex literals, ``//``
comments and trailing commas.  A pre-pass, which also bounds the nesting
depth before :mod:`json` recurses, turns those into JSON.  Keys of the
device-API object other than ``vendor``/``device``, and unknown top-level
keys, become attributes (``"vfio-pci.subsystem"``, ``"foo"``) so that the
rule policy still compares them exactly.
"""

import json
import re

from nova_migcompat import exception
from nova_migcompat.formats import base

MAX_DEPTH = 16
MAX_NUMBER_CHARS = 20
MAX_PCI_ID = 0xffff

_KNOWN = frozenset(
    ('device_api', 'vendor', 'version', 'mdev_attrs', 'vendor_fields'))
_MDEV_TYPE_ATTRS = ('mdev_type', 'type')
_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_HEX_RE = re.compile(r'0[xX][0-9a-fA-F]+')
_HEX_STRING_RE = re.compile(r'0[xX][0-9a-fA-F]{1,8}\Z')
_TOKEN_CHARS = frozenset(
    'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_')


def _fail(fmt, *args):
    raise exception.ParseError(fmt % args)


class _Prepass:
    """Bound the depth and rewrite the thread's relaxed syntax into JSON."""

    def __init__(self, text):
        self.text = text
        self.out = []
        self.depth = 0
        # Index in self.out of a comma followed only by blanks/comments.
        self.pending_comma = None

    def run(self):
        text, i = self.text, 0
        while i < len(text):
            i = self._step(text, i)
        return ''.join(self.out)

    def _emit(self, chunk, significant=True):
        self.out.append(chunk)
        if significant:
            self.pending_comma = None

    def _step(self, text, i):
        char = text[i]
        if char == '"':
            match = _STRING_RE.match(text, i)
            end = match.end() if match else len(text)
            self._emit(text[i:end])
            return end
        if text.startswith('//', i):
            end = text.find('\n', i)
            return len(text) if end < 0 else end
        if char in '{[':
            self.depth += 1
            if self.depth > MAX_DEPTH:
                _fail('nesting deeper than %d levels at offset %d',
                      MAX_DEPTH, i)
        elif char in '}]':
            self.depth -= 1
            if self.pending_comma is not None:
                # Trailing comma of the thread's example: drop it.
                self.out[self.pending_comma] = ''
        elif char == ',':
            self._emit(char)
            self.pending_comma = len(self.out) - 1
            return i + 1
        elif char == '0' and (i == 0 or text[i - 1] not in _TOKEN_CHARS):
            match = _HEX_RE.match(text, i)
            if match:
                self._emit('"%s"' % match.group())
                return match.end()
        self._emit(char, significant=not char.isspace())
        return i + 1


def _bounded(kind, convert):
    def hook(literal):
        if len(literal) > MAX_NUMBER_CHARS:
            _fail('%s with %d characters, more than the %d allowed',
                  kind, len(literal), MAX_NUMBER_CHARS)
        return convert(literal)
    return hook


def _refuse_constant(name):
    _fail('%s is not a number a descriptor may hold', name)


def _unique_object(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            _fail('duplicate key %r', key)
        result[key] = value
    return result


def _loads(text):
    prepared = _Prepass(text).run()
    try:
        return json.loads(
            prepared,
            object_pairs_hook=_unique_object,
            parse_int=_bounded('integer', int),
            parse_float=_bounded('number', float),
            parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise exception.ParseError('invalid JSON: %s' % e) from None


def canonical(value):
    """A field value as a string: strings as they are, others as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(',', ':'))


def _describe(value):
    """Describe a decoded value for an error message."""
    if isinstance(value, dict):
        return 'an object'
    if isinstance(value, list):
        return 'a list'
    if isinstance(value, str):
        return repr(value[:40])
    return json.dumps(value)


def _string(doc, key):
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        _fail('%s: expected a non-empty string, got %s',
              key, _describe(value))
    return value


def _count(value, field):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        _fail('%s: expected a non-negative integer, got %s',
              field, _describe(value))
    return value


def _version(doc):
    value = doc.get('version')
    if value is None:
        return None
    if not isinstance(value, dict):
        _fail('version: expected an object with major and minor, got %s',
              _describe(value))
    extra = sorted(set(value) - {'major', 'minor'})
    if extra:
        _fail('version: unknown field %r', extra[0])
    for part in ('major', 'minor'):
        if part not in value:
            _fail('version: missing %s', part)
    return base.Version(_count(value['major'], 'version.major'),
                        _count(value['minor'], 'version.minor'))


def _pci_id(value, field):
    if isinstance(value, str) and _HEX_STRING_RE.match(value):
        value = int(value, 16)
    elif isinstance(value, bool) or not isinstance(value, int):
        _fail('%s: expected an integer or a "0x..." hex string, got %s',
              field, _describe(value))
    if not 0 <= value <= MAX_PCI_ID:
        _fail('%s: 0x%x is not a 16-bit PCI id', field, value)
    return value


def _pairs(doc, key):
    """Merge a list of one-key objects (``mdev_attrs``) into pairs."""
    items = doc.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        _fail('%s: expected a list of objects, got %s',
              key, _describe(items))
    pairs, seen = [], set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            _fail('%s[%d]: expected an object, got %s',
                  key, index, _describe(item))
        for name, value in item.items():
            if name in seen:
                _fail('%s: %r appears twice', key, name)
            seen.add(name)
            pairs.append((name, value))
    return pairs


class _Fields:
    """The ParsedString fields collected from one descriptor."""

    def __init__(self):
        self.pci = {}
        self.mdev_type = None
        self.attributes = {}

    def add_attribute(self, name, value, where):
        if name in self.attributes:
            _fail('%s: attribute %r defined twice', where, name)
        self.attributes[name] = canonical(value)


def _device_object(doc, device_api, fields):
    obj = doc.get(device_api)
    if obj is None:
        return
    if not isinstance(obj, dict):
        _fail('%s: expected an object, got %s', device_api, _describe(obj))
    for name, value in obj.items():
        field = '%s.%s' % (device_api, name)
        if name in ('vendor', 'device'):
            fields.pci[name] = _pci_id(value, field)
        else:
            fields.add_attribute(field, value, device_api)


def _mdev_attrs(doc, fields):
    for name, value in _pairs(doc, 'mdev_attrs'):
        if name in _MDEV_TYPE_ATTRS:
            if (fields.mdev_type is not None or not isinstance(value, str)
                    or not value):
                _fail('mdev_attrs: %s must be one non-empty string', name)
            fields.mdev_type = value
        else:
            fields.add_attribute(name, value, 'mdev_attrs')


def _extra_keys(doc, device_api, fields):
    for name, value in doc.items():
        if name not in _KNOWN and name != device_api:
            fields.add_attribute(name, value, 'descriptor')


def parse_descriptor(text):
    """Parse a descriptor into a ParsedString (format ``json``)."""
    doc = _loads(text)
    if not isinstance(doc, dict):
        _fail('expected a JSON object, got %s', _describe(doc))
    device_api = _string(doc, 'device_api')
    fields = _Fields()
    if device_api is not None:
        _device_object(doc, device_api, fields)
    _mdev_attrs(doc, fields)
    _extra_keys(doc, device_api, fields)
    vendor_fields = {}
    for name, value in _pairs(doc, 'vendor_fields'):
        vendor_fields[name] = canonical(value)
    return base.ParsedString(
        format=base.FORMAT_JSON, text=text, device_api=device_api,
        driver=_string(doc, 'vendor'), version=_version(doc),
        pci_vendor=fields.pci.get('vendor'),
        pci_device=fields.pci.get('device'),
        mdev_type=fields.mdev_type, attributes=fields.attributes,
        vendor_fields=vendor_fields)


class JsonDescriptorFormat(base.StringFormat):
    """Alex Williamson's JSON descriptor, with ``vendor_fields``."""

    name = base.FORMAT_JSON
    priority = 10

    def sniff(self, text):
        return text.lstrip().startswith('{')

    def parse(self, text):
        return parse_descriptor(text)
