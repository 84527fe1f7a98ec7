"""nova-migcompat-agent: the compute-side reporter.

Runs beside nova-compute and keeps placement's view of the host's devices
true (see :mod:`nova_migcompat.agent.reporter`).  It reads
``/etc/nova/nova.conf`` (``[placement]`` credentials, as nova-compute
uses them, and ``[migcompat]``) and
``/etc/nova/nova-migcompat-agent.conf`` when they exist, or the
``--config-file`` files given.

Modes: a daemon (the default), ``--once`` (one cycle; exit status 0 when
published, 1 when the cycle failed, 3 when it published but some local
devices could not be reported), ``--dry-run`` (no placement at all: what
would be published, checked against the local strings only).

Start-up never ends in a traceback: every option of ``[DEFAULT]`` (the
logging options), ``[migcompat]``, ``[placement]`` and ``[devices]`` is
read and checked first (oslo.config only converts a value when it is
read), and a bad value, a missing or malformed configuration file, an
unusable ``[placement]`` or device source configuration, or a lock held by
another agent ends the agent with exit status 2 and one line on stderr.
A SIGHUP re-reads the configuration files into a new configuration and
checks it the same way: when it is unreadable or invalid, the running
configuration stays and one error line says why.  Logging is set up once,
at start.

One agent per host: the daemon and ``--once`` hold an exclusive
``flock`` on ``[migcompat]lock_path`` (``--dry-run`` takes none).

Logging: the agent logs to stderr (the journal, under systemd) by
default.  ``log_file``, ``log_dir`` and ``log_config_append`` set in a file
named ``nova.conf`` are nova-compute's, not the agent's (the agent reads
nova.conf for ``[placement]``, and nova's log directory may not be
writable under the hardened unit): they are ignored.  Set them in the
agent's own file (``nova-migcompat-agent.conf``) or on the command line
(``--log-file``, ``--log-dir``) to log to a file.
"""

import errno
import fcntl
import io
import os
import random
import re
import signal
import stat
import sys
import time

from oslo_config import cfg
from oslo_log import log as logging

from nova_migcompat.agent import device_process
from nova_migcompat.agent import last_cycle
from nova_migcompat.agent import reporter as reporter_mod
from nova_migcompat.agent import state_file
from nova_migcompat.cmd import common
from nova_migcompat import codec
from nova_migcompat import conf as migcompat_conf
from nova_migcompat import exception
from nova_migcompat import placement
from nova_migcompat import version

LOG = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_DEVICE_PROBLEMS = 3
#: A bad configuration or another agent's lock: systemd does not restart
#: the unit on it (``RestartPreventExitStatus=2``).
EXIT_CONFIG = 2
#: Interrupted (Ctrl-C), as shells report a SIGINT.
EXIT_INTERRUPTED = 130

PROG = 'nova-migcompat-agent'
#: The groups whose every option the agent checks at start (and DEFAULT).
CHECKED_GROUPS = (migcompat_conf.migcompat_group.name,
                  migcompat_conf.PLACEMENT_GROUP,
                  migcompat_conf.NOVA_DEVICES_GROUP)
#: How oslo.config words a bad value of a command line option in a file.
_CLI_VALUE_ERROR = re.compile(r'argument --(\S+): Invalid (\w+) value: (.*)')
_TYPE_WORDS = {'Boolean': 'boolean (true or false)', 'Integer': 'integer'}
#: Logging options of nova.conf that are nova-compute's, not the agent's.
NOVA_LOGGING_OPTS = ('log_file', 'log_dir', 'log_config_append')

cli_opts = [
    cfg.BoolOpt('once', default=False,
                help='Run one reporting cycle and exit.'),
    cfg.BoolOpt('dry-run', default=False,
                help='Print what would be published, without placement.'),
]

#: Backoff after failed cycles: 5 s, 10 s, 20 s... at most the interval.
_FIRST_BACKOFF = 5


def summary(report, seconds):
    return ('%d devices (%d tracked), %d fleet strings, %d providers, '
            '%d checks (%d waiting), %d placement requests (%d writes), '
            'changed: %s, in %.2f s' % (
                report.devices, report.tracked, report.catalog,
                report.providers, report.checks, report.behind,
                report.requests, report.writes,
                ', '.join(report.changed) or 'none', seconds))


