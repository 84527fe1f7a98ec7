"""Tests of the FUSE-emulated sysfs, through the real kernel path."""

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from migcompat_lab.emulation import mount
from migcompat_lab.emulation import spec as spec_mod

NVIDIA_A = spec_mod.load_example('nvidia-a').to_dict()
NVIDIA_B = spec_mod.load_example('nvidia-b').to_dict()
STRING_A = NVIDIA_A['pci'][0]['mdev_types'][0]['migration_version']['string']
STRING_B = NVIDIA_B['pci'][0]['mdev_types'][0]['migration_version']['string']
MDEV = 'feaf6594-df9c-4cb2-ab4c-ef8f397653a4'
GPU = '0000:81:00.0'
TYPE = 'mdev_supported_types/nvidia-35'


def _dev(address, migration_version=None, **extra):
    dev = {'address': address, 'vendor': 0x8086, 'device': 0x1234,
           'driver': 'drv', 'migration_version': migration_version}
    dev.update(extra)
    return dev


# One tree with every policy, shared by the read-mostly tests below.
SPEC = {
    'host': 'test',
    'modules': {'nvidia': '535.104.05', 'drv': {'version': '1.0'}},
    'pci': NVIDIA_A['pci'][:1] + [
        _dev('0000:3b:00.0'),
        _dev('0000:3b:00.1', 'vf-v1', physfn='0000:3b:00.0'),
        _dev('0000:3b:00.2', {'string': 'vf-v1', 'policy': 'accept_list',
                              'accepts': ['vf-v0']},
             physfn='0000:3b:00.0'),
        _dev('0000:10:00.0', {'string': 'no', 'policy': 'reject_all'}),
        _dev('0000:11:00.0', {'string': 'busy', 'policy': 'transient'}),
        _dev('0000:12:00.0', {'string': 'gone', 'policy': 'vanish',
                              'read_error': 'ENODEV'}),
        _dev('0000:13:00.0', {'string': 'intr-1.0', 'policy': 'transient',
                              'errno': 'EINTR', 'count': 1}),
    ],
    'files': {
        'devices/pci0000:10/0000:10:00.0/migration_version': {
            'string': 'x' * 5000, 'newline': False,
            'policy': 'reject_all'},
        'devices/pci0000:11/0000:11:00.0/label': 'caf\u00e9',
    },
    'links': {'devices/pci0000:10/0000:10:00.0/driver': '/etc'},
}


def dev_path(fs, address, *parts):
    return fs.path('bus/pci/devices', address, *parts)


def write(path, data):
    """os.write data in one call; returns 0 or the errno."""
    fd = os.open(path, os.O_WRONLY)
    try:
        assert os.write(fd, data) == len(data)
        return 0
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)


def read(path):
    with open(path, 'rb') as f:
        return f.read()


@pytest.fixture(scope='module')
def sysfs(tmp_path_factory):
    fs = mount.EmulatedSysfs(SPEC, tmp_path_factory.mktemp('emu') / 'sysfs')
    fs.start()
    yield fs
    fs.stop()


def new_writes(fs, before):
    return fs.writes()[before:]


# Specs and policies, without FUSE.

def test_examples_are_bundled_and_round_trip():
    names = spec_mod.example_names()
    for name in ('intel-gvt', 'nvidia-a', 'nvidia-b', 'sriov-vf',
                 'no-attributes'):
        assert name in names
    for name in names:
        spec = spec_mod.load_example(name)
        again = spec_mod.from_dict(json.loads(spec.to_json()))
        assert again == spec
        assert spec.host == name


def test_load_accepts_names_dicts_paths_and_specs(tmp_path):
    spec = spec_mod.load('sriov-vf')
    assert spec_mod.load(spec) is spec
    assert spec_mod.load(spec.to_dict()) == spec
    path = tmp_path / 'host.json'
    path.write_text(spec.to_json())
    assert spec_mod.load(path) == spec
    assert spec_mod.load(str(path)) == spec


def _edited(edit):
    data = spec_mod.load_example('sriov-vf').to_dict()
    edit(data)
    return data


