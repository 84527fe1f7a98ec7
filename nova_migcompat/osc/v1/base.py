"""What the commands of both command lines share.

The command classes of :mod:`nova_migcompat.osc.v1` are cliff commands:
``openstack migcompat ...`` (the OpenStackClient plugin) and
``nova-migcompat ...`` (the operator tool, :mod:`nova_migcompat.cmd.
migcompat`) run the same classes.  Both applications give them a
``client_manager.migcompat`` (the placement client); the operator tool
also gives them its configuration (``app.conf``).  They import cliff
only, so that the operator tool runs without OpenStackClient installed.
"""

import inspect
import sys

from cliff import _argparse
from cliff import columns
from cliff import command
from cliff import lister
from cliff import show
import stevedore

from nova_migcompat import exception


class CommandError(Exception):
    """A command cannot do what it was asked: one line saying why."""


class ListColumn(columns.FormattableColumn):
    """A list: comma separated in tables, a list in JSON and YAML."""

    def human_readable(self):
        return ', '.join(str(item) for item in self._value or ())

    def machine_readable(self):
        return [item for item in self._value or ()]


class DictColumn(columns.FormattableColumn):
    """A mapping: ``key='value', ...`` in tables, a mapping in JSON."""

    def human_readable(self):
        return ', '.join('%s=%r' % item for item in sorted(
            (self._value or {}).items()))

    def machine_readable(self):
        return dict(self._value or {})


class _Formatter(_argparse.SmartHelpFormatter):
    """Keeps the line breaks of descriptions and examples."""

    def _fill_text(self, text, width, indent):
        return ''.join(indent + line for line in text.splitlines(True))


def _one_line_errors(parser):
    """argparse's usage errors as one line on stderr, status 2."""
    def error(message):
        sys.stderr.write('%s: error: %s (see %s --help)\n'
                         % (parser.prog, message, parser.prog))
        sys.exit(2)
    parser.error = error
    return parser


class _Base(object):
    """Descriptions from the docstring, examples, one-line errors.

    ``examples``: ``(arguments, what it does)`` pairs, shown in ``--help``
    after the command's name as it was called.
    """

    examples = ()

    def get_description(self):
        return inspect.cleandoc(self.__doc__ or '')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.formatter_class = _Formatter
        if self.examples:
            parser.epilog = 'Examples:\n' + ''.join(
                '  %s %s\n      %s\n' % (prog_name, args, what)
                for args, what in self.examples)
        return _one_line_errors(parser)

    def run(self, parsed_args):
        try:
            status = super().run(parsed_args)
        except exception.MigCompatError as e:
            raise CommandError(one_line(e))
        return getattr(self, 'status', None) or status

    def placement(self):
        """The placement client of the application."""
        return self.app.client_manager.migcompat


def one_line(error):
    return ' '.join(str(error).split())


class Command(_Base, command.Command):
    pass


class Lister(_Base, lister.Lister):
    pass


class ShowOne(_Base, show.ShowOne):
    """One object; without cliff's ``shell`` format.

    That format quotes a value only by escaping ``"``: ``eval`` of it runs
    any ``$(...)`` in a compatibility string, and a device's string is
    not the operator's to trust.
    """

    def _load_formatter_plugins(self):
        return stevedore.EnabledExtensionManager(
            self.formatter_namespace, check_func=lambda ext:
            ext.name != 'shell', invoke_on_load=True)
