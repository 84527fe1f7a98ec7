"""FUSE preflight for CI: mount, write, update and unmount a tiny tree.

``python -m migcompat_lab.emulation.selftest`` exits 0 and prints the
timings when the emulated sysfs works on this machine, else prints why and
exits 1 (the tests would fail the same way; they never skip).
"""

import errno
import os
import sys
import tempfile
import time

from migcompat_lab.emulation import mount
from migcompat_lab.emulation import spec as spec_mod

_SPEC = {
    'host': 'selftest',
    'pci': [{'address': '0000:01:00.0', 'vendor': 0x1af4, 'device': 0x1041,
             'driver': 'virtio-pci',
             'migration_version': {'string': 'selftest-v1.2',
                                   'policy': 'same_major'}}],
}
_ATTR = 'bus/pci/devices/0000:01:00.0/migration_version'


def _write(path, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
        return 0
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)


def _check(fs):
    path = fs.path(_ATTR)
    with open(path, 'rb') as f:
        got = f.read()
    if got != b'selftest-v1.2\n':
        return 'read %r, expected the string and a newline' % got
    if _write(path, b'selftest-v1.1\n') != 0:
        return 'an acceptable write was refused'
    code = _write(path, b'selftest-v2.0')
    if code != errno.EINVAL:
        return 'a refused write gave %s, expected EINVAL' % (
            errno.errorcode.get(code, code))
    try:
        os.open(fs.path('bus/pci/devices/0000:01:00.0/vendor'), os.O_WRONLY)
        return 'opening vendor for writing succeeded'
    except PermissionError:
        pass
    new = spec_mod.load(_SPEC).to_dict()
    new['pci'][0]['migration_version']['string'] = 'selftest-v1.3'
    fs.update(new)
    with open(path, 'rb') as f:
        if f.read() != b'selftest-v1.3\n':
            return 'update() did not show'
    if len(fs.foreign_writes()) != 1:
        return 'the write log has %r' % fs.writes()
    return None


def main():
    with tempfile.TemporaryDirectory(prefix='migcompat-selftest-') as tmp:
        fs = mount.EmulatedSysfs(_SPEC, os.path.join(tmp, 'sysfs'))
        started = time.monotonic()
        try:
            fs.start()
        except mount.EmulationError as e:
            print('FUSE selftest FAILED: %s' % e, file=sys.stderr)
            return 1
        mounted = time.monotonic()
        try:
            problem = _check(fs)
        finally:
            fs.stop()
        stopped = time.monotonic()
        if problem is None and (fs.alive or mount.mounted(fs.root)):
            problem = 'stop() left the mount or the child behind'
    if problem:
        print('FUSE selftest FAILED: %s' % problem, file=sys.stderr)
        return 1
    print('FUSE selftest ok: mount %.0f ms, checks and unmount %.0f ms'
          % ((mounted - started) * 1000, (stopped - mounted) * 1000))
    return 0


if __name__ == '__main__':
    sys.exit(main())
