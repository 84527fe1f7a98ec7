"""The main job: the demo (``tox -e run``) as a new user runs it."""

import os
import subprocess
import sys


def demo(*args):
    return subprocess.run(
        [sys.executable, '-m', 'migcompat_lab.demo'] + list(args),
        capture_output=True, text=True, timeout=600)


def fuse_mounts():
    with open('/proc/self/mountinfo') as f:
        return [line for line in f if 'migcompat-sysfs' in line]


def test_demo_shows_filtered_and_stock_outcomes():
    before = fuse_mounts()
    result = demo()
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
    assert os.path.getsize(os.path.join(logdir, 'filter.log')) > 0
    # Nothing left mounted.
    assert fuse_mounts() == before


def test_demo_refuses_a_bad_fleet_file(tmp_path):
    fleet = tmp_path / 'fleet.yaml'
    fleet.write_text('source: a\nhosts:\n  - {name: a, pgpus: ["2"]}\n'
                     '  - {name: b, pgpus: ["2.1"]}\n')
    result = demo('--fleet', str(fleet))
    assert result.returncode == 2
    assert 'hosts[0].pgpus: one or two "major.minor" strings' in \
        result.stderr
