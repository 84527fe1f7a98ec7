"""nova-migcompat: the operator tool.

A cliff application, like ``openstack``: the commands that do the same
thing are the same classes as the ``openstack migcompat`` plugin's
(:mod:`nova_migcompat.osc.v1`), with cliff's output formats (``-f
table|json|yaml|value|csv``, ``-c COLUMN``).  It reads
``/etc/nova/nova.conf`` when it exists, or the ``--config-file`` files
given anywhere on the command line (``[placement]`` credentials as
nova-compute has them, ``[migcompat]``), and checks every option it uses
before running a command.

Exit status: 0 success; 1 the command failed (one line on stderr);
2 a usage or configuration error; ``status``: 0, 1 (a warning) or 2 (a
failure), as ``nova-status upgrade check``.
"""

import logging
import os
import sys

from cliff import app
from cliff import commandmanager
from oslo_config import cfg

from nova_migcompat.cmd import common
from nova_migcompat import conf as migcompat_conf
from nova_migcompat.osc.v1 import base
from nova_migcompat import placement
from nova_migcompat import status
from nova_migcompat import version

PROG = 'nova-migcompat'
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: Interrupted (Ctrl-C), as cliff and shells report a SIGINT.
EXIT_INTERRUPTED = 130

#: The stevedore namespace of the commands (cliff's CommandManager).
NAMESPACE = 'nova_migcompat.cli'
#: Options that are taken wherever they are on the command line.
_CONFIG_OPTIONS = ('--config-file', '--config-dir')
_DESCRIPTION = """\
The operator tool of nova-migcompat: this host's devices and their
compatibility strings, the fleet's traits in placement, which hosts accept
a server's live migration, a deployment check, and a purge.

It reads /etc/nova/nova.conf when it exists, or the --config-file files
([placement] credentials as nova-compute has them, [migcompat]).
Exit status: 0 success, 1 the command failed, 2 a usage or configuration
error; status: 0, 1 (warning) or 2 (failure)."""


def hoist_config_options(argv):
    """``--config-file``/``--config-dir`` moved before the command."""
    front, rest = [], []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == '--':
            rest += argv[i:]
            break
        if arg in _CONFIG_OPTIONS and i + 1 < len(argv):
            front += argv[i:i + 2]
            i += 2
            continue
        if arg.split('=', 1)[0] in _CONFIG_OPTIONS and '=' in arg:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


class ExactCommandManager(commandmanager.CommandManager):
    """Commands by their whole names only.

    cliff also runs a command from any unique prefix of its name: ``p``
    would be ``purge``.  A command that changes placement is not run from a
    typo.
    """

    def find_command(self, argv):
        for i in range(len(argv), 0, -1):
            name = ' '.join(argv[:i])
            if name in self.commands:
                return self.commands[name].load(), name, argv[i:]
        raise ValueError('Unknown command %r' % (argv,))


class ClientManager(object):
    """``client_manager.migcompat``: the placement client, made on use."""

    def __init__(self, conf):
        self._conf = conf
        self._client = None

    @property
    def migcompat(self):
        if self._client is None:
            self._client = placement.PlacementClient.from_conf(self._conf)
        return self._client


def load_config(options):
    """The tool's configuration, every option checked.

    :raises ConfigError: a file is missing or malformed, or an option's
        value is invalid.
    """
    conf = cfg.ConfigOpts()
    migcompat_conf.register_opts(conf)
    migcompat_conf.register_placement_opts(conf)
    migcompat_conf.register_nova_device_opts(conf)
    status.register_nova_filter_opts(conf)
    args = []
    for path in options.config_file or []:
        args += ['--config-file', path]
    for path in options.config_dir or []:
        args += ['--config-dir', path]
    defaults = [common.NOVA_CONF] if os.path.isfile(common.NOVA_CONF) else []
    common.check_files(list(options.config_file or []) or defaults)
    try:
        conf(args, project='nova', prog=PROG, default_config_files=defaults,
             use_env=False)
    except cfg.Error as e:
        raise common.ConfigError(common.describe(e))
    except (OSError, UnicodeDecodeError) as e:
        raise common.ConfigError('cannot read the configuration: %s' % e)
    common.check_config(conf, (migcompat_conf.migcompat_group.name,
                               migcompat_conf.PLACEMENT_GROUP,
                               migcompat_conf.NOVA_DEVICES_GROUP,
                               status.FILTER_GROUP))
    return conf


