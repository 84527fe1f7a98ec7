"""The main job: the demo (``tox -e run``) as a new user runs it."""

import os
import subprocess
import sys


from migcompat_lab.emulation import mount


def demo(*args, tmpdir=None):
    env = dict(os.environ)
    if tmpdir is not None:
        # Every directory the demo makes (its mount points, Nova's logs)
        # is a tempfile one: under tmpdir.
        env['TMPDIR'] = str(tmpdir)
    return subprocess.run(
        [sys.executable, '-m', 'migcompat_lab.demo'] + list(args),
        capture_output=True, text=True, timeout=600, env=env)


def mounts_under(directory):
    """Mount points at or under directory (only the demo's own)."""
    found = []
    for root, dirs, _files in os.walk(str(directory)):
        for name in list(dirs):
            path = os.path.join(root, name)
            if mount.mounted(path):
                found.append(path)
                dirs.remove(name)
    return found


def test_demo_shows_filtered_and_stock_outcomes(tmp_path):
    result = demo(tmpdir=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert 'nvidia 2.1 10de:0ffe nvidia-11' in out
    assert ('| old   | 2.0, 2.0     | 100    | no: driver nvidia: target '
            'minor 2.0 is older than source 2.1') in out
    assert 'major version differs' in out
    assert ('With MigrationCompatibilityFilter: the server is now on '
            'newer: compatible.') in out
    assert 'kept 1 of 3 hosts' in out
    assert ('Stock Nova (filter off): the server is now on old: '
            'INCOMPATIBLE') in out
    # Quiet: the report only, Nova's logs in files.
    assert 'INFO' not in out and result.stderr == ''
    logdir = out.rsplit('Nova logs: ', 1)[1].strip()
    assert logdir.startswith(str(tmp_path))
    assert os.path.getsize(os.path.join(logdir, 'filter.log')) > 0
    # Nothing the demo mounted is left mounted (mounts of anything else
    # on the machine are none of this test's business).
    assert mounts_under(tmp_path) == []


def test_demo_refuses_a_bad_fleet_file(tmp_path):
    fleet = tmp_path / 'fleet.yaml'
    fleet.write_text('source: a\nhosts:\n  - {name: a, pgpus: ["2"]}\n'
                     '  - {name: b, pgpus: ["2.1"]}\n')
    result = demo('--fleet', str(fleet))
    assert result.returncode == 2
    assert 'hosts[0].pgpus: one or two "major.minor" strings' in \
        result.stderr
