"""Bounded time: a hung device or a dripping placement holds nothing up.

The devices are FUSE-emulated attributes whose writes answer late
(``write_delay``) or never (``hang``, until the tree is unmounted); the
agent runs with ``[migcompat]device_timeout = 1``.  The only timing
assertions are generous bounds far below what waiting for the device
would take.
"""

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from nova_migcompat.agent import provider_names
from nova_migcompat import codec
from nova_migcompat import exception
from nova_migcompat import placement
from tests import samples

PGPUS = ('0000:81:00.0', '0000:82:00.0')
HUNG, HEALTHY = PGPUS
NVIDIA_21, NVIDIA_23 = samples.NVIDIA_21, samples.NVIDIA_23
NVIDIA_30 = samples.NVIDIA_30
#: Far below the 30 s one hung write costs without a deadline (90 s for
#: the three strings of these tests), far above the 1 s deadline.
BOUND = 15


def acc(text):
    return codec.trait(codec.ACC, codec.encode(text))


def src(text):
    return codec.trait(codec.SRC, codec.encode(text))


def ours(traits):
    return {t for t in traits if t.startswith(codec.PREFIX)}


def pgpu(address, node='node-a'):
    return provider_names.pgpu_provider_name(node, address)


def hung_spec(example_spec, delay):
    """nvidia-a whose first pGPU's type answers writes after ``delay``."""
    spec = example_spec('nvidia-a')
    spec['pci'][0]['mdev_types'][0]['migration_version'][
        'write_delay'] = delay
    return spec


def write_opens(fs, address):
    """Opens for writing of the mdev type attribute of pGPU ``address``."""
    return [w for w in fs.writes() if w['op'] == 'open' and
            '/%s/mdev_supported_types/' % address in w['path']]


def add_fleet_strings(placement_api, *texts):
    """Other hosts' strings: SRC traits on a provider of another node."""
    other = placement_api.create_compute('node-z')['node-z']
    placement_api.add_traits(other, *[src(t) for t in texts])


def test_a_hung_device_holds_up_neither_the_cycle_nor_other_providers(
        placement_api, emulated_sysfs, make_reporter, example_spec):
    tree = placement_api.create_compute('node-a', PGPUS)
    add_fleet_strings(placement_api, NVIDIA_23, NVIDIA_30)
    fs = emulated_sysfs(hung_spec(example_spec, 30))
    reporter = make_reporter('node-a', fs, device_timeout=1)

    start = time.monotonic()
    report = reporter.run_cycle()
    assert time.monotonic() - start < BOUND
    assert report.ok, report.failure
    # The healthy pGPU was checked and published in this very cycle.
    assert ours(placement_api.traits(tree[pgpu(HEALTHY)])) == {
        src(NVIDIA_21), acc(NVIDIA_21)}
    # The hung one: its own string is published (it was read), nothing is
    # accepted, and after the first string overran no other was tried.
    assert ours(placement_api.traits(tree[pgpu(HUNG)])) == {src(NVIDIA_21)}
    assert set(report.verdicts[pgpu(HUNG)].values()) == {'unknown'}
    assert len(write_opens(fs, HUNG)) == 1

    # Next cycle, the write still hangs: the device is not touched again,
    # no thread is added, and what was published stays.
    threads = threading.active_count()
    start = time.monotonic()
    again = reporter.run_cycle()
    assert time.monotonic() - start < BOUND
    assert again.ok, again.failure
    assert threading.active_count() == threads
    assert len(write_opens(fs, HUNG)) == 1
    assert ours(placement_api.traits(tree[pgpu(HUNG)])) == {src(NVIDIA_21)}
    assert ours(placement_api.traits(tree[pgpu(HEALTHY)])) == {
        src(NVIDIA_21), acc(NVIDIA_21)}


def test_a_late_yes_is_never_published(placement_api, emulated_sysfs,
                                       make_reporter, example_spec):
    # The driver would accept its own string, 3 s late.
    tree = placement_api.create_compute('node-a', PGPUS)
    fs = emulated_sysfs(hung_spec(example_spec, 3))
    reporter = make_reporter('node-a', fs, device_timeout=1)
    report = reporter.run_cycle()
    assert report.ok, report.failure
    assert report.verdicts[pgpu(HUNG)] == {codec.encode(NVIDIA_21):
                                           'unknown'}
    assert ours(placement_api.traits(tree[pgpu(HUNG)])) == {src(NVIDIA_21)}


