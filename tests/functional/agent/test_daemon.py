"""nova-migcompat-agent never crash-loops: bad configuration, a second
agent, a bad reload, a log directory it cannot write.

Through the console script entry (``agent.main``) with real files; every
refusal is exit status 2 and one line on stderr, never a traceback.
"""

import configparser
import fcntl
import logging
import os
import signal

import pytest

from nova_migcompat.cmd import agent

UNIT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'etc',
                    'nova-migcompat', 'nova-migcompat-agent.service')


def agent_file(tmp_path, text, name='agent.conf'):
    path = tmp_path / name
    path.write_text('[migcompat]\nnodename = node-a\nsysfs_root = %s\n'
                    'lock_path = %s\nstate_path = %s\n%s'
                    % (tmp_path / 'sys', tmp_path / 'agent.lock',
                       tmp_path / 'state', text))
    return str(path)


def one_line(capsys):
    captured = capsys.readouterr()
    assert 'Traceback' not in captured.err
    assert captured.err.count('\n') == 1, captured.err
    assert captured.err.startswith('nova-migcompat-agent: error: ')
    return captured.err.strip()


@pytest.mark.parametrize('mode', ['--dry-run', '--once', None])
@pytest.mark.parametrize('text,expected', [
    ('interval = often', "invalid value 'often' for [migcompat]interval in "
     "%s: not an integer"),
    ('interval = 1', "invalid value '1' for [migcompat]interval in %s: "
     "must be at least 5"),
    ('max_checks_per_cycle = 0', "invalid value '0' for "
     "[migcompat]max_checks_per_cycle in %s: must be at least 1"),
    ('max_catalog_strings = 0', "invalid value '0' for "
     "[migcompat]max_catalog_strings in %s: must be at least 1"),
    ('recheck_age = 10', "invalid value '10' for "
     "[migcompat]recheck_age in %s: must be at least 60"),
    ('delete_unused_traits = maybe', "invalid value 'maybe' for "
     "[migcompat]delete_unused_traits in %s: not a boolean (true or "
     "false)"),
    ('on_error = ignore', "invalid value 'ignore' for [migcompat]on_error "
     "in %s: "),
    ('[placement]\ntimeout = soon', "invalid value 'soon' for "
     "[placement]timeout in %s: not a number"),
    ('[DEFAULT]\ndebug = perhaps', "invalid value 'perhaps' for "
     "[DEFAULT]debug in %s: not a boolean (true or false)"),
])
def test_bad_option_is_one_line_and_exit_2(tmp_path, capsys, mode, text,
                                           expected):
    path = agent_file(tmp_path, text + '\n')
    argv = ['--config-file', path] + ([mode] if mode else [])
    assert agent.main(argv) == agent.EXIT_CONFIG
    assert one_line(capsys).startswith(
        'nova-migcompat-agent: error: ' + expected % path)
    # Nothing was started: no lock file.
    assert not (tmp_path / 'agent.lock').exists()


def test_bad_value_in_a_later_file_names_that_file(tmp_path, capsys):
    first = agent_file(tmp_path, '')
    second = tmp_path / 'override.conf'
    second.write_text('[migcompat]\ninterval = 2\n')
    assert agent.main(['--config-file', first, '--config-file', str(second),
                       '--dry-run']) == 2
    assert one_line(capsys).endswith(
        "invalid value '2' for [migcompat]interval in %s: must be at "
        "least 5" % second)


def test_unwritable_log_dir(tmp_path, capsys):
    (tmp_path / 'file').write_text('')
    path = agent_file(tmp_path, '[DEFAULT]\nlog_dir = %s\n'
                      % (tmp_path / 'file' / 'log'))
    assert agent.main(['--config-file', path, '--dry-run']) == 2
    line = one_line(capsys)
    assert line.startswith('nova-migcompat-agent: error: cannot set up '
                           'logging')
    assert str(tmp_path / 'file' / 'log') in line


def test_placement_not_configured(tmp_path, capsys):
    path = agent_file(tmp_path, '')
    assert agent.main(['--config-file', path, '--once']) == 2
    assert one_line(capsys) == (
        "nova-migcompat-agent: error: placement is not configured: "
        "[placement] has no auth_type (give the configuration file that "
        "holds nova-compute's [placement] credentials with --config-file)")


