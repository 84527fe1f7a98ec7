"""The key=value ``self``/``compatible`` form of the Aug-Sep 2020 RFCs.

::

    self:
        device_type=pci
        mdev_type=i915-GVTg_V5_2
        aggregator=1
    compatible:
        device_type=pci
        mdev_type=i915-GVTg_V5_{val1:int:1,2,4,8}
        aggregator={val1}/2

One ``self`` section, any number of ``compatible`` sections, each followed
by ``key=value`` lines (blank lines and ``#`` comments ignored).  The
single-line form ``self: k=v k=v; compatible: k=v`` is accepted too; its
values cannot contain blanks.

Compatible values are patterns: literal text, variable definitions
``{name:int:2,4,8}``, ``{name:int:1-4}``, ``{name:string:"a","b"}``,
references ``{name}`` to a variable defined earlier in the section, and,
for a value that is nothing but a reference to an int variable, one
operation ``{name}/2``, ``{name}*2``, ``{name}+1`` or ``{name}-1`` (exact
arithmetic: ``{val1}/2`` with val1=1 matches nothing).  ``""`` (or an empty
value) matches an absent or empty key.  Patterns are validated when the
string is parsed; :func:`match` decides whether a ``self`` mapping satisfies
one compatible section.

The ``self`` mapping is not stored whole in the model: identity keys map to
ParsedString fields, the rest to ``attributes``; :func:`self_mapping`
recovers the exact mapping from ``ParsedString.text``.
"""

import collections
import dataclasses
import fractions
import functools
import re
import typing

from nova_migcompat import exception
from nova_migcompat.formats import base

MAX_CHOICES = 64
MAX_INT_RANGE = 4096
MAX_INT_DIGITS = 9
MAX_VARIABLES = 16
MAX_KEYS = 128
MAX_SEGMENTS = 64
#: Backtracking steps one match may take before giving up.
MAX_STEPS = 20000

COMPATIBLE = 'compatible'

_HEADER_RE = re.compile(r'\s*(self|compatible)\s*:(.*)\Z', re.I)
_INLINE_SPLIT_RE = re.compile(r';\s*(?=(?:self|compatible)\s*:)', re.I)
_KEY_RE = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]*\Z')
_NAME_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z')
_INT_RE = re.compile(r'\d{1,%d}\Z' % MAX_INT_DIGITS)
_RANGE_RE = re.compile(r'(\d+)\s*-\s*(\d+)\Z')
_STRING_CHOICE_RE = re.compile(r'\s*"([^"]*)"\s*(,|\Z)')
_ARITH_RE = re.compile(r'([*/+-])(\d*)\Z')
_DIGITS_RE = re.compile(r'\d+')
_DEVICE_ID_RE = re.compile(r'(?:0x)?([0-9a-fA-F]{4}):?([0-9a-fA-F]{4})\Z')
_VERSION_RE = re.compile(r'(\d{1,9})(?:\.(\d{1,9}))?\Z')
_EMPTY_VALUES = ('', '""')
_DRIVER_KEYS = ('driver', 'vendor_driver')
_VERSION_KEYS = ('software_version', 'interface_version')


def _fail(fmt, *args):
    raise exception.ParseError(fmt % args)


# -- the pattern model ------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Literal:
    text: str


@dataclasses.dataclass(frozen=True)
class Define:
    name: str
    kind: str
    #: int: tuple of (low, high) ranges; string: tuple of strings.
    choices: tuple

    def render(self):
        if self.kind == 'int':
            items = ['%d' % lo if lo == hi else '%d-%d' % (lo, hi)
                     for lo, hi in self.choices]
        else:
            items = ['"%s"' % c for c in self.choices]
        return '{%s}' % ','.join(items)

    def allows(self, number):
        return any(lo <= number <= hi for lo, hi in self.choices)


@dataclasses.dataclass(frozen=True)
class Ref:
    name: str


@dataclasses.dataclass(frozen=True)
class Arith:
    name: str
    op: str
    operand: int

    def evaluate(self, env):
        value = fractions.Fraction(env[self.name])
        if self.op == '+':
            return value + self.operand
        if self.op == '-':
            return value - self.operand
        if self.op == '*':
            return value * self.operand
        return value / self.operand

    def render(self):
        return '{%s}%s%d' % (self.name, self.op, self.operand)


#: A compiled value: ``None`` for "empty or absent", an Arith, or a tuple of
#: Literal / Define / Ref segments.
Pattern = typing.Union[None, Arith, typing.Tuple[object, ...]]


# -- compiling patterns -----------------------------------------------------