#: The agent's one-line start (and reload) errors.
StartError = common.ConfigError
file_setting = common.file_setting
describe = common.describe


def _argv_files(argv):
    files = []
    for i, arg in enumerate(argv):
        if arg == '--config-file' and i + 1 < len(argv):
            files.append(argv[i + 1])
        elif arg.startswith('--config-file='):
            files.append(arg.split('=', 1)[1])
    return files


def check_config(conf):
    """Read every option the agent uses; StartError names a bad one."""
    common.check_config(conf, CHECKED_GROUPS)


def load_checked(argv, default_config_files=None):
    """A parsed and checked configuration; StartError otherwise."""
    common.check_files(_argv_files(argv))
    try:
        conf = load_config(argv, default_config_files)
    except cfg.Error as e:
        raise StartError(describe(e))
    except (OSError, UnicodeDecodeError) as e:
        raise StartError('cannot read the configuration: %s' % e)
    try:
        check_config(conf)
    except StartError:
        conf.reset()
        raise
    return conf


def new_reporter(conf, should_stop=None, process=None):
    """The placement client and Reporter of a checked configuration.

    :param process: the device process to load the sources in (a reload).
    """
    try:
        client = placement.PlacementClient.from_conf(conf)
    except exception.PlacementNotConfigured as e:
        raise StartError(str(e))
    except Exception as e:
        raise StartError('cannot use the [placement] configuration (%s: '
                         '%s)' % (type(e).__name__, e))
    try:
        return reporter_mod.Reporter(conf, client, should_stop=should_stop,
                                     process=process)
    except (device_process.SourcesNotLoaded,
            device_process.DeviceProcessError) as e:
        raise StartError(str(e))
    except Exception as e:
        raise StartError('cannot load the device sources (%s: %s)'
                         % (type(e).__name__, e))


def acquire_lock(path):
    """Hold an exclusive flock on ``path``; returns its descriptor.

    The file is opened without following a link, and must be the agent's
    own regular file in a directory others cannot write (as the state
    files): root writes its pid into it.  Every failure is one line.
    """
    where = '%s ([migcompat]lock_path)' % path
    try:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, mode=0o755, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC |
                     os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise StartError('the lock file %s is a link: refusing to '
                             'follow it' % where)
        raise StartError('cannot open the lock file %s: %s'
                         % (where, e.strerror or e))
    try:
        st = os.fstat(fd)
        why = None
        if not stat.S_ISREG(st.st_mode):
            why = 'it is not a regular file'
        else:
            why = (state_file.unsafe(st, 'it') or
                   state_file.unsafe(os.lstat(os.path.dirname(path) or '.'),
                                     'its directory'))
        if why:
            raise StartError('refusing the lock file %s: %s' % (where, why))
    except OSError as e:
        os.close(fd)
        raise StartError('cannot check the lock file %s: %s'
                         % (where, e.strerror or e))
    except StartError:
        os.close(fd)
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        try:
            holder = os.read(fd, 32).decode('ascii', 'replace').strip()
        except OSError:
            holder = ''
        os.close(fd)
        if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
            raise StartError(
                'another nova-migcompat-agent%s holds the lock %s: one '
                'agent per host' % (
                    ' (pid %s)' % holder if holder.isdigit() else '', where))
        raise StartError('cannot lock %s: %s' % (where, e.strerror or e))
    try:
        os.ftruncate(fd, 0)
        data = b'%d\n' % os.getpid()
        if os.write(fd, data) != len(data):
            raise OSError(errno.ENOSPC, 'short write')
    except OSError as e:
        os.close(fd)
        raise StartError('cannot write the lock file %s: %s'
                         % (where, e.strerror or e))
    return fd


