"""Mount an emulated sysfs in a child process, and drive it.

The FUSE loop runs in a separate process (``python -m
migcompat_lab.emulation serve``), so it behaves the same in a plain test
process and in one running Nova's eventlet-patched fixtures, and libfuse's
signal handling and ``chdir('/')`` stay out of the caller's process.
"""

import atexit
import errno
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from migcompat_lab.emulation import spec as spec_mod

#: The only files a client of the emulated sysfs may write, and how.
ALLOWED_NAME = 'migration_version'
ALLOWED_OPS = ('open', 'write', 'truncate')
#: The log's other events: a read of an attribute with a ``read_delay``.
READ = 'read'

_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


class EmulationError(RuntimeError):
    """The emulated sysfs could not be mounted, updated or unmounted."""


def mounted(path):
    """Whether path is a mount point (per /proc/self/mountinfo)."""
    return _mount_entry(path) is not None


def _mount_entry(path):
    path = os.path.realpath(path)
    with open('/proc/self/mountinfo', encoding='utf-8',
              errors='surrogateescape') as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and _unescape(fields[4]) == path:
                sep = fields.index('-')
                return {'fstype': fields[sep + 1], 'source': fields[sep + 2]}
    return None


def _unescape(field):
    for code in ('\\040', '\\011', '\\012', '\\134'):
        field = field.replace(code, chr(int(code[1:], 8)))
    return field