def test_a_hung_read_during_discovery_is_bounded(
        placement_api, emulated_sysfs, make_reporter, example_spec):
    tree = placement_api.create_compute('node-a', PGPUS)
    spec = example_spec('nvidia-a')
    spec['pci'][0]['mdev_types'][0]['migration_version'][
        'read_delay'] = 30
    fs = emulated_sysfs(spec)
    reporter = make_reporter('node-a', fs, device_timeout=1)
    start = time.monotonic()
    report = reporter.run_cycle()
    assert time.monotonic() - start < BOUND
    assert report.ok, report.failure
    # The type cannot be read: a device problem, and no acceptance on its
    # provider (its mdev's string is still published); the other provider
    # is published in full.
    assert len(report.device_problems) == 1
    assert report.device_problems[0].startswith('0000:81:00.0/nvidia-35: ')
    assert 'no answer within 1 s' in report.device_problems[0]
    assert ours(placement_api.traits(tree[pgpu(HUNG)])) == {src(NVIDIA_21)}
    assert ours(placement_api.traits(tree[pgpu(HEALTHY)])) == {
        src(NVIDIA_21), acc(NVIDIA_21)}


@pytest.mark.parametrize('where', ['type attribute', 'parent id'])
def test_a_hung_fact_read_is_bounded(placement_api, emulated_sysfs,
                                     make_reporter, example_spec, where):
    # Not only migration_version: the vendor driver answers a type's
    # available_instances, and any attribute of the device may hang.
    tree = placement_api.create_compute('node-a', PGPUS)
    spec = example_spec('nvidia-a')
    pci = spec['pci'][0]
    if where == 'type attribute':
        pci['mdev_types'][0].setdefault('attributes', {})[
            'available_instances'] = {'string': '7', 'read_delay': 'hang'}
    else:
        pci.setdefault('attributes', {})['vendor'] = {
            'string': '0x10de', 'read_delay': 'hang'}
    fs = emulated_sysfs(spec)
    reporter = make_reporter('node-a', fs, device_timeout=1)
    for _cycle in range(2):
        start = time.monotonic()
        report = reporter.run_cycle()
        assert time.monotonic() - start < BOUND
        assert report.ok, report.failure
        # The devices behind the hung pGPU (its type, its mdev) only.
        assert report.device_problems
        assert not any(HEALTHY in p for p in report.device_problems)
    # The other pGPU is published in full; the hung one gets nothing new.
    assert ours(placement_api.traits(tree[pgpu(HEALTHY)])) == {
        src(NVIDIA_21), acc(NVIDIA_21)}
    assert acc(NVIDIA_21) not in placement_api.traits(tree[pgpu(HUNG)])


def _hung_host(tmp_path, placement_api, placement_http, emulated_sysfs,
               example_spec, interval=5):
    """node-a, one pGPU's write hanging, and its agent configuration."""
    tree = placement_api.create_compute('node-a', PGPUS)
    fs = emulated_sysfs(hung_spec(example_spec, 'hang'))
    path = tmp_path / 'nova.conf'
    path.write_text('\n'.join([
        '[placement]', 'auth_type = admin_token',
        'endpoint = %s' % placement_http, 'token = admin',
        'endpoint_override = %s' % placement_http, '', '[migcompat]',
        'nodename = node-a', 'sysfs_root = %s' % fs.root,
        'interval = %d' % interval, 'device_timeout = 1',
        'state_path = %s' % (tmp_path / 'state'),
        'lock_path = %s' % (tmp_path / 'agent.lock')]) + '\n')
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [os.getcwd()] + [p for p in env.get('PYTHONPATH', '').split(
            os.pathsep) if p])
    return tree, fs, path, env


#: The deadline plus the 2 seconds the agent may take to end (start-up,
#: one placement cycle of a small tree and the exit itself come on top,
#: measured from the hung write, not from the start).
EXIT_BOUND = 1 + 2