class Agent(object):

    def __init__(self, conf, argv=None, default_config_files=None):
        self.conf = conf
        #: How to parse the configuration again on SIGHUP.
        self.argv = argv
        self.default_config_files = default_config_files
        # Plain flags: a signal handler must not take a lock the main
        # thread may hold (threading.Event does).
        self._stopping = False
        self._reload = False
        self.reporter = None

    def build(self):
        self.reporter = new_reporter(self.conf,
                                     should_stop=lambda: self._stopping)
        return self.reporter

    def reload(self):
        """Parse and check the configuration again; keep it if bad."""
        argv = self.argv
        if argv is None:
            argv = []
            for path in self.conf.config_file or []:
                argv += ['--config-file', path]
            for path in self.conf.config_dir or []:
                argv += ['--config-dir', path]
        try:
            conf = load_checked(argv, self.default_config_files)
            # The same device process: it knows which devices still hang.
            reporter = new_reporter(conf, should_stop=lambda: self._stopping,
                                    process=self.reporter.process)
        except StartError as e:
            LOG.error('SIGHUP: keeping the running configuration: %s', e)
            return False
        self.conf, self.reporter = conf, reporter
        LOG.info('SIGHUP: configuration reloaded')
        return True

    def cycle(self):
        start = time.monotonic()
        report = self.reporter.run_cycle()
        line = summary(report, time.monotonic() - start)
        if report.ok:
            LOG.info('Reporting cycle: %s', line)
        else:
            LOG.error('Reporting cycle failed (%s): %s', report.failure, line)
        last_cycle.write(self.conf, report.ok, line,
                         None if report.ok else str(report.failure))
        return report

    def stop(self, *_args):
        self._stopping = True

    def _hup(self, *_args):
        self._reload = True

    def _sleep(self, seconds):
        """Sleep, waking up within a second for SIGTERM or SIGHUP."""
        deadline = time.monotonic() + seconds
        while not (self._stopping or self._reload):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 1.0))

    def run_forever(self):
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGHUP, self._hup)
        if self.reporter is None:
            self.build()
        failures = 0
        while not self._stopping:
            if self._reload:
                self._reload = False
                LOG.info('SIGHUP: reloading the configuration')
                self.reload()
            try:
                report = self.cycle()
            except Exception:
                # The cycle reports its own failures; this is a bug, but
                # the daemon goes on (with the failure backoff).
                LOG.exception('Reporting cycle crashed')
                report = None
            if report is not None and report.ok:
                failures = 0
                delay = self.conf.migcompat.interval * random.uniform(1, 1.1)
            else:
                failures += 1
                delay = min(self.conf.migcompat.interval,
                            _FIRST_BACKOFF * 2 ** (failures - 1))
            self._sleep(delay)
        LOG.info('Stopped')
        return EXIT_OK


def print_dry_run(conf, out=None):
    out = out or sys.stdout
    try:
        reporter = reporter_mod.Reporter(conf, None)
    except (device_process.SourcesNotLoaded,
            device_process.DeviceProcessError) as e:
        raise StartError(str(e))
    except Exception as e:
        raise StartError('cannot load the device sources (%s: %s)'
                         % (type(e).__name__, e))
    try:
        report, plans, catalog = reporter.plan_locally()
    finally:
        reporter.close()
    labels = {token: 'S%d' % (i + 1) for i, token in enumerate(catalog)}
    print('Dry run for node %s (sysfs root %s): nothing is sent to '
          'placement.' % (conf.migcompat.nodename,
                          conf.migcompat.sysfs_root),
          file=out)
    print('\nStrings (the fleet catalog is these local strings only):',
          file=out)
    parts = {producer.token: producer.parts for plan in plans.values()
             for producer in plan.producers}
    for token, text in catalog.items():
        traits = [codec.trait(codec.SRC, part)
                  for part in parts.get(token) or (token,)]
        print('  %s  %s\n      trait%s %s' % (
            labels[token], text.replace('\n', '\n      '),
            's' if len(traits) > 1 else '', '\n             '.join(traits)),
            file=out)
    for name, plan in sorted(plans.items()):
        print('\nProvider %s' % name, file=out)
        for producer in plan.producers:
            print('  produces %s  (%s %s%s)' % (
                labels[producer.token], producer.device.kind,
                producer.device.name, ', instance %s'
                % producer.device.instance
                if producer.device.instance else ''), file=out)
        for reason, names in sorted(plan.unjudged.items()):
            print('  no string (%s): %s' % (codec.reason_words(reason),
                                            ', '.join(names)), file=out)
        for token, result in report.verdicts.get(name, {}).items():
            print('  %-8s %s' % (result, labels[token]), file=out)
        if not plan.producers and not plan.targets:
            print('  (no tracked devices)', file=out)
    for problem in report.device_problems:
        print('\nproblem: %s' % problem, file=out)
    return EXIT_DEVICE_PROBLEMS if report.device_problems else EXIT_OK