class EmulatedSysfs(object):
    """One emulated host's sysfs, mounted with FUSE at ``mountpoint``.

    ``spec`` is anything ``spec.load()`` takes: a Spec, a dict, a path or a
    bundled example's name.  The mount point is created if missing (and
    removed again by stop()); ``workdir`` (spec copies, the write log, the
    child's stderr) is a temporary directory removed by stop() unless
    given.
    """

    def __init__(self, spec, mountpoint, workdir=None, timeout=10.0):
        self.spec = spec_mod.load(spec)
        self.root = os.path.abspath(os.fspath(mountpoint))
        self.timeout = timeout
        self.generation = 0
        self._workdir = workdir and os.path.abspath(os.fspath(workdir))
        self._own_workdir = workdir is None
        self._own_mountpoint = False
        self._proc = None
        self._status_fd = None
        self._buf = b''
        self._events = []
        self._final_writes = None
        self._state = 'new'

    def __repr__(self):
        return '<EmulatedSysfs %s at %s (%s)>' % (self.spec.host, self.root,
                                                  self._state)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def write_log(self):
        return os.path.join(self._workdir, 'writes.jsonl')

    @property
    def child_log(self):
        return os.path.join(self._workdir, 'child.log')

    @property
    def pid(self):
        return self._proc.pid if self._proc else None

    @property
    def alive(self):
        """Whether the FUSE child process is running."""
        return self._proc is not None and self._proc.poll() is None

    def path(self, *parts):
        """A path inside the mounted tree: path('bus', 'pci', 'devices')."""
        return os.path.join(self.root, *[p.strip('/') for p in parts])

    def start(self):
        """Mount; returns self.  Raises EmulationError with the reason."""
        if self._state != 'new':
            raise EmulationError('%r: start() only once' % self)
        self._state = 'starting'
        atexit.register(self.stop)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self._state = 'running'
        return self

    def _start(self):
        if self._workdir is None:
            self._workdir = tempfile.mkdtemp(prefix='migcompat-sysfs-')
        else:
            os.makedirs(self._workdir, exist_ok=True)
        if not os.path.isdir(self.root):
            if os.path.lexists(self.root):
                raise EmulationError('mount point %s exists and is not a '
                                     'directory' % self.root)
            os.makedirs(self.root)
            self._own_mountpoint = True
        elif mounted(self.root):
            raise EmulationError('%s is already a mount point' % self.root)
        spec_file = self._write_spec(0, self.spec)
        status_r, status_w = os.pipe()
        self._status_fd = status_r
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [_PACKAGE_PARENT] + [p for p in env.get('PYTHONPATH', '').split(
                os.pathsep) if p])
        cmd = [sys.executable, '-m', 'migcompat_lab.emulation', 'serve',
               '--spec', spec_file, '--mountpoint', self.root,
               '--write-log', self.write_log, '--status-fd', str(status_w)]
        with open(self.child_log, 'ab') as err:
            try:
                # A new session: a terminal's Ctrl-C must not unmount the
                # tree under a test that is still tearing down.
                self._proc = subprocess.Popen(
                    cmd, stdin=subprocess.PIPE, stdout=err, stderr=err,
                    pass_fds=(status_w,), cwd='/', env=env,
                    start_new_session=True)
            finally:
                os.close(status_w)
        deadline = time.monotonic() + self.timeout
        event = self._wait_event(lambda e: e.get('event') in ('ready',
                                                              'failed'),
                                 deadline, 'mount')
        if event['event'] == 'failed':
            raise EmulationError('mounting %s failed: %s%s' % (
                self.root, event.get('error'), self._stderr_text()))
        while not mounted(self.root):
            if time.monotonic() > deadline:
                raise EmulationError('%s is not in /proc/self/mountinfo '
                                     'although the FUSE child is ready%s'
                                     % (self.root, self._stderr_text()))
            time.sleep(0.01)

    def update(self, spec):
        """Replace the whole tree at once; returns when it is visible."""
        if self._state != 'running':
            raise EmulationError('%r: update() needs a running mount' % self)
        new = spec_mod.load(spec)
        generation = self.generation + 1
        spec_file = self._write_spec(generation, new)
        command = {'cmd': 'load', 'spec': spec_file,
                   'generation': generation}
        try:
            self._proc.stdin.write(json.dumps(command).encode() + b'\n')
            self._proc.stdin.flush()
        except OSError as e:
            raise EmulationError('cannot reach the FUSE child of %s: %s%s'
                                 % (self.root, e, self._stderr_text()))
        deadline = time.monotonic() + self.timeout
        event = self._wait_event(
            lambda e: (e.get('generation') == generation
                       and e.get('event') in ('loaded', 'load_error')),
            deadline, 'update')
        if event['event'] == 'load_error':
            raise EmulationError('the FUSE child of %s refused the new '
                                 'tree: %s' % (self.root, event['error']))
        self.spec = new
        self.generation = generation

    def writes(self):
        """The write log: a list of {"op", "path", "data", "result"}."""
        if self._final_writes is not None:
            return list(self._final_writes)
        if self._workdir is None or not os.path.exists(self.write_log):
            return []
        with open(self.write_log, encoding='utf-8') as f:
            return [json.loads(line) for line in f if line.strip()]

    def foreign_writes(self):
        """Write attempts on anything but a migration_version attribute."""
        return [e for e in self.writes() if e['op'] != READ and (
            os.path.basename(e['path']) != ALLOWED_NAME
            or e['op'] not in ALLOWED_OPS)]

    def delayed_reads(self):
        """The reads of attributes with a ``read_delay`` (as they start)."""
        return [e for e in self.writes() if e['op'] == READ]

    def stop(self):
        """Unmount, reap the child, clean up; idempotent."""
        if self._state in ('new', 'stopped'):
            self._state = 'stopped'
            atexit.unregister(self.stop)
            return
        self._state = 'stopped'
        atexit.unregister(self.stop)
        errors = []
        # Only a mount our child made is ours to unmount.
        if self._proc is not None and mounted(self.root):
            ok, error = unmount(self.root)
            if not ok:
                ok, error = unmount(self.root, lazy=True)
            if not ok:
                errors.append(error)
        if self._proc is not None:
            self._reap()
        if self._proc is not None and mounted(self.root):
            # The child is gone: a dead FUSE mount answers ENOTCONN.
            ok, error = unmount(self.root, lazy=True)
            if not ok:
                errors.append(error)
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None
        self._final_writes = self.writes()
        if self._own_workdir and self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
        if self._own_mountpoint and not mounted(self.root):
            try:
                os.rmdir(self.root)
            except OSError:
                pass
        if errors:
            raise EmulationError('cannot unmount %s: %s'
                                 % (self.root, '; '.join(errors)))

    def _reap(self):
        proc = self._proc
        try:
            proc.stdin.close()
        except OSError:
            pass
        for sig, wait in ((None, 5), (signal.SIGTERM, 5),
                          (signal.SIGKILL, 5)):
            if sig is not None and proc.poll() is None:
                try:
                    proc.send_signal(sig)
                except OSError:
                    pass
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def _write_spec(self, generation, spec):
        path = os.path.join(self._workdir, 'spec.%d.json' % generation)
        with open(path + '.tmp', 'w', encoding='utf-8') as f:
            f.write(spec.to_json())
        os.replace(path + '.tmp', path)
        return path

    def _stderr_text(self):
        try:
            with open(self.child_log, encoding='utf-8',
                      errors='replace') as f:
                text = f.read().strip()
        except OSError:
            return ''
        return '\nFUSE child stderr:\n%s' % text if text else ''

    def _wait_event(self, predicate, deadline, what):
        while True:
            for i, event in enumerate(self._events):
                if predicate(event):
                    return self._events.pop(i)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EmulationError('%s of %s timed out after %.1f s%s'
                                     % (what, self.root, self.timeout,
                                        self._stderr_text()))
            ready, _, _ = select.select([self._status_fd], [], [],
                                        min(remaining, 0.5))
            if not ready:
                if self._proc.poll() is not None:
                    raise self._died(what)
                continue
            try:
                chunk = os.read(self._status_fd, 65536)
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                raise
            if not chunk:
                raise self._died(what)
            self._buf += chunk
            while b'\n' in self._buf:
                line, self._buf = self._buf.split(b'\n', 1)
                self._events.append(json.loads(line))

    def _died(self, what):
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        return EmulationError('%s of %s failed: the FUSE child exited '
                              '(status %s)%s' % (what, self.root, code,
                                                 self._stderr_text()))


def unmount(mountpoint, lazy=False):
    """Unmount a FUSE mount; returns (ok, error text)."""
    errors = []
    for cmd in (['fusermount3', '-u'], ['fusermount', '-u'], ['umount']):
        if lazy:
            cmd = cmd + (['-l'] if cmd[0] == 'umount' else ['-z'])
        try:
            proc = subprocess.run(cmd + [mountpoint], capture_output=True,
                                  text=True, timeout=10)
        except FileNotFoundError:
            continue
        except subprocess.TimeoutExpired:
            errors.append('%s: timed out' % ' '.join(cmd))
            continue
        if proc.returncode == 0:
            return True, ''
        errors.append('%s: %s' % (' '.join(cmd), proc.stderr.strip()))
        # The tool exists and refused: another tool would refuse too.
        break
    return False, '; '.join(errors) or 'no unmount tool found'