@pytest.mark.parametrize('edit,field', [
    (lambda d: d['pci'][0].update(vendor='zz'), 'pci[0].vendor'),
    (lambda d: d['pci'][0].update(vendor=0x10000), 'pci[0].vendor'),
    (lambda d: d['pci'][0].update(address=81), 'pci[0].address'),
    (lambda d: d['pci'][0].update(vender=1), 'pci[0].vender'),
    (lambda d: d['pci'][1].update(physfn='0000:00:00.7'), 'pci[1].physfn'),
    (lambda d: d['pci'][2].update(address='0000:3b:00.1'),
     'pci[2].address'),
    (lambda d: d['pci'][1]['migration_version'].update(policy='maybe'),
     'pci[1].migration_version.policy'),
    (lambda d: d['pci'][1]['migration_version'].update(
        policy='same_major', version_regex=r'v(\d+)'),
     'pci[1].migration_version.version_regex'),
    (lambda d: d['pci'][1]['migration_version'].update(
        policy='transient', errno='EINTR'), 'pci[1].migration_version.count'),
    (lambda d: d['pci'][1]['migration_version'].update(accepts=['x']),
     'pci[1].migration_version.accepts'),
    (lambda d: d['pci'][1]['migration_version'].update(read_error='EFOO'),
     'pci[1].migration_version.read_error'),
    (lambda d: d['pci'][1]['migration_version'].update(write_delay=0),
     'pci[1].migration_version.write_delay'),
    (lambda d: d['pci'][1]['migration_version'].update(read_delay='long'),
     'pci[1].migration_version.read_delay'),
    (lambda d: d['pci'][0].update(mdevs=[{'uuid': MDEV, 'type': 't'}]),
     'pci[0].mdevs[0].type'),
    (lambda d: d['modules'].update(intel_qat={'version': 0.6}),
     'modules.intel_qat.version'),
    (lambda d: d.update(remove=['devices/nothing']), 'remove[0]'),
    (lambda d: d.update(files={'bus/pci/devices/0000:3b:00.0/x': 'y'}),
     'files./bus/pci/devices/0000:3b:00.0/x'),
])
def test_spec_errors_name_the_field(edit, field):
    with pytest.raises(spec_mod.SpecError) as exc:
        spec_mod.from_dict(_edited(edit))
    assert exc.value.field == field
    assert str(exc.value).startswith(field + ': ')


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text('pci:\n  - address: "0000:01:00.0"\n    vendor: x\n')
    with pytest.raises(spec_mod.SpecError,
                       match=r'^bad\.yaml: pci\[0\]\.vendor: '):
        spec_mod.load(path)
    path.write_text('pci: [\n')
    with pytest.raises(spec_mod.SpecError, match='^bad.yaml: not valid'):
        spec_mod.load(path)
    with pytest.raises(spec_mod.SpecError, match='no example tree'):
        spec_mod.load('no-such-host')


def _attr(**kw):
    return spec_mod.from_dict({'files': {'a': kw}}).to_dict()['files']['/a']


def test_policies():
    check = spec_mod.check_write
    mig_a = NVIDIA_A['pci'][0]['mdev_types'][0]['migration_version']
    mig_b = NVIDIA_B['pci'][0]['mdev_types'][0]['migration_version']
    assert check(mig_b, STRING_A.encode(), {}) == 0
    assert check(mig_b, STRING_A.encode() + b'\n', {}) == 0
    assert check(mig_b, STRING_A.encode() + b'\n\n', {}) == errno.EINVAL
    assert check(mig_a, STRING_B.encode(), {}) == errno.EINVAL
    major3 = STRING_A.replace('"major":2', '"major":3')
    assert check(mig_b, major3.encode(), {}) == errno.EINVAL
    other = STRING_A.replace('nvidia-35', 'nvidia-36')
    assert check(mig_b, other.encode(), {}) == errno.EINVAL
    same = _attr(string='drv-v2.1-x', policy='same_major')
    assert check(same, b'drv-v2.0-x', {}) == 0
    assert check(same, b'drv-2.0-x', {}) == errno.EINVAL
    exact = _attr(string='s', policy='exact')
    assert check(exact, b's\n', {}) == 0
    assert check(exact, b'S', {}) == errno.EINVAL
    listed = _attr(string='s', policy='accept_list', accepts=['t'])
    assert [check(listed, d, {}) for d in (b's', b't', b'u')] == [
        0, 0, errno.EINVAL]
    assert check(_attr(string='s', policy='reject_all'), b's', {}) == (
        errno.EINVAL)
    assert check(_attr(string='s', policy='vanish'), b's', {}) == (
        errno.ENODEV)
    assert check(_attr(string='s'), b's', {}) == errno.EACCES
    flaky = _attr(string='s', policy='transient', errno='EAGAIN', count=2,
                  then='accept_list', accepts=['t'])
    state = {}
    assert [check(flaky, b't', state) for _ in range(3)] == [
        errno.EAGAIN, errno.EAGAIN, 0]
    busy = _attr(string='s', policy='transient')
    assert check(busy, b's', {'failed': 100}) == errno.EBUSY