def load_config(argv, default_config_files=None):
    """The agent's configuration, without touching logging."""
    conf = cfg.ConfigOpts()
    migcompat_conf.register_opts(conf)
    migcompat_conf.register_placement_opts(conf)
    migcompat_conf.register_nova_device_opts(conf)
    conf.register_cli_opts(cli_opts)
    logging.register_options(conf)
    # The journal, under systemd; stdout is --dry-run's.
    conf.set_default('use_stderr', True)
    # oslo.config checks command line options set in a file (the logging
    # ones: debug...) while parsing, and writes the error itself.
    stderr, captured = sys.stderr, io.StringIO()
    sys.stderr = captured
    try:
        conf(argv, project='nova', prog=PROG,
             default_config_files=default_config_files,
             version=version.version_string(),
             description='The compute-side agent of nova-migcompat: '
             "publishes this host's device compatibility traits to "
             'placement.  Exit status: 0 published, 1 the cycle failed, '
             '2 a configuration error or another agent holds the lock, 3 '
             'published but some devices could not be reported.')
    except SystemExit as e:
        match = _CLI_VALUE_ERROR.match(captured.getvalue())
        if e.code != 1 or not match:
            raise
        captured.truncate(0)
        name, kind, value = match.groups()
        _value, path = file_setting(
            conf, 'DEFAULT', name,
            _argv_files(argv) or default_config_files or [])
        raise StartError('invalid value %r for [DEFAULT]%s%s: not a %s' % (
            value.strip(), name, ' in %s' % path if path else '',
            _TYPE_WORDS.get(kind, kind.lower())))
    finally:
        sys.stderr = stderr
        stderr.write(captured.getvalue())
    return conf


def setup_logging(conf):
    """oslo.log from the agent's options (not nova.conf's log files)."""
    for name in NOVA_LOGGING_OPTS:
        location = conf.get_location(name)
        if location is None or location.location != cfg.Locations.user:
            continue
        _value, path = file_setting(conf, 'DEFAULT', name)
        if path and os.path.basename(path) == 'nova.conf':
            conf.set_override(name, None)
    logging.set_defaults(default_log_levels=logging.get_default_log_levels()
                         + ['stevedore=ERROR'])
    try:
        logging.setup(conf, PROG)
    except Exception as e:
        raise StartError('cannot set up logging (%s: %s)'
                         % (type(e).__name__, e))


def _fail(message):
    print('%s: error: %s' % (PROG, message), file=sys.stderr)
    return EXIT_CONFIG


def check_state_path(path):
    """The state directory exists (or is made) and is the agent's own.

    :raises StartError: one line saying why not.
    """
    where = '%s ([migcompat]state_path)' % path
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError as e:
        raise StartError('cannot make the state directory %s: %s'
                         % (where, e.strerror or e))
    if not stat.S_ISDIR(st.st_mode):
        raise StartError('the state directory %s is not a directory'
                         % where)
    why = state_file.unsafe(st, 'it')
    if why:
        raise StartError('refusing the state directory %s: %s'
                         % (where, why))


def main(argv=None):
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl-C: one line (the device process is killed at exit).
        print('%s: interrupted' % PROG, file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        conf = load_checked(argv)
    except StartError as e:
        return _fail(e)
    if conf.dry_run and conf.once:
        conf.reset()
        return _fail('--dry-run and --once exclude each other')
    lock = agent = None
    try:
        setup_logging(conf)
        if conf.dry_run:
            try:
                return print_dry_run(conf)
            except (exception.MigCompatError, OSError) as e:
                # The devices cannot be seen (e.g. an unmounted root).
                print('%s: error: %s' % (PROG, e), file=sys.stderr)
                return EXIT_FAILED
        lock = acquire_lock(conf.migcompat.lock_path)
        check_state_path(conf.migcompat.state_path)
        agent = Agent(conf, argv)
        agent.build()
        if conf.once:
            report = agent.cycle()
            if not report.ok:
                return EXIT_FAILED
            return EXIT_DEVICE_PROBLEMS if report.device_problems else EXIT_OK
        return agent.run_forever()
    except StartError as e:
        return _fail(e)
    finally:
        if agent is not None and agent.reporter is not None:
            # Killed, not waited for: a device call that hangs in the
            # kernel keeps the device process, never the agent.
            agent.reporter.close()
        if lock is not None:
            os.close(lock)
        conf.reset()


if __name__ == '__main__':
    sys.exit(main())