def test_once_exits_within_the_deadline_while_a_write_hangs(
        tmp_path, placement_api, placement_http, emulated_sysfs,
        example_spec):
    tree, fs, path, env = _hung_host(tmp_path, placement_api,
                                     placement_http, emulated_sysfs,
                                     example_spec)
    # Pipes the test reads to their end, as a shell's $(...) would: the
    # device process must not hold them.
    proc = subprocess.Popen(
        [sys.executable, '-m', 'nova_migcompat.cmd.agent', '--once',
         '--config-file', str(path)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 60
        while not write_opens(fs, HUNG):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, 'the agent never wrote'
            time.sleep(0.02)
        hung_at = time.monotonic()
        out, err = proc.communicate(timeout=BOUND)
        ended = time.monotonic() - hung_at
    finally:
        if proc.poll() is None:
            # Only the end of the file system ends the hung write.
            fs.stop()
            proc.kill()
            proc.wait()
    assert ended < EXIT_BOUND, 'exited %.1f s after the write hung' % ended
    assert proc.returncode == 0, err.decode()
    # The hung device is unknown: its string is published, no acceptance;
    # the other pGPU was judged.
    assert ours(placement_api.traits(tree[pgpu(HUNG)])) == {src(NVIDIA_21)}
    assert acc(NVIDIA_21) in placement_api.traits(tree[pgpu(HEALTHY)])
    # The write still hangs in the device process the agent left behind
    # (until the tree goes away).
    assert len(write_opens(fs, HUNG)) == 1


def test_device_check_exits_while_a_write_hangs(tmp_path, emulated_sysfs,
                                                example_spec):
    fs = emulated_sysfs(hung_spec(example_spec, 'hang'))
    path = tmp_path / 'agent.conf'
    path.write_text('[migcompat]\nnodename = node-a\nsysfs_root = %s\n'
                    'device_timeout = 1\n' % fs.root)
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, '-m', 'nova_migcompat.cmd.migcompat',
         '--config-file', str(path), 'device', 'check', '-f', 'json'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=BOUND)
    finally:
        if proc.poll() is None:
            fs.stop()
            proc.kill()
            proc.wait()
    took = time.monotonic() - start
    assert proc.returncode == 0, err.decode()
    rows = json.loads(out)
    hung = [r for r in rows if r['Target'].startswith(HUNG)]
    assert hung and all(r['Result'] == 'unknown' for r in hung)
    assert any('no answer in time' in r['Reason'] for r in hung)
    assert all(r['Result'] == 'accepts' for r in rows
               if r['Target'].startswith(HEALTHY))
    # One deadline for the hung device (not one per string), the start
    # and the other checks: far below one more deadline per string.
    assert took < BOUND
    assert len(write_opens(fs, HUNG)) == 1


def test_sigterm_ends_the_agent_while_a_write_hangs(
        tmp_path, placement_api, placement_http, emulated_sysfs,
        example_spec):
    tree, fs, path, env = _hung_host(tmp_path, placement_api,
                                     placement_http, emulated_sysfs,
                                     example_spec)
    with open(tmp_path / 'agent.log', 'wb') as log:
        proc = subprocess.Popen(
            [sys.executable, '-m', 'nova_migcompat.cmd.agent',
             '--config-file', str(path)], stdout=log, stderr=log, env=env)
    try:
        deadline = time.monotonic() + 60
        while not write_opens(fs, HUNG):
            assert proc.poll() is None, (tmp_path / 'agent.log').read_text()
            assert time.monotonic() < deadline, 'the agent never wrote'
            time.sleep(0.02)
        # The write hangs (until the tree is unmounted): stop the agent.
        # It ends, and is reaped, while the write still hangs: the device
        # process holds the write, not the agent.
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:
            status = None
        took = time.monotonic() - start
        assert status == 0, (tmp_path / 'agent.log').read_text()
        assert took < 2, 'SIGTERM ended the agent after %.1f s' % took
        assert len(write_opens(fs, HUNG)) == 1
    finally:
        fs.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not any(t.startswith(codec.ACC_PREFIX)
                   for t in placement_api.traits(tree[pgpu(HUNG)]))


class _DrippingHandler(http.server.BaseHTTPRequestHandler):
    """A placement that answers 200, then one body byte every 0.5 s."""

    protocol_version = 'HTTP/1.1'
    stop = None

    def do_GET(self):
        body = b'{"traits": []}' + b' ' * 50
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        for i in range(len(body)):
            if self.stop.is_set():
                return
            try:
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
            except OSError:
                return
            self.stop.wait(0.5)

    def log_message(self, *args):
        pass


@pytest.fixture
def dripping_placement():
    stop = threading.Event()
    handler = type('Handler', (_DrippingHandler,), {'stop': stop})
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d' % server.server_port
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def test_a_dripping_placement_response_has_an_overall_deadline(
        tmp_path, agent_conf, dripping_placement):
    # Every byte comes well within the per-read timeout; the whole body
    # would take 32 s.
    conf = agent_conf('node-a', str(tmp_path), endpoint=dripping_placement)
    conf.set_override('timeout', 2, group='placement')
    client = placement.PlacementClient.from_conf(conf)
    start = time.monotonic()
    with pytest.raises(exception.PlacementUnavailable) as exc:
        client.traits(codec.SRC_PREFIX, associated=True)
    assert time.monotonic() - start < BOUND
    assert '/traits?name=startswith:CUSTOM_MIGCOMPAT_SRC_' in str(exc.value)
    assert 'deadline' in str(exc.value)