def test_tree_links_are_relative_and_inside():
    tree = spec_mod.load_example('no-attributes').tree()
    links = [(p, n.target) for p, n in tree.walk() if n.kind == 'link']
    assert len(links) > 10
    for path, target in links:
        assert not target.startswith('/')
        resolved = os.path.normpath(os.path.join(os.path.dirname(path),
                                                 target))
        assert tree.lookup(resolved) is not None, (path, target)


# The mounted tree.

def test_mount_is_fuse_and_attributes_look_like_sysfs(sysfs):
    assert mount._mount_entry(sysfs.root)['fstype'].startswith('fuse')
    path = dev_path(sysfs, '0000:3b:00.1', 'migration_version')
    assert read(path) == b'vf-v1\n'
    assert read(dev_path(sysfs, GPU, 'vendor')) == b'0x10de\n'
    assert read(dev_path(sysfs, GPU, 'class')) == b'0x030200\n'
    st = os.stat(path)
    assert stat.S_ISREG(st.st_mode) and st.st_size == 4096
    assert stat.S_IMODE(st.st_mode) == 0o644
    assert stat.S_IMODE(os.stat(dev_path(sysfs, GPU, 'vendor')).st_mode) == (
        0o444)
    assert stat.S_IMODE(os.stat(dev_path(sysfs, GPU)).st_mode) == 0o755
    link = os.lstat(sysfs.path('bus/pci/devices', GPU))
    assert stat.S_ISLNK(link.st_mode)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.pread(fd, 3, 2) == b'-v1'
    finally:
        os.close(fd)


def test_links_resolve_inside_the_mount(sysfs):
    root = os.path.realpath(sysfs.root)
    gpu = os.path.join(root, 'devices/pci0000:81', GPU)
    expect = {
        'bus/pci/devices/' + GPU: gpu,
        'class/mdev_bus/' + GPU: gpu,
        'bus/mdev/devices/' + MDEV: os.path.join(gpu, MDEV),
        'bus/mdev/devices/%s/mdev_type' % MDEV: os.path.join(gpu, TYPE),
        'bus/pci/devices/%s/driver' % GPU: os.path.join(
            root, 'bus/pci/drivers/nvidia'),
        'bus/pci/devices/%s/%s/devices/%s' % (GPU, TYPE, MDEV):
            os.path.join(gpu, MDEV),
        'bus/pci/devices/0000:3b:00.2/physfn': os.path.join(
            root, 'devices/pci0000:3b/0000:3b:00.0'),
        'bus/pci/devices/0000:3b:00.0/virtfn1': os.path.join(
            root, 'devices/pci0000:3b/0000:3b:00.2'),
        'bus/pci/drivers/nvidia/module': os.path.join(root,
                                                      'module/nvidia'),
    }
    for path, target in expect.items():
        assert os.path.realpath(sysfs.path(path)) == target, path
    assert read(sysfs.path('bus/pci/devices', GPU, 'driver/module/version')
                ) == b'535.104.05\n'
    assert read(sysfs.path('bus/mdev/devices', MDEV, 'mdev_type/name')) == (
        b'GRID T4-2Q\n')
    assert sorted(os.listdir(sysfs.path('class/mdev_bus'))) == [GPU]
    assert os.listdir(dev_path(sysfs, GPU, 'mdev_supported_types')) == [
        'nvidia-35']
    assert read(dev_path(sysfs, '0000:3b:00.0', 'sriov_numvfs')) == b'2\n'


