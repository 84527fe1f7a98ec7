"""``decode`` and ``encode``: compatibility strings and their traits."""

import sys

from nova_migcompat import codec
from nova_migcompat import compat_string
from nova_migcompat import exception
from nova_migcompat import formats
from nova_migcompat.osc.v1 import base

DECODE_COLUMNS = ('Input', 'Role', 'Token', 'Format', 'Summary', 'String')
#: The SRC trait of the opaque string 'i915-GVTg_V5_8 1.0'.
EXAMPLE_TRAIT = 'CUSTOM_MIGCOMPAT_SRC_1DYXLHEOEQ70R94W'


class DecodeTrait(base.Lister):
    """Show the compatibility string behind traits or tokens.

    Each TRAIT is a CUSTOM_MIGCOMPAT_SRC_* trait (a provider's device
    produces the string), a CUSTOM_MIGCOMPAT_ACC_* trait (a provider's
    device accepts it) or a bare token.  A string longer than one trait
    is published in parts (CUSTOM_MIGCOMPAT_SRC_2...): give all its
    parts, which are decoded together, only when whole and intact.  Role
    is SRC, ACC or empty (a bare token); Format is the string's format
    (json, keyvalue, opaque, or malformed).  A TRAIT that is not a
    nova-migcompat trait is reported on stderr, the others are still
    shown, and the status is 1.
    """

    examples = (
        (EXAMPLE_TRAIT, 'the string a source device produces'),
        ('-f value -c String %s' % EXAMPLE_TRAIT, 'the string alone'),
    )

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('traits', nargs='+', metavar='TRAIT',
                            help='A CUSTOM_MIGCOMPAT_* trait or a token')
        return parser

    def take_action(self, parsed_args):
        found, bad, parts = [], [], {}
        for name in parsed_args.traits:
            # The input as typed, escaped and cut: no control characters
            # reach the terminal, one line per input.
            shown = ascii(name[:80])[1:-1]
            role, token = None, name
            if name.startswith('CUSTOM_'):
                parsed = codec.parse_trait(name)
                if parsed is None or parsed[0] not in codec.ROLES:
                    bad.append('%s: not a nova-migcompat trait (%sSRC_... '
                               'or %sACC_...)' % (shown, codec.PREFIX,
                                                  codec.PREFIX))
                    continue
                role, token = parsed
            if codec.is_part(token):
                # A part of a long string: decoded with its other parts.
                parts.setdefault(token[:codec.ID_LEN], []).append(
                    (name, role, token))
                continue
            if codec.is_long_id(token):
                bad.append('%s: names the long string %s: give its SRC '
                           'traits (its parts) to decode it'
                           % (shown, token))
                continue
            try:
                found.append((name, role, token, codec.decode(token)))
            except exception.InvalidToken:
                bad.append('%s: %s' % (shown, codec.problem(token)[1]))
        for id_, given in sorted(parts.items()):
            assembled = codec.assemble(token for _n, _r, token in given)
            if id_ in assembled.strings:
                found.append(('%d parts of %s' % (len(given), id_),
                              given[0][1], id_, assembled.strings[id_]))
            else:
                bad.append('the parts of %s: %s' % (
                    id_, assembled.problems.get(id_, 'not a string')))
        rows = []
        for name, role, token, text in found:
            try:
                parsed = formats.parse(text)
                fmt, summary = parsed.format, parsed.summary()
            except exception.ParseError as e:
                fmt, summary = 'malformed', base.one_line(e)
            rows.append((name, role or '', token, fmt, summary, text))
        for line in bad:
            print('%s: error: %s' % (self.app.NAME, line), file=sys.stderr)
        self.status = 1 if bad else 0
        return DECODE_COLUMNS, rows


class EncodeString(base.ShowOne):
    """Show the traits a compatibility string publishes as.

    The string is what a device's migration_version attribute holds (or
    the descriptor the agent synthesizes).  Its SRC trait marks providers
    whose devices produce it (a string longer than one trait has several:
    its parts), its ACC trait those whose devices accept it.
    """

    examples = (
        ("'i915-GVTg_V5_8 1.0'", 'the traits of an opaque string'),
        ('- < /sys/bus/mdev/devices/UUID/migration_version',
         "the traits of a device's own string"),
    )

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('string', metavar='STRING',
                            help="The compatibility string ('-' reads "
                                 'it from stdin)')
        return parser

    def take_action(self, parsed_args):
        text = parsed_args.string
        if text == '-':
            # Bounded: a string longer than the kernel interface allows
            # (plus its newline) is refused by encode() anyway.
            text = sys.stdin.read(compat_string.MAX_BYTES + 2)
            if text.endswith('\n'):
                text = text[:-1]
        encoded = codec.encode_string(text)
        srcs = [codec.trait(codec.SRC, part) for part in encoded.parts]
        return (('String', 'Token', 'SRC trait', 'ACC trait'),
                (text, encoded.id,
                 srcs[0] if len(srcs) == 1 else base.ListColumn(srcs),
                 codec.trait(codec.ACC, encoded.id)))