def _int_choices(spec):
    ranges = []
    for item in spec.split(','):
        item = item.strip()
        match = _RANGE_RE.match(item)
        if match:
            low, high = (_int_literal(g) for g in match.groups())
            if low > high:
                _fail('empty int range %s', item)
            if high - low + 1 > MAX_INT_RANGE:
                _fail('int range %s has more than %d values',
                      item, MAX_INT_RANGE)
            ranges.append((low, high))
        elif item:
            number = _int_literal(item)
            ranges.append((number, number))
        else:
            _fail('empty choice in %r', spec)
    return ranges


def _int_literal(text):
    if not _INT_RE.match(text):
        _fail('%r is not an integer of at most %d digits',
              text, MAX_INT_DIGITS)
    return int(text)


def _string_choices(spec):
    choices, pos = [], 0
    while pos < len(spec):
        match = _STRING_CHOICE_RE.match(spec, pos)
        if not match:
            _fail('string choices must be double-quoted and comma-separated:'
                  ' %r', spec)
        choices.append(match.group(1))
        pos = match.end()
        if not match.group(2):
            break
        if pos == len(spec):
            _fail('empty choice in %r', spec)
    return choices


def _define(content, defined):
    name, kind, spec = (part.strip() for part in content.split(':', 2))
    if not _NAME_RE.match(name):
        _fail('invalid variable name %r', name)
    if not spec:
        _fail('no choices in {%s}', content)
    if name in defined:
        _fail('variable %s defined twice', name)
    if len(defined) >= MAX_VARIABLES:
        _fail('more than %d variables', MAX_VARIABLES)
    if kind == 'int':
        choices = _int_choices(spec)
    elif kind == 'string':
        choices = _string_choices(spec)
    else:
        _fail('unknown type %r in {%s} (int or string)', kind, content)
    if len(choices) > MAX_CHOICES:
        _fail('more than %d choices in {%s}', MAX_CHOICES, content)
    defined[name] = kind
    # Duplicates are harmless: drop them, keep the order for messages.
    return Define(name, kind, tuple(dict.fromkeys(choices)))


def _brace(content, defined):
    parts = content.split(':', 2)
    if len(parts) == 3:
        return _define(content, defined)
    if len(parts) == 2:
        _fail('expected {name} or {name:type:choices}, got {%s}', content)
    name = content.strip()
    if not _NAME_RE.match(name):
        _fail('invalid variable reference {%s}', content)
    if name not in defined:
        _fail('reference to undefined variable %s', name)
    return Ref(name)


def _brace_end(text, start):
    """Index of the ``}`` closing the ``{`` at ``start``."""
    quoted = False
    for pos in range(start + 1, len(text)):
        char = text[pos]
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char == '}':
            return pos
        elif char == '{':
            _fail('nested { at offset %d', pos)
    _fail('unclosed { at offset %d', start)


def _segments(text, defined):
    segments, pos = [], 0
    while pos < len(text):
        char = text[pos]
        if char == '{':
            end = _brace_end(text, pos)
            segments.append(_brace(text[pos + 1:end], defined))
            pos = end + 1
        elif char == '}':
            _fail('unmatched } at offset %d', pos)
        else:
            end = min([i for i in (text.find('{', pos), text.find('}', pos))
                       if i >= 0] or [len(text)])
            segments.append(Literal(text[pos:end]))
            pos = end
    if len(segments) > MAX_SEGMENTS:
        _fail('more than %d literal and {...} parts', MAX_SEGMENTS)
    return tuple(segments)


def _arithmetic(segments, defined):
    """Turn ``{int_var}<op><n>`` into an Arith, or return None."""
    if (len(segments) != 2 or not isinstance(segments[0], Ref)
            or not isinstance(segments[1], Literal)
            or defined[segments[0].name] != 'int'):
        return None
    name, rest = segments[0].name, segments[1].text
    match = _ARITH_RE.match(rest)
    if match and match.group(2):
        operand = _int_literal(match.group(2))
        if match.group(1) == '/' and operand == 0:
            _fail('division by zero in {%s}%s', name, rest)
        return Arith(name, match.group(1), operand)
    if rest[:1] in ('*', '/'):
        _fail('bad arithmetic {%s}%s: expected {%s}%s followed by an'
              ' integer', name, rest, name, rest[0])
    return None


def compile_value(text, defined):
    """Compile one compatible value; ``defined`` maps variable -> type.

    :raises ParseError: naming the problem (the caller adds the key).
    """
    if text in _EMPTY_VALUES:
        return None
    segments = _segments(text, defined)
    return _arithmetic(segments, defined) or segments