def test_accepted_and_refused_writes(sysfs):
    before = len(sysfs.writes())
    mdev = sysfs.path('bus/mdev/devices', MDEV, 'migration_version')
    assert write(mdev, STRING_A.encode() + b'\n') == 0
    # The refusal comes back from os.write itself, not from close().
    assert write(mdev, STRING_B.encode()) == errno.EINVAL
    vf = dev_path(sysfs, '0000:3b:00.2', 'migration_version')
    assert [write(vf, s) for s in (b'vf-v0', b'vf-v1\n', b'vf-v2')] == [
        0, 0, errno.EINVAL]
    assert write(dev_path(sysfs, '0000:3b:00.1', 'migration_version'),
                 b'vf-v0') == errno.EINVAL
    events = new_writes(sysfs, before)
    assert [(e['op'], e['result']) for e in events if e['path'].endswith(
        MDEV + '/migration_version')] == [
        ('open', 'ok'), ('write', 'ok'), ('open', 'ok'),
        ('write', 'EINVAL')]
    assert events[3]['data'] == STRING_B
    assert events[1]['path'] == '/devices/pci0000:81/%s/%s/%s' % (
        GPU, MDEV, 'migration_version')


def test_error_policies(sysfs):
    assert write(dev_path(sysfs, '0000:10:00.0', 'migration_version'),
                 b'x' * 5000) == errno.EINVAL
    assert write(dev_path(sysfs, '0000:11:00.0', 'migration_version'),
                 b'busy') == errno.EBUSY
    gone = dev_path(sysfs, '0000:12:00.0', 'migration_version')
    assert write(gone, b'gone') == errno.ENODEV
    with pytest.raises(OSError) as exc:
        read(gone)
    assert exc.value.errno == errno.ENODEV


def test_eintr_is_retried_by_python(sysfs):
    before = len(sysfs.writes())
    path = dev_path(sysfs, '0000:13:00.0', 'migration_version')
    assert write(path, b'intr-1.0') == 0
    assert [e['result'] for e in new_writes(sysfs, before)
            if e['op'] == 'write'] == ['EINTR', 'ok']


def test_buffered_writes_report_at_close(sysfs):
    path = dev_path(sysfs, '0000:3b:00.1', 'migration_version')
    f = open(path, 'w')
    f.write('wrong')
    with pytest.raises(OSError) as exc:
        f.close()
    assert exc.value.errno == errno.EINVAL


def test_hostile_entries_are_served_verbatim(sysfs):
    big = dev_path(sysfs, '0000:10:00.0', 'migration_version')
    assert read(big) == b'x' * 5000
    assert os.stat(big).st_size == 4096
    assert read(dev_path(sysfs, '0000:11:00.0', 'label')) == (
        'caf\u00e9'.encode())
    assert os.readlink(dev_path(sysfs, '0000:10:00.0', 'driver')) == '/etc'


@pytest.mark.parametrize('name,attempt,op', [
    ('open', lambda p: os.open(p + '/vendor', os.O_WRONLY), 'open'),
    ('rdwr', lambda p: os.open(p + '/device', os.O_RDWR), 'open'),
    ('truncate', lambda p: os.truncate(p + '/class', 0), 'truncate'),
    ('create', lambda p: os.open(p + '/new', os.O_WRONLY | os.O_CREAT),
     'create'),
    ('mkdir', lambda p: os.mkdir(p + '/newdir'), 'mkdir'),
    ('unlink', lambda p: os.unlink(p + '/vendor'), 'unlink'),
    ('rename', lambda p: os.rename(p + '/vendor', p + '/v2'), 'rename'),
    ('chmod', lambda p: os.chmod(p + '/migration_version', 0o666),
     'chmod'),
    ('symlink', lambda p: os.symlink('/etc', p + '/evil'), 'symlink'),
    ('utime', lambda p: os.utime(p + '/vendor'), 'utimens'),
])
def test_other_writes_fail_with_eacces_and_are_logged(sysfs, name, attempt,
                                                      op):
    before = len(sysfs.writes())
    base = os.path.realpath(dev_path(sysfs, '0000:3b:00.1'))
    with pytest.raises(OSError) as exc:
        attempt(base)
    assert exc.value.errno == errno.EACCES
    events = new_writes(sysfs, before)
    assert [(e['op'], e['result']) for e in events] == [(op, 'EACCES')]
    assert events[0]['path'].startswith('/devices/pci0000:3b/0000:3b:00.1/')
    assert os.access(base + '/migration_version', os.W_OK)
    assert not os.access(base + '/vendor', os.W_OK)