class _ConsoleFormatter(logging.Formatter):
    """``nova-migcompat: error: ...`` for errors and warnings."""

    def __init__(self, debug=False):
        super().__init__()
        self.debug = debug

    def format(self, record):
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            text = '%s: %s: %s' % (PROG, record.levelname.lower(),
                                   ' '.join(text.split()))
        if self.debug and record.exc_info:
            # --debug: the traceback too.
            text += '\n' + self.formatException(record.exc_info)
        return text


class OperatorApp(app.App):

    NAME = PROG

    def __init__(self):
        super().__init__(description=_DESCRIPTION,
                         version=version.version_string(),
                         command_manager=ExactCommandManager(NAMESPACE),
                         deferred_help=True)
        self.conf = None
        self.config_files = []
        self.client_manager = None

    def build_option_parser(self, description, version, argparse_kwargs=None):
        parser = super().build_option_parser(description, version,
                                             argparse_kwargs)
        parser.formatter_class = base._Formatter
        parser.prog = PROG
        for action in parser._actions:
            if action.dest == 'version':
                action.version = '%s %s' % (PROG, version)
        parser.add_argument(
            '--config-file', action='append', metavar='PATH',
            help='A configuration file to read (repeatable, anywhere on '
                 'the command line); default: %s when it exists'
                 % common.NOVA_CONF)
        parser.add_argument(
            '--config-dir', action='append', metavar='DIR',
            help='Read every *.conf file of DIR too (repeatable)')
        return base._one_line_errors(parser)

    def configure_logging(self):
        try:
            super().configure_logging()
        except OSError as e:
            self.stderr.write('%s: error: cannot open the log file %s '
                              '(--log-file): %s\n'
                              % (PROG, self.options.log_file,
                                 e.strerror or e))
            raise SystemExit(EXIT_USAGE)
        # Output only, by default; -v: INFO, -vv: DEBUG.
        level = {0: logging.WARNING, 1: logging.WARNING,
                 2: logging.INFO}.get(self.options.verbose_level,
                                      logging.DEBUG)
        for handler in logging.getLogger('').handlers:
            if getattr(handler, 'stream', None) is self.stderr:
                handler.setFormatter(_ConsoleFormatter(self.options.debug))
                handler.setLevel(level)

    def initialize_app(self, argv):
        if not argv or argv[0] in ('help', 'complete'):
            return
        try:
            self.conf = load_config(self.options)
        except common.ConfigError as e:
            self.stderr.write('%s: error: %s\n' % (PROG, e))
            raise SystemExit(EXIT_USAGE)
        self.config_files = common.config_files(self.conf)
        self.client_manager = ClientManager(self.conf)

    def run_subcommand(self, argv):
        try:
            self.command_manager.find_command(argv)
        except ValueError:
            matches = self.get_fuzzy_matches(argv[0])
            hint = (' (did you mean %s?)' % ' or '.join(
                repr(m) for m in matches[:3])) if matches else ''
            self.stderr.write("%s: error: '%s' is not a command%s; see "
                              "'%s help'\n" % (PROG, ' '.join(argv), hint,
                                               PROG))
            return EXIT_USAGE
        return super().run_subcommand(argv)

    def clean_up(self, cmd, result, err):
        if self.conf is not None:
            # Overrides (--sysfs-root) live on the option group objects.
            self.conf.reset()


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        argv = ['--help']
    root = logging.getLogger('')
    handlers = list(root.handlers)
    try:
        status_code = OperatorApp().run(hoist_config_options(argv))
        sys.stdout.flush()
    except BrokenPipeError:
        status_code = None
    except KeyboardInterrupt:
        status_code = EXIT_INTERRUPTED
    finally:
        # The application's handlers (main() may run again in a process).
        for handler in set(root.handlers) - set(handlers):
            root.removeHandler(handler)
    if status_code == EXIT_INTERRUPTED:
        # Ctrl-C (cliff answers it with 130, silently): one line.
        print('%s: interrupted' % PROG, file=sys.stderr)
        return status_code
    if status_code is None or status_code == 141:
        # `| head`: the reader is gone; say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return status_code


if __name__ == '__main__':
    sys.exit(main())