def test_config_file_that_is_a_directory_or_not_text(tmp_path, capsys):
    assert agent.main(['--config-file', str(tmp_path), '--dry-run']) == 2
    assert one_line(capsys).endswith(
        'the configuration file %s is a directory' % tmp_path)
    binary = tmp_path / 'binary.conf'
    binary.write_bytes(b'[migcompat]\nnodename = \xff\n')
    assert agent.main(['--config-file', str(binary), '--dry-run']) == 2
    assert one_line(capsys).endswith(
        'the configuration file %s is not UTF-8 text (byte 23)' % binary)


def test_dry_run_and_once_exclude_each_other(tmp_path, capsys):
    path = agent_file(tmp_path, '')
    assert agent.main(['--config-file', path, '--dry-run', '--once']) == 2
    assert one_line(capsys).endswith('--dry-run and --once exclude each '
                                     'other')


def test_missing_config_file(tmp_path, capsys):
    missing = tmp_path / 'nope.conf'
    assert agent.main(['--config-file', str(missing), '--dry-run']) == 2
    assert one_line(capsys).endswith(
        'configuration file not found or unreadable: %s' % missing)


def test_malformed_config_file(tmp_path, capsys):
    path = tmp_path / 'bad.conf'
    path.write_text('[migcompat\nnodename = x\n')
    assert agent.main(['--config-file', str(path), '--once']) == 2
    line = one_line(capsys)
    assert 'malformed configuration file %s' % path in line
    assert 'Invalid section' in line


def test_unknown_device_source(tmp_path, capsys):
    path = agent_file(tmp_path, 'device_sources = sysfs,nope\n')
    assert agent.main(['--config-file', path, '--dry-run']) == 2
    assert 'unknown device source(s) nope in [migcompat]device_sources' in \
        one_line(capsys)


def test_bad_placement_auth(tmp_path, capsys):
    path = agent_file(tmp_path, '[placement]\nauth_type = no-such-auth\n')
    assert agent.main(['--config-file', path, '--once']) == 2
    line = one_line(capsys)
    assert 'cannot use the [placement] configuration' in line
    assert 'no-such-auth' in line


def test_one_agent_per_host(tmp_path, capsys, emulated_sysfs):
    lock = tmp_path / 'agent.lock'
    path = agent_file(tmp_path, '')
    fd = os.open(str(lock), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, b'4242\n')
        for mode in (['--once'], []):
            assert agent.main(['--config-file', path] + mode) == 2
            assert one_line(capsys).endswith(
                'another nova-migcompat-agent (pid 4242) holds the lock '
                '%s ([migcompat]lock_path): one agent per host' % lock)
        # --dry-run takes no lock.
        fs = emulated_sysfs('sriov-vf')
        dry = agent_file(tmp_path, 'sysfs_root = %s\n' % fs.root,
                         name='dry.conf')
        assert agent.main(['--config-file', dry, '--dry-run']) == 0
    finally:
        os.close(fd)


def test_lock_file_that_cannot_be_created(tmp_path, capsys):
    (tmp_path / 'file').write_text('')
    path = agent_file(tmp_path, 'lock_path = %s\n'
                      % (tmp_path / 'file' / 'agent.lock'))
    assert agent.main(['--config-file', path, '--once']) == 2
    assert 'cannot open the lock file %s' % (
        tmp_path / 'file' / 'agent.lock') in one_line(capsys)


def test_nova_conf_log_dir_is_not_the_agents(tmp_path, capsys,
                                             emulated_sysfs):
    # nova.conf's log_dir is nova-compute's (here: cannot be created).
    (tmp_path / 'file').write_text('')
    nova = tmp_path / 'nova.conf'
    nova.write_text('[DEFAULT]\nlog_dir = %s\n' % (tmp_path / 'file' / 'log'))
    fs = emulated_sysfs('sriov-vf')
    own = agent_file(tmp_path, 'sysfs_root = %s\n' % fs.root)
    assert agent.main(['--config-file', str(nova), '--config-file', own,
                       '--dry-run']) == 0
    assert 'Dry run for node node-a' in capsys.readouterr().out
    # Given in the agent's own file, it is honoured.
    logs = tmp_path / 'logs'
    logs.mkdir()
    with open(own, 'a') as f:
        f.write('[DEFAULT]\nlog_dir = %s\n' % logs)
    try:
        assert agent.main(['--config-file', str(nova), '--config-file', own,
                           '--dry-run']) == 0
        assert len(os.listdir(str(logs))) == 1
    finally:
        # Back to the default handlers for the next tests.
        agent.setup_logging(agent.load_config([], default_config_files=[]))