@functools.lru_cache(maxsize=256)
def _compile_items(items):
    if not items:
        _fail('empty compatible section')
    if len(items) > MAX_KEYS:
        _fail('more than %d keys', MAX_KEYS)
    defined, compiled = {}, []
    for key, text in items:
        try:
            compiled.append((key, compile_value(text, defined)))
        except exception.ParseError as e:
            raise exception.ParseError('%s: %s' % (key, e)) from None
    return tuple(compiled)


def compile_section(section):
    """Compile a compatible section: a tuple of (key, Pattern)."""
    return _compile_items(tuple(section.items()))


# -- matching ---------------------------------------------------------------

MatchResult = collections.namedtuple(
    'MatchResult', ['ok', 'reason', 'key', 'matched'])


class _TooComplex(Exception):
    pass


class _Search:
    """Backtracking over the bindings of one section."""

    def __init__(self, compiled, self_attrs):
        self.compiled = compiled
        self.self_attrs = self_attrs
        self.steps = 0
        self.furthest = (-1, None)

    def tick(self):
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _TooComplex()

    def solve(self, index, env):
        if index == len(self.compiled):
            yield env
            return
        key, pattern = self.compiled[index]
        value = self.self_attrs.get(key)
        for bound in _match_value(pattern, value, env, self):
            yield from self.solve(index + 1, bound)
        if index > self.furthest[0]:
            self.furthest = (index, env)

    def segments(self, segments, text, pos, env):
        self.tick()
        if not segments:
            if pos == len(text):
                yield env
            return
        head, rest = segments[0], segments[1:]
        for end, bound in _match_segment(head, text, pos, env):
            yield from self.segments(rest, text, end, bound)


def _match_segment(segment, text, pos, env):
    """Yield (end, env) for each way ``segment`` matches at ``pos``."""
    if isinstance(segment, Literal):
        if text.startswith(segment.text, pos):
            yield pos + len(segment.text), env
    elif isinstance(segment, Ref):
        bound = str(env[segment.name])
        if text.startswith(bound, pos):
            yield pos + len(bound), env
    elif segment.kind == 'string':
        for choice in segment.choices:
            if text.startswith(choice, pos):
                yield pos + len(choice), dict(env, **{segment.name: choice})
    else:
        digits = _DIGITS_RE.match(text, pos)
        run = digits.group() if digits else ''
        for length in range(1, min(len(run), MAX_INT_DIGITS) + 1):
            number = int(run[:length])
            # Only canonical decimals: "02" is not 2.
            if str(number) == run[:length] and segment.allows(number):
                yield pos + length, dict(env, **{segment.name: number})


def _match_value(pattern, value, env, search):
    if pattern is None:
        if value is None or value in _EMPTY_VALUES:
            yield env
    elif value is None:
        return
    elif isinstance(pattern, Arith):
        search.tick()
        expected = pattern.evaluate(env)
        if expected.denominator == 1 and value == str(expected.numerator):
            yield env
    else:
        yield from search.segments(pattern, value, 0, env)


def _render(pattern, env):
    parts = []
    for segment in pattern:
        if isinstance(segment, Literal):
            parts.append(segment.text)
        elif isinstance(segment, Ref):
            parts.append(str(env.get(segment.name, '{%s}' % segment.name)))
        else:
            parts.append(segment.render())
    return ''.join(parts)


def _explain(key, pattern, value, env):
    """Why ``value`` of ``key`` does not match ``pattern`` under ``env``."""
    if pattern is None:
        return '%s %s is not empty' % (key, value)
    if isinstance(pattern, Arith):
        expected = pattern.evaluate(env)
        wanted = '%s (%s with %s=%s)' % (
            expected, pattern.render(), pattern.name, env[pattern.name])
    elif all(isinstance(s, (Literal, Ref)) for s in pattern):
        wanted = _render(pattern, env)
    else:
        wanted = None
    if value is None:
        return '%s absent, expected %s' % (key, wanted or _render(
            pattern, env))
    if wanted is not None:
        return '%s %s != %s' % (key, value, wanted)
    return '%s %s not in %s' % (key, value, _render(pattern, env))


