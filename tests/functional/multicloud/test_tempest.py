"""The whole multi-process cloud, with real tempest, started and gone.

``python -m migcompat_lab.multicloud tempest``: the infrastructure, Nova
(api, conductor, scheduler, three computes), one agent per compute on its
own emulated sysfs, then ``tempest run`` of the project's tempest plugin.
With the filter, tempest passes; with ``--no-filter`` (the filter taken
out of ``enabled_filters``) the live migration of a server with a vGPU
lands on the refusing host the RAM weigher prefers, and the plugin's
live-migration tests fail.  After each run nothing the run created is
left: no process started from its run directory, no mount under it, no
run directory.

Run by ``tox -e multicloud``, whose environment has all it needs (Nova,
keystone, placement, gunicorn, PyMySQL, tempest with the project's
plugin); as root (packages, ports, FUSE).  ``MIGCOMPAT_MULTICLOUD_PYTHON``
and ``MIGCOMPAT_TEMPEST`` point it at other environments.  It fails,
never skips, when something is missing.
"""

import os
import re
import subprocess
import sys

import psutil
import pytest

PYTHON = os.environ.get('MIGCOMPAT_MULTICLOUD_PYTHON', sys.executable)
TEMPEST = os.environ.get('MIGCOMPAT_TEMPEST', os.path.join(
    os.path.dirname(sys.executable), 'tempest'))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
LIVE = 'nova_migcompat_tempest_plugin.tests.scenario.test_live_migration.'


def _python_ready():
    r = subprocess.run([PYTHON, '-c', 'import keystone, placement, nova, '
                        'gunicorn, pymysql'], capture_output=True)
    return r.returncode == 0


def _tempest_ready():
    if not os.access(TEMPEST, os.X_OK):
        return False
    r = subprocess.run([TEMPEST, 'list-plugins'], capture_output=True,
                       text=True)
    return 'nova_migcompat' in r.stdout


@pytest.fixture(scope='module', autouse=True)
def ready():
    """What the run needs is here, or the test fails saying what is not."""
    assert os.geteuid() == 0, 'the multi-process cloud needs root'
    assert _python_ready(), (
        '%s lacks nova/keystone/placement/gunicorn/PyMySQL: run it with '
        'tox -e multicloud, or set MIGCOMPAT_MULTICLOUD_PYTHON' % PYTHON)
    assert _tempest_ready(), (
        '%s is not tempest with the nova_migcompat plugin: run it with '
        'tox -e multicloud, or set MIGCOMPAT_TEMPEST' % TEMPEST)


def _run(tmp_path, *extra):
    rundir = tmp_path / 'run'
    logdir = tmp_path / 'logs'
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(
        [PYTHON, '-m', 'migcompat_lab.multicloud', 'tempest', '--rundir',
         str(rundir), '--logdir', str(logdir), '--tempest', TEMPEST] +
        list(extra), capture_output=True, text=True, env=env, cwd=REPO,
        timeout=1200)
    out = proc.stdout + proc.stderr
    _assert_nothing_left(rundir)
    return proc.returncode, out


def _assert_nothing_left(rundir):
    assert not rundir.exists(), 'run directory %s left behind' % rundir
    with open('/proc/self/mountinfo') as f:
        mounts = [line.split()[4] for line in f]
    assert not [m for m in mounts if m.startswith(str(rundir))], mounts
    ours = []
    for p in psutil.process_iter(['pid', 'cmdline']):
        if any(str(rundir) in arg for arg in (p.info['cmdline'] or [])):
            ours.append((p.info['pid'], p.info['cmdline']))
    assert not ours, 'processes of the run left: %s' % ours


def _results(out):
    """{test id: 'ok' | 'FAILED' | 'SKIPPED...'} from tempest's output."""
    found = {}
    for m in re.finditer(r'^\{\d+\} (\S+?)(?:\[[^\]]*\])? \[[^\]]*\] '
                         r'\.\.\. (\S+)', out, re.M):
        found[m.group(1)] = m.group(2)
    return found


def test_tempest_passes_with_the_filter(tmp_path):
    rc, out = _run(tmp_path)
    results = _results(out)
    assert rc == 0, out[-6000:]
    assert results and set(results.values()) == {'ok'}, results
    assert results[LIVE + 'DeviceLiveMigrationTest.'
                   'test_live_migrate_device_server_to_accepting_host'] \
        == 'ok'
    assert re.search(r'Ran: \d+ tests', out)


def test_live_migration_fails_without_the_filter(tmp_path):
    rc, out = _run(tmp_path, '--no-filter')
    results = _results(out)
    assert rc != 0, out[-6000:]
    assert 'MigrationCompatibilityFilter' not in re.search(
        r'^filters +(.*)$', out, re.M).group(1)
    test = (LIVE + 'DeviceLiveMigrationTest.'
            'test_live_migrate_device_server_to_accepting_host')
    assert results.get(test) == 'FAILED', results
    assert 'which does not accept its device strings' in out
    # The server without devices migrates as before.
    assert results[LIVE + 'LiveMigrationWithoutDevicesTest.'
                   'test_live_migrate_server_without_devices'] == 'ok'
