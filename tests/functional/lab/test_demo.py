"""The main job: the demo (``tox -e run``) as a new user runs it.

Every run is the whole demo in a subprocess (an in-process Nova +
Placement cloud twice, FUSE-emulated devices, the real agent and filter),
on the default fleet or one of the bundled example fleets.
"""

import os
import re
import subprocess
import sys

import pytest
import yaml

from migcompat_lab.demo import fleet as fleet_mod
from migcompat_lab.emulation import mount

FILTER_LOGGER = ('nova_migcompat.scheduler.filters.'
                 'migration_compatibility_filter')


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


def run_ok(tmp_path, *args):
    """A demo run that succeeded and left nothing mounted; its stdout."""
    result = demo(*args, tmpdir=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    # Nothing the demo mounted is left mounted (mounts of anything else
    # on the machine are none of this test's business).
    assert mounts_under(tmp_path) == []
    return result


def host_rows(out, host):
    """The table rows of one host: its first and those that follow."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if re.match(r'^\| %s\s+\|' % re.escape(host), line))
    rows = [lines[start]]
    for line in lines[start + 1:]:
        if not re.match(r'^\|\s+\|', line):
            break
        rows.append(line)
    return rows


def cells(line):
    """The cells of a table row, stripped."""
    return [cell.strip() for cell in line.strip().strip('|').split('|')]


def test_demo_shows_filtered_and_stock_outcomes(tmp_path):
    result = run_ok(tmp_path)
    out = result.stdout
    assert ('The server on src: its vGPU (pGPU 0000:81:0') in out
    assert 'has the string nvidia 2.1 10de:0ffe nvidia-11 (attribute)' in out
    # Every pGPU of every host is judged on its own.
    for line in host_rows(out, 'old'):
        assert ('no: the driver refused the write (EINVAL): driver '
                'nvidia: target minor 2.0 is older than source 2.1') in line
    assert len(host_rows(out, 'old')) == 2
    assert 'major version differs' in host_rows(out, 'major')[0]
    assert ('With MigrationCompatibilityFilter: the server is now on '
            'newer: compatible.') in out
    # The filter's own decision, from its log lines.
    assert 'filter: kept 1 of 3 hosts (newer); rejected 2 (major, old)' in out
    assert re.search(r"    old: device provider old_pci_0000_81_0[01]_0 "
                     r"does not accept '\{\"device_api\":\"vfio-pci\","
                     r"\"vendor\":\"nvidia\",\"version\":\{\"major\":2,"
                     r"\"minor\":1\}", out)
    assert ('Stock Nova (filter off): the server is now on old: '
            'INCOMPATIBLE') in out
    assert 'Legend:' in out and 'kept K of T hosts' in out
    # Quiet: the report only, Nova's logs in files.
    assert 'INFO' not in out and result.stderr == ''
    logdir = out.rsplit('Nova logs: ', 1)[1].strip()
    assert logdir.startswith(str(tmp_path))
    assert os.path.getsize(os.path.join(logdir, 'filter.log')) > 0
    with open(os.path.join(logdir, 'filter-migcompat.log')) as f:
        assert '[%s] Live migration of instance' % FILTER_LOGGER in f.read()


def test_mixed_pgpus_judged_from_the_real_allocation(tmp_path):
    """Defect 1: the source's pGPUs differ; the server is on the second."""
    out = run_ok(tmp_path, '--fleet', 'mixed-pgpus').stdout
    # The string of the pGPU the server's allocation uses (2.1), not the
    # first pGPU's (2.3).
    assert ('The server on src: its vGPU (pGPU 0000:81:01.0) has the string '
            'nvidia 2.1 10de:0ffe nvidia-11 (attribute)') in out
    src = host_rows(out, 'src')
    assert 'nvidia 2.3' in src[0] and 'source host' in src[0]
    assert 'nvidia 2.1' in src[1] and 'server: its vGPU is here' in src[1]
    mixed = host_rows(out, 'mixed')
    assert 'nvidia 3.0' in mixed[0] and ('no: the driver refused the write '
                                         '(EINVAL)') in mixed[0]
    assert 'nvidia 2.2' in mixed[1] and 'yes: the driver accepted the write' \
        in mixed[1]
    # The filter's choice is judged right, down to the destination pGPU.
    assert ('With MigrationCompatibilityFilter: the server is now on mixed: '
            'compatible.') in out
    assert ('vGPU: pGPU 0000:81:01.0 on src -> pGPU 0000:81:01.0 on mixed, '
            'which accepts it? yes') in out
    assert 'filter: kept 2 of 3 hosts (mixed, newer); rejected 1 (old)' in out
    # The stock run's server is on the same source pGPU.
    assert ('Stock Nova (filter off): the server is now on old: '
            'INCOMPATIBLE') in out
    # (old's two pGPUs are alike: stock Nova takes either.)
    assert re.search(r'vGPU: pGPU 0000:81:01\.0 on src -> pGPU '
                     r'0000:81:0[01]\.0 on old, which accepts it\? no', out)
    assert '(this time:' not in out


def test_one_pgpu_hosts_and_verbose(tmp_path):
    """Defect 2: one-pGPU hosts; and --verbose shows the project's logs."""
    result = run_ok(tmp_path, '--fleet', 'one-pgpu', '--verbose')
    out = result.stdout
    # fakelibvirt made one pGPU per host, as the fleet says: Nova's pGPU
    # providers and the emulated devices are the same single one.
    for host in ('src', 'old', 'plain'):
        (only,) = host_rows(out, host)
        assert 'pGPU 0000:81:00.0' in only
    assert 'pGPU 0000:81:01.0' not in out
    assert 'Nova has no such device' not in out
    assert 'no emulated device' not in out
    # The host without migration_version: a synthesized descriptor, judged
    # by the rules policy.
    assert cells(host_rows(out, 'plain')[0])[3:] == [
        'nvidia 2.4 10de:0ffe nvidia-11 (synthesized)',
        'yes: policy: driver nvidia 2.4 accepts 2.1']
    # The filter took part.
    assert 'filter: kept 1 of 2 hosts (plain); rejected 1 (old)' in out
    assert ('With MigrationCompatibilityFilter: the server is now on plain: '
            'compatible.') in out
    assert ('Stock Nova (filter off): the server is now on old: '
            'INCOMPATIBLE') in out
    # --verbose: the project's log lines on stderr, and only those.
    err = result.stderr
    assert '[%s] Live migration of instance' % FILTER_LOGGER in err
    assert '[nova_migcompat.agent.reporter] Provider plain' in err
    logged = [line for line in err.splitlines()
              if re.match(r'^\d{4}-\d\d-\d\d ', line)]
    assert logged and all(' [nova_migcompat.' in line for line in logged)
    assert not re.search(r' \[nova\.', err)
    # The report itself stays on stdout, without log lines.
    assert 'INFO' not in out


def test_opaque_and_key_value_strings(tmp_path):
    out = run_ok(tmp_path, '--fleet', 'opaque').stdout
    assert ('has the string nvidia 16.2 10de:0ffe nvidia-11 (attribute)\n'
            '  nvidia-v16.2-10de-0ffe-nvidia-11-1\n') in out
    (blob,) = host_rows(out, 'blob')
    assert cells(blob)[3:] == [
        'NVGRID 7f3c2e1a (attribute)', 'no: the driver refused the write '
        '(EINVAL): opaque strings differ']
    (upgraded,) = host_rows(out, 'upgraded')
    assert 'yes: the driver accepted the write' in upgraded
    assert ('With MigrationCompatibilityFilter: the server is now on '
            'upgraded: compatible.') in out
    assert ("    blob: device provider blob_pci_0000_81_00_0 does not "
            "accept 'nvidia-v16.2-10de-0ffe-nvidia-11-1'") in out
    assert ('Stock Nova (filter off): the server is now on blob: '
            'INCOMPATIBLE') in out

    out = run_ok(tmp_path, '--fleet', 'key-value').stdout
    assert ('has the string nvidia 2.1 nvidia-11 (read-only attribute)\n'
            '  self: device_api=vfio-pci driver=nvidia') in out
    (old,) = host_rows(out, 'old')
    assert 'no: policy: software_version 2.1 != 2.0' in old
    (json_host,) = host_rows(out, 'json')
    assert 'no: the driver refused the write (EINVAL)' in json_host
    (newer,) = host_rows(out, 'newer')
    assert 'yes: policy: compatible section 1: all 4 keys match' in newer
    assert 'filter: kept 1 of 3 hosts (newer); rejected 2 (json, old)' in out
    assert ('With MigrationCompatibilityFilter: the server is now on newer: '
            'compatible.') in out
    assert ('Stock Nova (filter off): the server is now on old: '
            'INCOMPATIBLE') in out


def test_sriov_vf_and_vgpu(tmp_path):
    out = run_ok(tmp_path, '--fleet', 'sriov').stdout
    assert 'a server with a vGPU and an SR-IOV VF' in out
    assert re.search(r'its VF \(VF 0000:81:01\.[12]\) has the string '
                     r'mlx5_vfio_pci 1\.2 15b3:101e \(attribute\)', out)
    # Each VF and pGPU of each host judged on its own.
    old_vf = host_rows(out, 'old-vf')
    assert len(old_vf) == 3
    assert 'yes: the driver accepted the write' in old_vf[0]
    for line in old_vf[1:]:
        assert ('no: the driver refused the write (EINVAL): '
                'driver mlx5_vfio_pci: target minor 1.1 is older than '
                'source 1.2') in line
    plain = host_rows(out, 'plain')
    assert len(plain) == 3
    for line in plain[1:]:
        assert cells(line)[3:] == [
            'mlx5_vfio_pci 1.4 15b3:101e (synthesized)',
            'yes: policy: driver mlx5_vfio_pci 1.4 accepts 1.2']
    assert 'filter: kept 2 of 4 hosts (plain, newer); rejected 2 ' \
        '(old-gpu, old-vf)' in out
    assert "    old-vf: the host (PCI functions) does not accept " \
        "'{\"device_api\":\"vfio-pci\",\"vendor\":\"mlx5_vfio_pci\"" in out
    assert ('With MigrationCompatibilityFilter: the server is now on plain: '
            'compatible.') in out
    assert re.search(r'VF: VF 0000:81:01\.[12] on src -> VF 0000:81:01\.[12] '
                     r'on plain, which accepts it\? yes', out)
    assert ('Stock Nova (filter off): the server is now on old-vf: '
            'INCOMPATIBLE') in out
    assert re.search(r'VF: VF 0000:81:01\.[12] on src -> VF 0000:81:01\.[12] '
                     r'on old-vf, which accepts it\? no', out)


def test_every_bundled_fleet_is_run_by_a_test():
    tested = {'mixed-pgpus', 'one-pgpu', 'opaque', 'key-value', 'sriov'}
    assert set(fleet_mod.bundled()) == tested


def test_demo_refuses_a_bad_fleet_file(tmp_path):
    fleet = tmp_path / 'fleet.yaml'
    fleet.write_text('source: a\nhosts:\n  - {name: a, pgpus: ["2.1"]}\n'
                     '  - {name: b, pgpus: ["2.1", {policy: exact}]}\n')
    result = demo('--fleet', str(fleet))
    assert result.returncode == 2
    assert result.stderr == 'error: %s: hosts[1].pgpus[1].string: missing\n' \
        % fleet


def _error(tmp_path, data):
    path = tmp_path / 'fleet.yaml'
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(fleet_mod.FleetError) as info:
        fleet_mod.load(str(path))
    message = str(info.value)
    assert '\n' not in message
    assert message.startswith('%s: ' % path)
    return message[len(str(path)) + 2:]


def _hosts(*hosts):
    return [dict(h) for h in hosts]


A = {'name': 'a', 'pgpus': ['2.1']}
B = {'name': 'b', 'pgpus': ['2.1']}


@pytest.mark.parametrize('data, message', [
    ({'source': 'a', 'hosts': _hosts(A, dict(B, pgpus=['2']))},
     'hosts[1].pgpus[0]: expected "major.minor" (quoted, e.g. "2.1"), a '
     'migration_version mapping with "string" (and "policy", ...), or null '
     '(no attribute), got str \'2\''),
    ({'source': 'a', 'hosts': _hosts(A, dict(B, pgpus=[2.1]))},
     'hosts[1].pgpus[0]: expected "major.minor" (quoted'),
    ({'source': 'a', 'hosts': _hosts(A, dict(B, pgpus=[{'string': 5}]))},
     'hosts[1].pgpus[0].string: expected a string, got int 5'),
    ({'source': 'a', 'hosts': _hosts(A, dict(B, pgpus=[
        {'string': 'x', 'policy': 'maybe'}]))},
     "hosts[1].pgpus[0].policy: unknown policy 'maybe'"),
    ({'source': 'a', 'hosts': _hosts(A, dict(B, vfs=[
        {'string': 'x', 'accepts': ['y']}]))},
     'hosts[1].vfs[0].accepts: only for policy accept_list'),
    ({'source': 'a', 'hosts': _hosts(A, dict(B, pgpu=['2.1']))},
     'hosts[1].pgpu: unknown key (expected one of: name, weight, '
     'driver_version, pgpus, vfs)'),
    ({'source': 'a', 'hosts': _hosts(A, {'pgpus': ['2.1']})},
     'hosts[1].name: missing'),
    ({'source': 'a', 'hosts': _hosts(A, dict(B, name='B 1'))},
     "hosts[1].name: str 'B 1' is not a short lower-case host name"),
    ({'source': 'a', 'hosts': _hosts(A, dict(B, name='a'))},
     "hosts[1].name: 'a' is also hosts[0]"),
    ({'source': 'a', 'hosts': _hosts(A, dict(B, weight='high'))},
     "hosts[1].weight: expected an integer, got str 'high'"),
    ({'source': 'a', 'hosts': _hosts(A, dict(B, driver_version=535))},
     'hosts[1].driver_version: expected a quoted version string'),
    ({'source': 'a', 'hosts': _hosts(A, dict(B, pgpus=['2.1'] * 9))},
     'hosts[1].pgpus: at most 8, got 9'),
    ({'source': 'a', 'hosts': _hosts(A, dict(B, vfs=['1.0'] * 7))},
     'hosts[1].vfs: at most 6, got 7'),
    ({'source': 'c', 'hosts': _hosts(A, B)},
     "source: str 'c' is not one of the hosts (a, b)"),
    ({'source': 'a', 'hosts': _hosts(A)},
     'hosts: expected a list of 2 to %d hosts, got 1'
     % fleet_mod.MAX_HOSTS),
    ({'source': 'h0', 'hosts': [dict(A, name='h%d' % i)
                                for i in range(fleet_mod.MAX_HOSTS + 1)]},
     'hosts: expected a list of 2 to %d hosts, got %d'
     % (fleet_mod.MAX_HOSTS, fleet_mod.MAX_HOSTS + 1)),
    ({'source': 'a', 'hosts': _hosts(A, B), 'servers': {}},
     'servers: unknown key (expected one of: source, server, hosts)'),
    ({'source': 'a', 'hosts': _hosts(A, B), 'server': {'vfs': 1}},
     'server.vfs: the source a has no vfs'),
    ({'source': 'a', 'hosts': _hosts(A, B), 'server': {'vgpus': 0}},
     'server: needs a vGPU or a VF'),
    ({'source': 'a', 'hosts': _hosts(A, B), 'server': {'pgpu': 1}},
     'server.pgpu: expected 0 to 0, got 1'),
    ({'source': 'a', 'hosts': _hosts(A, B), 'server': {'vgpus': 2}},
     'server.vgpus: expected 0 to 1, got 2'),
    ({'hosts': _hosts(A, B)}, 'source: missing'),
    (['a'], 'the file: expected a mapping with source, hosts'),
])
def test_fleet_errors_name_the_key(tmp_path, data, message):
    assert _error(tmp_path, data).startswith(message)


def test_fleet_forms(tmp_path):
    path = tmp_path / 'fleet.yaml'
    path.write_text(
        'source: a\nhosts:\n'
        '  - {name: a, pgpus: ["2.1", null], vfs: ["1.0"]}\n'
        '  - name: b\n    driver_version: "550.54.14"\n'
        '    pgpus: [{string: "self: a=1", policy: null}]\n')
    fleet = fleet_mod.load(str(path))
    a, b = fleet.hosts
    assert a.pgpus[0].version == '2.1'
    assert a.pgpus[1].version is None and a.pgpus[1].migration_version \
        is None
    assert a.vfs[0].version == '1.0'
    attr = b.pgpus[0].migration_version
    assert attr['string'] == 'self: a=1' and attr['policy'] is None
    assert b.driver_version == '550.54.14'
    # A source with pGPUs and VFs: the server gets a vGPU and a VF.
    assert (fleet.server.vgpus, fleet.server.vfs, fleet.server.pgpu) == \
        (1, 1, None)


def test_the_docs_state_the_limits_the_code_enforces():
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))))
    with open(os.path.join(root, 'doc', 'source', 'demo.rst')) as f:
        text = ' '.join(f.read().split())
    assert '**2 to %d hosts.**' % fleet_mod.MAX_HOSTS in text
    assert '**At most %d pGPUs and %d VFs a host.**' % (
        fleet_mod.MAX_PGPUS, fleet_mod.MAX_VFS) in text
    for name in fleet_mod.bundled():
        assert '``%s``' % name in text