def match(self_attrs, compatible_section):
    """Decide whether a ``self`` mapping satisfies one compatible section.

    Every key of the section must match; variables bind consistently
    across keys (backtracking where a value could bind several ways).

    :returns: a MatchResult: ``ok``, a human ``reason``, the failing
        ``key`` (None on success) and how many keys matched before it.
    :raises ParseError: if the section does not compile.
    """
    compiled = compile_section(compatible_section)
    search = _Search(compiled, self_attrs)
    try:
        env = next(search.solve(0, {}), None)
    except _TooComplex:
        return MatchResult(False, 'pattern too complex to decide (more'
                           ' than %d steps)' % MAX_STEPS, None, 0)
    if env is not None:
        bindings = ', '.join('%s=%s' % item for item in sorted(env.items()))
        reason = ('all %d keys match' % len(compiled) if len(compiled) > 1
                  else 'the key matches')
        if bindings:
            reason = '%s (%s)' % (reason, bindings)
        return MatchResult(True, reason, None, len(compiled))
    index, env = search.furthest
    key, pattern = compiled[index]
    reason = _explain(key, pattern, self_attrs.get(key), env)
    return MatchResult(False, reason, key, index)


# -- parsing the string -----------------------------------------------------

def _logical_lines(text):
    for number, line in enumerate(text.split('\n'), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith('#'):
            continue
        for part in _INLINE_SPLIT_RE.split(stripped):
            yield number, part


def _pair(number, token):
    key, sep, value = token.partition('=')
    key, value = key.strip(), value.strip()
    if not sep:
        _fail('line %d: expected key=value, got %r', number, token[:40])
    if not _KEY_RE.match(key):
        _fail('line %d: invalid key %r', number, key[:40])
    return key, value


def _sections(text):
    """Yield (kind, line, [(key, value), ...]) in the order written."""
    current = None
    for number, line in _logical_lines(text):
        header = _HEADER_RE.match(line)
        if header:
            if current is not None:
                yield current
            current = (header.group(1).lower(), number, [])
            current[2].extend(
                _pair(number, tok) for tok in header.group(2).split())
        elif current is None:
            _fail('line %d: key=value before any self: or compatible:'
                  ' section', number)
        else:
            current[2].append(_pair(number, line))
    if current is not None:
        yield current


def _mapping(kind, number, pairs):
    if not pairs:
        _fail('%s: section at line %d is empty', kind, number)
    result = {}
    for key, value in pairs:
        if key in result:
            _fail('%s: section at line %d: duplicate key %r',
                  kind, number, key)
        result[key] = value
    return result


def split_sections(text):
    """Return (self mapping, [compatible mappings]) of a key=value string.

    ``key=""`` in ``self`` becomes the empty string.
    """
    self_attrs, compatible = None, []
    for kind, number, pairs in _sections(text):
        mapping = _mapping(kind, number, pairs)
        if kind == COMPATIBLE:
            compatible.append(mapping)
        elif self_attrs is not None:
            _fail('second self: section at line %d', number)
        else:
            self_attrs = {k: '' if v in _EMPTY_VALUES else v
                          for k, v in mapping.items()}
    if self_attrs is None:
        _fail('no self: section')
    return self_attrs, compatible


def self_mapping(parsed):
    """The exact ``self`` mapping of a parsed key=value string, else None."""
    if parsed.format != base.FORMAT_KEYVALUE:
        return None
    return split_sections(parsed.text)[0]


def _pop_first(attrs, keys, convert):
    for key in keys:
        value = convert(attrs.get(key) or '')
        if value is not None:
            del attrs[key]
            return value
    return None


def _device_id(text):
    match = _DEVICE_ID_RE.match(text)
    return match and (int(match.group(1), 16), int(match.group(2), 16))


def _version(text):
    match = _VERSION_RE.match(text)
    return match and base.Version(int(match.group(1)),
                                  int(match.group(2) or 0))


def parse_keyvalue(text):
    """Parse a key=value string into a ParsedString (format keyvalue)."""
    self_attrs, compatible = split_sections(text)
    for index, section in enumerate(compatible, 1):
        try:
            compile_section(section)
        except exception.ParseError as e:
            raise exception.ParseError(
                'compatible section %d: %s' % (index, e)) from None
    attrs = dict(self_attrs)
    pci = _pop_first(attrs, ('device_id',), _device_id) or (None, None)
    return base.ParsedString(
        format=base.FORMAT_KEYVALUE, text=text,
        driver=_pop_first(attrs, _DRIVER_KEYS, lambda v: v or None),
        version=_pop_first(attrs, _VERSION_KEYS, _version),
        pci_vendor=pci[0], pci_device=pci[1],
        mdev_type=_pop_first(attrs, ('mdev_type',), lambda v: v or None),
        attributes=attrs, compatible=tuple(compatible))


class KeyValueFormat(base.StringFormat):
    """The ``self:`` / ``compatible:`` key=value form."""

    name = base.FORMAT_KEYVALUE
    priority = 20

    def sniff(self, text):
        for _number, line in _logical_lines(text):
            return _HEADER_RE.match(line) is not None
        return False

    def parse(self, text):
        return parse_keyvalue(text)