def test_foreign_writes(sysfs):
    base = dev_path(sysfs, '0000:3b:00.2')
    assert write(base + '/migration_version', b'vf-v1') == 0
    with pytest.raises(PermissionError):
        os.open(base + '/vendor', os.O_WRONLY)
    with pytest.raises(PermissionError):
        os.chmod(base + '/migration_version', 0o600)
    foreign = [(e['op'], os.path.basename(e['path']))
               for e in sysfs.foreign_writes()]
    assert ('open', 'vendor') in foreign
    assert ('chmod', 'migration_version') in foreign
    assert ('write', 'migration_version') not in foreign
    assert ('open', 'migration_version') not in foreign


# Updates and the life cycle.

def test_update_replaces_the_tree(emulated_sysfs, example_spec):
    fs = emulated_sysfs('nvidia-a')
    attr = dev_path(fs, GPU, TYPE, 'migration_version')
    assert read(attr) == STRING_A.encode() + b'\n'
    instance = fs.path('bus/mdev/devices', MDEV, 'migration_version')
    fd = os.open(instance, os.O_RDONLY)
    try:
        fs.update('nvidia-b')
        assert fs.generation == 1 and fs.spec.host == 'nvidia-b'
        assert read(attr) == STRING_B.encode() + b'\n'
        assert write(attr, STRING_A.encode()) == 0
        # The mdev is gone from the new tree, also under an open file.
        assert not os.path.exists(fs.path('bus/mdev/devices', MDEV))
        with pytest.raises(OSError) as exc:
            os.pread(fd, 100, 0)
        assert exc.value.errno == errno.ENODEV
    finally:
        os.close(fd)
    data = example_spec('nvidia-b')
    del data['pci'][1]
    fs.update(data)
    assert not os.path.exists(dev_path(fs, '0000:82:00.0'))
    assert os.listdir(fs.path('class/mdev_bus')) == [GPU]


def test_update_refuses_an_invalid_spec(emulated_sysfs, example_spec):
    fs = emulated_sysfs('sriov-vf')
    data = example_spec('sriov-vf')
    data['pci'][1]['vendor'] = 'not hex'
    with pytest.raises(spec_mod.SpecError, match=r'pci\[1\]\.vendor'):
        fs.update(data)
    assert fs.generation == 0
    assert read(dev_path(fs, '0000:3b:00.1', 'vendor')) == b'0x8086\n'


def _blocked_in_fuse(thread):
    """Whether a thread of this process waits in a FUSE request."""
    with open('/proc/self/task/%d/wchan' % thread.native_id) as f:
        return 'request_wait_answer' in f.read()


def test_a_hung_write_holds_only_itself(emulated_sysfs):
    spec = {'pci': [
        _dev('0000:3b:00.1', {'string': 'vf-v1', 'write_delay': 'hang'}),
        _dev('0000:3b:00.2', {'string': 'vf-v1', 'write_delay': 0.2}),
        _dev('0000:3b:00.3', {'string': 'vf-v1', 'read_delay': 'hang'})]}
    fs = emulated_sysfs(spec)
    hung = {}
    writer = threading.Thread(
        target=lambda: hung.update(result=write(
            dev_path(fs, '0000:3b:00.1', 'migration_version'), b'vf-v1')),
        daemon=True)
    reader = threading.Thread(
        target=lambda: hung.update(read=_read_errno(
            dev_path(fs, '0000:3b:00.3', 'migration_version'))),
        daemon=True)
    writer.start()
    reader.start()
    deadline = time.monotonic() + 10
    while not (_blocked_in_fuse(writer) and _blocked_in_fuse(reader)):
        assert time.monotonic() < deadline, 'the calls never reached FUSE'
        time.sleep(0.01)
    # The file system serves everything else meanwhile, a slow write
    # answers late but answers.
    assert read(dev_path(fs, '0000:3b:00.1', 'vendor')) == b'0x8086\n'
    assert write(dev_path(fs, '0000:3b:00.2', 'migration_version'),
                 b'vf-v1') == 0
    assert write(dev_path(fs, '0000:3b:00.2', 'migration_version'),
                 b'vf-v2') == errno.EINVAL
    assert writer.is_alive() and reader.is_alive() and hung == {}
    # Stopping the file system ends them: the device went away.
    fs.stop()
    writer.join(10)
    reader.join(10)
    assert not writer.is_alive() and not reader.is_alive()
    assert hung['result'] in (errno.ENODEV, errno.ENOTCONN)
    assert hung['read'] in (errno.ENODEV, errno.ENOTCONN)
    assert [(w['op'], w['path'].split('/')[-2], w['result'])
            for w in fs.writes() if w['op'] == 'write'] == [
        ('write', '0000:3b:00.2', 'ok'), ('write', '0000:3b:00.2', 'EINVAL'),
        ('write', '0000:3b:00.1', 'ENODEV')]