class Probe(agent.Agent):
    """Changes the configuration file, then SIGHUP, then SIGTERM."""

    def __init__(self, conf, argv, change):
        super().__init__(conf, argv)
        self.change = change
        self.seen = []

    def cycle(self):
        self.seen.append((self.conf.migcompat.interval,
                          sorted(self.reporter.mdev_types)))
        report = super().cycle()
        if len(self.seen) == 1:
            self.change()
            os.kill(os.getpid(), signal.SIGHUP)
        else:
            os.kill(os.getpid(), signal.SIGTERM)
        return report


def run_probe(probe):
    previous = {sig: signal.getsignal(sig)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        return probe.run_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        probe.conf.reset()


@pytest.mark.parametrize('how,reason', [
    ('invalid', "invalid value 'often' for [migcompat]interval in %s: not "
     "an integer"),
    ('removed', 'configuration file not found or unreadable: %s'),
    ('malformed', 'malformed configuration file %s'),
])
def test_bad_reload_keeps_the_running_configuration(
        tmp_path, placement_api, emulated_sysfs, caplog, how, reason):
    placement_api.create_compute('node-a', ('0000:81:00.0',))
    fs = emulated_sysfs('nvidia-a')
    path = tmp_path / 'agent.conf'
    path.write_text(
        '[placement]\nauth_type = admin_token\nendpoint = %s\ntoken = admin\n'
        'endpoint_override = %s\n[migcompat]\nnodename = node-a\n'
        'sysfs_root = %s\ninterval = 5\nmdev_types = nvidia-35\n'
        'lock_path = %s\nstate_path = %s\n' % (
            placement_api.endpoint, placement_api.endpoint, fs.root,
            tmp_path / 'agent.lock', tmp_path / 'state'))

    def change():
        if how == 'invalid':
            with open(str(path), 'a') as f:
                f.write('interval = often\nmdev_types = nvidia-36\n')
        elif how == 'removed':
            path.unlink()
        else:
            path.write_text('[migcompat\n')
    argv = ['--config-file', str(path)]
    # (Not setup_logging: oslo.log would remove caplog's handler.)
    probe = Probe(agent.load_checked(argv), argv, change)
    with caplog.at_level(logging.INFO):
        assert run_probe(probe) == agent.EXIT_OK
    assert probe.seen == [(5, ['nvidia-35'])] * 2
    [error] = [r.getMessage() for r in caplog.records
               if r.levelno >= logging.ERROR]
    assert error.startswith('SIGHUP: keeping the running configuration: ' +
                            reason % path)
    assert '\n' not in error


def test_a_crashing_cycle_does_not_end_the_daemon(tmp_path, placement_api,
                                                  emulated_sysfs, caplog):
    placement_api.create_compute('node-a', ('0000:81:00.0',))
    path = agent_file(
        tmp_path, '[placement]\nauth_type = admin_token\nendpoint = %s\n'
        'token = admin\nendpoint_override = %s\n' % (
            placement_api.endpoint, placement_api.endpoint))
    conf = agent.load_checked(['--config-file', path])
    calls = []

    class Crashing(agent.Agent):
        def _sleep(self, seconds):
            calls.append(seconds)
            if len(calls) == 2:
                self.stop()

    probe = Crashing(conf)
    probe.build()
    probe.reporter.run_cycle = lambda: 1 / 0
    with caplog.at_level(logging.ERROR):
        assert run_probe(probe) == agent.EXIT_OK
    # Two crashed cycles, with the failure backoff.
    assert calls == [5, 10]
    assert [r.getMessage() for r in caplog.records
            if r.levelno >= logging.ERROR] == ['Reporting cycle crashed'] * 2


def test_systemd_unit():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(UNIT)
    service = unit['Service']
    # The console script of the virtual environment of the operations
    # guide (doc/source/operations.rst).
    assert service['ExecStart'].startswith(
        '/opt/nova-migcompat/bin/nova-migcompat-agent ')
    # The default [migcompat]lock_path is writable under ProtectSystem.
    assert service['RuntimeDirectory'] == 'nova-migcompat'
    assert os.path.dirname(agent.migcompat_conf.DEFAULT_LOCK_PATH) == \
        '/run/' + service['RuntimeDirectory']
    # And [migcompat]state_path under its StateDirectory=.
    assert agent.migcompat_conf.DEFAULT_STATE_PATH == \
        '/var/lib/' + service['StateDirectory']
    # A bad configuration (exit 2) is not restarted every 10 s.
    assert service['RestartPreventExitStatus'] == '2'
