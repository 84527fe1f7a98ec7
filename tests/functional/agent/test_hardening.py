"""What an attacker or a careless operator can do to the agent, through
its console scripts, configuration files, the sysfs layout and
placement's REST API, against real placement over HTTP and FUSE trees.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from wsgiref import simple_server

import pytest

from migcompat_lab.emulation import mount
from nova_migcompat.agent import provider_names
from nova_migcompat.agent import reporter
from nova_migcompat import codec
from tests import samples

PGPUS = ('0000:81:00.0', '0000:82:00.0')
NVIDIA_21, NVIDIA_23 = samples.NVIDIA_21, samples.NVIDIA_23
#: Far above what any command here takes, far below what a hang would.
BOUND = 60


def ours(traits):
    return {t for t in traits if codec.is_ours(t)}


def src(text):
    return codec.trait(codec.SRC, codec.encode(text))


def acc(text):
    return codec.trait(codec.ACC, codec.encode(text))


def pgpu(address, node='node-a'):
    return provider_names.pgpu_provider_name(node, address)


def env():
    found = dict(os.environ)
    found['PYTHONPATH'] = os.pathsep.join(
        [os.getcwd()] + [p for p in found.get('PYTHONPATH', '').split(
            os.pathsep) if p])
    return found


def write_conf(path, endpoint, root, **options):
    options.setdefault('nodename', 'node-a')
    lines = ['[placement]', 'auth_type = admin_token',
             'endpoint = %s' % endpoint, 'token = admin',
             'endpoint_override = %s' % endpoint, '', '[migcompat]',
             'sysfs_root = %s' % root,
             'state_path = %s' % (path.parent / 'state'),
             'lock_path = %s' % (path.parent / 'agent.lock')]
    lines += ['%s = %s' % item for item in options.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def agent(*args, prefix=(), timeout=BOUND):
    return subprocess.run(
        list(prefix) + [sys.executable, '-m', 'nova_migcompat.cmd.agent'] +
        list(args), capture_output=True, text=True, env=env(),
        timeout=timeout)


def tool(*args):
    return subprocess.run(
        [sys.executable, '-m', 'nova_migcompat.cmd.migcompat'] + list(args),
        capture_output=True, text=True, env=env(), timeout=BOUND)


def one_line(text):
    """The stderr of a refused start: exactly one line, no traceback."""
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert 'Traceback' not in text
    return lines[0]


# 1. Only what is ours, by exact name -----------------------------------------

def look_alikes():
    """Names placement's startswith: lists with ours.

    ``_`` matches any character, so each ``_`` of our prefixes after
    ``CUSTOM_`` may be another.
    """
    names = {'CUSTOM_MIGCOMPATIBLE_FOO', 'CUSTOM_MIGCOMPAT1ZONE'}
    for prefix in (codec.SRC_PREFIX, codec.ACC_PREFIX, codec.NOSRC_PREFIX,
                   codec.AGENT_PREFIX, codec.CLAIM_PREFIX):
        bodies = {codec.SRC_PREFIX: '1PX7SD', codec.ACC_PREFIX: '1PX7SD',
                  codec.NOSRC_PREFIX: 'NOSTRING'}
        body = bodies.get(prefix, 'ABCDEFGH12345678')
        for i, char in enumerate(prefix):
            if char == '_' and i > len('CUSTOM'):
                names.add(prefix[:i] + 'X' + prefix[i + 1:] + body)
    assert not any(codec.is_ours(name) for name in names)
    return sorted(names)


def test_look_alike_traits_are_never_touched(tmp_path, placement_api,
                                             placement_http,
                                             emulated_sysfs):
    tree = placement_api.create_compute('node-a', PGPUS)
    other = placement_api.create_compute('other-service')['other-service']
    names = look_alikes()
    half = len(names) // 2
    # Some defined on no provider, some on another service's provider,
    # some on the agent's own providers.
    for name in names[:half]:
        placement_api.ok('PUT', '/traits/%s' % name)
    placement_api.add_traits(other, *names[half:])
    placement_api.add_traits(tree[pgpu(PGPUS[0])], *names[half:])
    fs = emulated_sysfs('nvidia-a')
    conf = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                      fs.root, delete_unused_traits='true')
    for _cycle in range(2):
        result = agent('--config-file', conf, '--once')
        assert result.returncode == 0, result.stderr
    # The agent published, and deleted nothing of anyone else's.
    assert src(NVIDIA_21) in placement_api.traits(tree[pgpu(PGPUS[0])])
    assert set(names) <= placement_api.all_traits('CUSTOM_')
    assert set(names[half:]) <= placement_api.traits(other)
    assert set(names[half:]) <= placement_api.traits(tree[pgpu(PGPUS[0])])
    # A flavor forbidding one of them still finds its hosts.
    resp = placement_api.request(
        'GET', '/allocation_candidates?resources=VCPU:1&required=!%s'
        % names[0], version='1.22')
    assert resp.status_code == 200, resp.text
    # purge --dry-run lists none of them, and purge touches none.
    scheduler = tmp_path / 'scheduler.conf'
    scheduler.write_text('[placement]\nauth_type = admin_token\n'
                         'endpoint = %s\ntoken = admin\n'
                         'endpoint_override = %s\n'
                         % (placement_http, placement_http))
    listed = tool('--config-file', str(scheduler), 'purge', '--dry-run',
                  '-f', 'json')
    assert listed.returncode == 0, listed.stderr
    shown = json.dumps(json.loads(listed.stdout))
    assert not any(name in shown for name in names)
    purged = tool('--config-file', str(scheduler), 'purge', '-f', 'json')
    assert purged.returncode == 0, purged.stderr
    assert set(names) <= placement_api.all_traits('CUSTOM_')
    assert set(names[half:]) <= placement_api.traits(tree[pgpu(PGPUS[0])])
    assert not ours(placement_api.traits(tree[pgpu(PGPUS[0])]))


# 2. One agent per node -------------------------------------------------------

def other_host(tmp_path, machine_id='0123456789abcdef0123456789abcdef'):
    """A command prefix that runs on "another host": its own machine id.

    A mount namespace of its own where /etc/machine-id is another file:
    the host identity the agent derives is then another host's.
    """
    path = tmp_path / ('machine-id-%s' % machine_id[:6])
    path.write_text(machine_id + '\n')
    return ('unshare', '--mount', '--', 'sh', '-c',
            'mount --bind "$0" /etc/machine-id && exec "$@"', str(path))


def test_a_second_agent_claiming_the_node_publishes_nothing(
        tmp_path, placement_api, placement_http, emulated_sysfs, tool_conf):
    tree = placement_api.create_compute('node-a', PGPUS)
    mine = emulated_sysfs('nvidia-a')
    theirs = emulated_sysfs('nvidia-b')
    conf_a = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                        mine.root)
    # The same configuration, copied to another host (nvidia-b: 2.3).
    conf_b = write_conf(tmp_path / 'b' / 'agent.conf', placement_http,
                        theirs.root)
    first = agent('--config-file', conf_a, '--once')
    assert first.returncode == 0, first.stderr
    published = {rp: placement_api.traits(rp) for rp in tree.values()}
    [reporting], [] = codec.identities(published[tree['node-a']])
    for _cycle in range(2):
        second = agent('--config-file', conf_b, '--once',
                       prefix=other_host(tmp_path))
        assert second.returncode == 1, second.stderr
        [line] = [line for line in second.stderr.splitlines()
                  if 'Reporting cycle failed' in line]
        assert ' ERROR ' in line
        assert 'node node-a is reported by another nova-migcompat agent ' \
            '(identity %s; this agent is ' % reporting in line
        assert 'two agents have [migcompat]nodename = node-a' in line
        assert 'publishes nothing and withdraws nothing' in line
    # node-a's providers carry what node-a's own devices say (2.1), and
    # the other agent's claim on the root, nothing of 2.3.
    for name, rp in tree.items():
        now = placement_api.traits(rp)
        if name == 'node-a':
            [claimant] = codec.identities(now)[1]
            assert claimant != reporting
            assert claimant in line
            assert now - {codec.claim_trait(claimant)} == \
                published[rp]
        else:
            assert now == published[rp]
            assert src(NVIDIA_23) not in now
    # The node's own agent goes on publishing (and says who else claims).
    again = agent('--config-file', conf_a, '--once')
    assert again.returncode == 0, again.stderr
    assert 'is also claimed by nova-migcompat agent(s) %s' % claimant in \
        again.stderr
    # status reports the conflict.
    status = tool('--config-file', tool_conf, 'status', '-f', 'json')
    checks = {r['Check']: r for r in json.loads(status.stdout)}
    assert checks['One agent per node']['Result'] == 'Failure'
    assert 'node-a (reported by agent %s; also claimed by %s)' % (
        reporting, claimant) in checks['One agent per node']['Details']
    assert status.returncode == 2


def test_a_restarted_or_reinstalled_agent_takes_its_node_back(
        tmp_path, placement_api, placement_http, emulated_sysfs):
    tree = placement_api.create_compute('node-a', PGPUS)
    fs = emulated_sysfs('nvidia-a')
    conf = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                      fs.root)
    assert agent('--config-file', conf, '--once').returncode == 0
    # Re-installed: its state directory is gone; the same host (machine
    # id) is the same identity.
    reinstalled = write_conf(tmp_path / 'fresh' / 'agent.conf',
                             placement_http, fs.root)
    result = agent('--config-file', reinstalled, '--once')
    assert result.returncode == 0, result.stderr
    assert 'also claimed' not in result.stderr
    assert codec.identities(placement_api.traits(tree['node-a']))[1] == []


@pytest.fixture
def tool_conf(tmp_path, placement_http):
    path = tmp_path / 'tool.conf'
    path.write_text('[placement]\nauth_type = admin_token\n'
                    'endpoint = %s\ntoken = admin\n'
                    'endpoint_override = %s\n'
                    % (placement_http, placement_http))
    return str(path)


# 3. A tree that goes away during a cycle -------------------------------------

def test_a_tree_unmounted_during_a_cycle_fails_it(tmp_path, placement_api,
                                                  placement_http,
                                                  emulated_sysfs,
                                                  example_spec):
    tree = placement_api.create_compute('node-a', PGPUS)
    spec = example_spec('nvidia-a')
    fs = emulated_sysfs(spec)
    conf = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                      fs.root, device_timeout=10)
    assert agent('--config-file', conf, '--once').returncode == 0
    published = {rp: placement_api.traits(rp) for rp in tree.values()}
    # The second pGPU's type answers a read late: the next cycle is in
    # the middle of discovery then.
    spec['pci'][1]['mdev_types'][0].setdefault('attributes', {})[
        'available_instances'] = {'string': '8', 'read_delay': 3}
    fs.update(spec)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'nova_migcompat.cmd.agent', '--once',
         '--config-file', conf], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env())
    try:
        deadline = time.monotonic() + BOUND
        while not fs.delayed_reads():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # The tree is lazily unmounted while the cycle lists it.
        ok, error = mount.unmount(fs.root, lazy=True)
        assert ok, error
        out, err = proc.communicate(timeout=BOUND)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    [line] = [line for line in err.splitlines()
              if 'Reporting cycle failed' in line]
    assert 'sysfs root changed during the cycle' in line
    assert 'nothing is withdrawn' in line
    assert {rp: placement_api.traits(rp) for rp in tree.values()} == \
        published


# 4. Bounded work -------------------------------------------------------------

def many_types_spec(count):
    """One pGPU with ``count`` mdev types, each with its own string."""
    types = [{'name': 'type-%05d' % i,
              'migration_version': {'string': 'many-types %05d' % i,
                                    'policy': 'exact'}}
             for i in range(count)]
    return {'host': 'many', 'modules': {'nvidia': '535.104.05'},
            'pci': [{'address': PGPUS[0], 'vendor': 0x10de,
                     'device': 0x1eb8, 'driver': 'nvidia',
                     'mdev_types': types}]}


def test_work_is_bounded_by_the_checks_not_devices_times_strings(
        tmp_path, placement_api, placement_http, emulated_sysfs):
    types, strings = 1500, 2000
    tree = placement_api.create_compute('node-a', PGPUS[:1])
    # A fleet catalog of 2,000 strings (another node's provider).
    fleet = placement_api.create_compute('node-z')['node-z']
    texts = ['fleet string %05d' % i for i in range(strings)]
    placement_api.add_traits(fleet, *[src(t) for t in texts])
    fs = emulated_sysfs(many_types_spec(types))
    conf = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                      fs.root, mdev_types='', max_checks_per_cycle=200)
    log = tmp_path / 'agent.log'
    with open(log, 'wb') as out:
        proc = subprocess.Popen(
            [sys.executable, '-m', 'nova_migcompat.cmd.agent', '--once',
             '--config-file', conf], stdout=out, stderr=out, env=env())
    try:
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()
    err = log.read_text()
    # Exit 3: devices that could not be tracked.
    assert proc.returncode == 3, err
    assert '1500 devices (256 tracked)' in err
    # One provider publishes at most MAX_SRC_PER_PROVIDER strings: the
    # other types are managed without one, in one line.
    kept = reporter.MAX_SRC_PER_PROVIDER
    assert err.count('devices are not tracked') == 1, err[-2000:]
    assert '%d devices are not tracked (0000:81:00.0/type-%05d, ' % (
        types - kept, kept) in err
    # 1,500 types x 2,256 strings (the fleet's and those published), 200
    # checked: the rest waits, counted without making the pairs.
    waiting = types * (strings + kept) - 200
    assert '%d target-side checks wait for later cycles' % waiting in err
    # Its memory: what the devices, the strings and 200 checks need, not
    # millions of pairs (ru_maxrss: KiB).
    assert usage.ru_maxrss < 200 * 1024, usage.ru_maxrss
    published = placement_api.traits(tree[pgpu(PGPUS[0])])
    assert len([t for t in published if t.startswith(codec.SRC_PREFIX)]) \
        == kept
    assert codec.nosrc_trait(codec.UNPUBLISHABLE) in published
    # device list says which devices and why, as the agent does.
    listed = tool('--config-file', conf, 'device', 'list', '-f', 'json')
    assert listed.returncode == 0, listed.stderr
    problems = {row['Device']: row['Problem']
                for row in json.loads(listed.stdout)}
    over = sorted(name for name, problem in problems.items() if problem)
    assert len(over) == types - kept
    assert over[0] == '0000:81:00.0/type-%05d' % kept
    assert problems[over[0]] == (
        'unpublishable: the provider of pGPU 0000:81:00.0 would publish '
        "more than 256 SRC traits (the budget of one provider: 32 "
        "instances' strings of 8 parts)")


# 5, 6. The lock file ---------------------------------------------------------

def test_the_lock_file_is_never_followed_through_a_link(
        tmp_path, placement_api, placement_http, emulated_sysfs):
    placement_api.create_compute('node-a', PGPUS)
    fs = emulated_sysfs('nvidia-a')
    victim = tmp_path / 'victim'
    victim.write_text('precious\n')
    conf = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                      fs.root)
    os.symlink(victim, tmp_path / 'a' / 'agent.lock')
    result = agent('--config-file', conf, '--once')
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        'nova-migcompat-agent: error: the lock file %s ([migcompat]'
        'lock_path) is a link: refusing to follow it'
        % (tmp_path / 'a' / 'agent.lock'))
    assert victim.read_text() == 'precious\n'


def test_a_lock_file_others_may_write_is_refused(tmp_path, placement_api,
                                                 placement_http,
                                                 emulated_sysfs):
    fs = emulated_sysfs('nvidia-a')
    conf = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                      fs.root)
    lock = tmp_path / 'a' / 'agent.lock'
    lock.write_text('')
    os.chmod(lock, 0o666)
    result = agent('--config-file', conf, '--once')
    assert result.returncode == 2
    assert 'refusing the lock file %s ([migcompat]lock_path): it is ' \
        'writable by others (mode 666)' % lock in one_line(result.stderr)


@pytest.fixture
def full_file_system(tmp_path):
    """A tmpfs of our own with no space left (unmounted at the end)."""
    where = tmp_path / 'full'
    where.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=8k,mode=0755',
                    'migcompat-test', str(where)], check=True)
    try:
        filler = where / 'filler'
        try:
            with open(filler, 'wb') as f:
                while True:
                    f.write(b'x' * 4096)
                    f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC
        yield where
    finally:
        subprocess.run(['umount', str(where)], check=True)


def test_a_lock_file_that_cannot_be_written_is_one_line(
        tmp_path, placement_api, placement_http, emulated_sysfs,
        full_file_system):
    fs = emulated_sysfs('nvidia-a')
    conf = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                      fs.root,
                      lock_path=full_file_system / 'agent.lock')
    result = agent('--config-file', conf, '--once')
    assert result.returncode == 2, result.stderr
    assert one_line(result.stderr) == (
        'nova-migcompat-agent: error: cannot write the lock file %s '
        '([migcompat]lock_path): No space left on device'
        % (full_file_system / 'agent.lock'))


def test_a_state_directory_that_cannot_be_made_is_one_line(
        tmp_path, placement_api, placement_http, emulated_sysfs):
    fs = emulated_sysfs('nvidia-a')
    blocker = tmp_path / 'a-file'
    blocker.write_text('')
    conf = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                      fs.root, state_path=blocker / 'state')
    result = agent('--config-file', conf, '--once')
    assert result.returncode == 2
    assert one_line(result.stderr).startswith(
        'nova-migcompat-agent: error: cannot make the state directory '
        '%s ([migcompat]state_path): ' % (blocker / 'state'))


# 7. Option values ------------------------------------------------------------

@pytest.mark.parametrize('value,words', [
    ('0', 'must be more than 0'), ('-1', 'must be more than 0')])
def test_a_placement_timeout_of_zero_or_less_is_refused(
        tmp_path, emulated_sysfs, placement_http, value, words):
    fs = emulated_sysfs('nvidia-a')
    conf = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                      fs.root)
    with open(conf, 'a') as f:
        f.write('\n[placement]\ntimeout = %s\n' % value)
    for args in (['--once'], ['--dry-run'], []):
        result = agent('--config-file', conf, *args)
        assert result.returncode == 2
        assert one_line(result.stderr) == (
            "nova-migcompat-agent: error: invalid value '%s' for "
            '[placement]timeout in %s: %s' % (value, conf, words))


def test_negative_retries_are_refused(tmp_path, emulated_sysfs,
                                      placement_http):
    fs = emulated_sysfs('nvidia-a')
    conf = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                      fs.root)
    with open(conf, 'a') as f:
        f.write('\n[placement]\nconnect_retries = -3\n')
    result = agent('--config-file', conf, '--once')
    assert result.returncode == 2
    assert "invalid value '-3' for [placement]connect_retries" in \
        one_line(result.stderr)


# 8. Configuration files ------------------------------------------------------

def test_a_configuration_pipe_is_refused_unread(tmp_path, placement_http,
                                                emulated_sysfs):
    fs = emulated_sysfs('nvidia-a')
    conf = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                      fs.root)
    # As with --config-file <(cat agent.conf): a pipe.
    reader, writer = os.pipe()
    text = open(conf, 'rb').read()
    os.write(writer, text)
    os.close(writer)
    try:
        result = subprocess.run(
            [sys.executable, '-m', 'nova_migcompat.cmd.agent', '--dry-run',
             '--config-file', '/dev/fd/%d' % reader],
            capture_output=True, text=True, env=env(), timeout=BOUND,
            pass_fds=(reader,))
        assert result.returncode == 2
        assert one_line(result.stderr) == (
            'nova-migcompat-agent: error: the configuration file '
            '/dev/fd/%d is a pipe, not a regular file: give the path of a '
            'file' % reader)
        # Nothing was consumed.
        assert os.read(reader, len(text) + 1) == text
    finally:
        os.close(reader)


@pytest.mark.parametrize('kind', ['fifo', 'zero'])
def test_a_fifo_or_a_device_is_refused_at_once(tmp_path, kind):
    if kind == 'fifo':
        path = tmp_path / 'agent.conf'
        os.mkfifo(path)
        words = 'a pipe'
    else:
        path, words = '/dev/zero', 'a character device'
    for command in ('nova_migcompat.cmd.agent',
                    'nova_migcompat.cmd.migcompat'):
        result = subprocess.run(
            [sys.executable, '-m', command, '--config-file', str(path),
             '--dry-run' if command.endswith('agent') else 'status'],
            capture_output=True, text=True, env=env(), timeout=BOUND)
        assert result.returncode == 2
        assert 'the configuration file %s is %s, not a regular file' % (
            path, words) in one_line(result.stderr)


# 9. Names from sysfs ---------------------------------------------------------

FORGED = 'nvidia-35\n2026-12-07 00:00:00.000 1 CRITICAL forged [-] owned'
ESCAPE = '\x1b]0;pwned\x07\x1b[2J'


def hostile_names_spec(example_spec):
    """nvidia-a with two more type directories of hostile names.

    Whoever made them (a driver, or an attacker on a FUSE tree), their
    strings cannot be read: the agent logs an error naming each.
    """
    spec = example_spec('nvidia-a')
    types = 'devices/pci0000:81/0000:81:00.0/mdev_supported_types/'
    spec['files'] = {}
    for name in (FORGED, 'type' + ESCAPE):
        spec['files'][types + name + '/device_api'] = 'vfio-pci\n'
        spec['files'][types + name + '/migration_version'] = {
            'string': 'x', 'read_error': 'EIO'}
    return spec


def test_names_from_sysfs_are_escaped(tmp_path, placement_api,
                                      placement_http, emulated_sysfs,
                                      example_spec):
    placement_api.create_compute('node-a', PGPUS)
    fs = emulated_sysfs(hostile_names_spec(example_spec))
    conf = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                      fs.root, mdev_types='')
    outputs = []
    once = agent('--config-file', conf, '--once')
    outputs.append(once.stderr)
    dry = agent('--config-file', conf, '--dry-run')
    outputs += [dry.stdout, dry.stderr]
    listed = tool('--config-file', conf, 'device', 'list')
    outputs += [listed.stdout, listed.stderr]
    for text in outputs:
        assert '\x1b' not in text and '\x07' not in text
        for line in text.splitlines():
            # No line is forged: the fake one stays inside its device's.
            assert not line.startswith('2026-12-07 00:00:00.000 1 CRITICAL')
    assert 'nvidia-35\\n2026-12-07 00:00:00.000 1 CRITICAL forged' in \
        once.stderr
    assert 'type\\x1b]0;pwned\\x07\\x1b[2J' in listed.stdout


# 10. Ctrl-C, malformed answers -----------------------------------------------

def test_ctrl_c_during_once_is_one_line(tmp_path, placement_api,
                                        placement_http, emulated_sysfs,
                                        example_spec):
    placement_api.create_compute('node-a', PGPUS)
    spec = example_spec('nvidia-a')
    spec['pci'][0]['mdev_types'][0]['migration_version'][
        'write_delay'] = 'hang'
    fs = emulated_sysfs(spec)
    conf = write_conf(tmp_path / 'a' / 'agent.conf', placement_http,
                      fs.root, device_timeout=30)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'nova_migcompat.cmd.agent', '--once',
         '--config-file', conf], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env())
    try:
        deadline = time.monotonic() + BOUND
        while not [w for w in fs.writes() if w['op'] == 'open']:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=BOUND)
    finally:
        if proc.poll() is None:
            fs.stop()
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert 'Traceback' not in err and 'KeyboardInterrupt' not in err
    assert err.strip().splitlines()[-1] == 'nova-migcompat-agent: interrupted'


def test_the_cli_interrupted_is_one_line(tmp_path, emulated_sysfs,
                                         example_spec):
    spec = example_spec('nvidia-a')
    spec['pci'][0]['mdev_types'][0]['migration_version'][
        'write_delay'] = 'hang'
    fs = emulated_sysfs(spec)
    conf = tmp_path / 'tool.conf'
    conf.write_text('[migcompat]\nsysfs_root = %s\ndevice_timeout = 30\n'
                    % fs.root)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'nova_migcompat.cmd.migcompat',
         '--config-file', str(conf), 'device', 'check'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env())
    try:
        deadline = time.monotonic() + BOUND
        while not [w for w in fs.writes() if w['op'] == 'open']:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=BOUND)
    finally:
        if proc.poll() is None:
            fs.stop()
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert err.strip() == 'nova-migcompat: interrupted'


class _Malformed(object):
    """A placement whose answers are JSON of the wrong shape."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        if environ['REQUEST_METHOD'] == 'GET' and \
                path.endswith('/resource_providers') and \
                'in_tree' in environ.get('QUERY_STRING', ''):
            start_response('200 OK', [('Content-Type', 'application/json')])
            return [json.dumps({'resource_providers': [
                {'uuid': str(uuid.uuid4()), 'name': 7}, 'oops']}).encode()]
        return self.app(environ, start_response)


def test_a_malformed_placement_answer_is_one_line(tmp_path, placement_api,
                                                  emulated_sysfs):
    placement_api.create_compute('node-a', PGPUS)
    server = simple_server.make_server(
        '127.0.0.1', 0, _Malformed(placement_api._app),
        handler_class=type('Quiet', (simple_server.WSGIRequestHandler,),
                           {'log_message': lambda *a: None}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = 'http://127.0.0.1:%d' % server.server_port
        fs = emulated_sysfs('nvidia-a')
        conf = write_conf(tmp_path / 'a' / 'agent.conf', endpoint, fs.root)
        result = agent('--config-file', conf, '--once')
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    failed = [line for line in result.stderr.splitlines()
              if 'Reporting cycle failed' in line]
    assert len(failed) == 1 and ' ERROR ' in failed[0]