def _read_errno(path):
    try:
        read(path)
    except OSError as e:
        return e.errno
    return 0


def test_stop_leaves_no_mount_and_no_child(tmp_path):
    fs = mount.EmulatedSysfs('intel-gvt', tmp_path / 'sysfs')
    fs.start()
    workdir = fs._workdir
    assert mount.mounted(fs.root) and os.path.isdir(workdir)
    # A file left open makes the plain unmount fail (EBUSY).
    fd = os.open(fs.path('bus/pci/devices/0000:00:02.0/vendor'), os.O_RDONLY)
    try:
        fs.stop()
        with pytest.raises(OSError) as exc:
            os.read(fd, 10)
        assert exc.value.errno in (errno.ENOTCONN, errno.ENODEV)
    finally:
        os.close(fd)
    assert not mount.mounted(fs.root)
    # Reaped (another process may reuse the pid: /proc/<pid> tells
    # nothing about ours).
    assert not fs.alive and fs._proc.returncode is not None
    assert not os.path.exists(workdir) and not os.path.exists(fs.root)
    fs.stop()
    assert fs.writes() == []


def test_start_failure_raises_with_the_child_stderr(tmp_path, monkeypatch):
    monkeypatch.setattr(spec_mod.Spec, 'to_json', lambda self: '{broken')
    fs = mount.EmulatedSysfs('intel-gvt', tmp_path / 'sysfs',
                             workdir=tmp_path / 'work')
    with pytest.raises(mount.EmulationError, match='(?s)exited.*'
                       'JSONDecodeError'):
        fs.start()
    assert not fs.alive and not os.path.exists(tmp_path / 'sysfs')


def test_start_refuses_a_mount_point(sysfs):
    with pytest.raises(mount.EmulationError, match='already a mount point'):
        mount.EmulatedSysfs('intel-gvt', sysfs.root).start()
    assert mount.mounted(sysfs.root)


def test_eventlet_process_and_orphan_cleanup(tmp_path):
    """Works under eventlet; a killed parent does not leak the mount."""
    script = textwrap.dedent('''
        import warnings
        warnings.simplefilter('ignore')
        import eventlet
        eventlet.monkey_patch()
        import os, sys
        from migcompat_lab.emulation import mount
        fs = mount.EmulatedSysfs('sriov-vf', sys.argv[1]).start()
        path = fs.path('bus/pci/devices/0000:3b:00.1/migration_version')
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, b'nope')
        except OSError as e:
            print(e.errno, fs.pid, os.getcwd(), flush=True)
        sys.stdin.read()
    ''')
    mp = str(tmp_path / 'sysfs')
    # The lab is used from the repository (tox puts it on PYTHONPATH).
    repo = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ, PYTHONPATH=repo)
    proc = subprocess.Popen([sys.executable, '-c', script, mp],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            cwd=str(tmp_path), text=True, env=env)
    try:
        code, _child, cwd = proc.stdout.readline().split()
        assert int(code) == errno.EINVAL
        assert cwd == os.path.realpath(tmp_path)
        assert mount.mounted(mp)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    deadline = time.monotonic() + 10
    while mount.mounted(mp) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not mount.mounted(mp)
