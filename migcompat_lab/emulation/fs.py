"""The FUSE file system of an emulated sysfs (runs in its own process).

Reads return attribute contents; only attributes with a write policy
(``migration_version``) take writes, answered by the policy through the real
kernel path (``os.write`` fails with the policy's errno).  Everything else
that would change the tree fails with EACCES.  Every write attempt that
reaches the file system (open with write intent, write, truncate, create,
mkdir, unlink, rename, chmod, symlink, ...) is appended to the write log,
one JSON object per line: ``{"op", "path", "data", "result"}``; so is
each read of an attribute with a ``read_delay``, as it starts to wait
(``"op": "read"``), for a test to act on.

``serve()`` is the child process's main: it mounts in the foreground, with
libfuse's multi-threaded loop (a slow or hung attribute, ``write_delay`` or
``read_delay``, holds one FUSE thread while the others serve the rest of
the tree), and talks to the parent (mount.py) over two pipes:

* status fd (child -> parent), JSON lines: ``{"event": "ready"}`` once the
  kernel has initialised the mount, ``{"event": "loaded", "generation": n}``
  or ``{"event": "load_error", "generation": n, "error": ...}`` after a
  reload, ``{"event": "exit"}`` when the file system is unmounted;
* stdin (parent -> child), JSON lines: ``{"cmd": "load", "spec": <path of
  a JSON spec>, "generation": n}``.

A control thread reads stdin and swaps the whole tree (one reference
assignment: every FUSE operation reads ``self.tree`` once, so it sees either
the old or the new tree).  On SIGTERM/SIGINT or end of stdin (the parent is
gone) it wakes the delayed calls (they fail with ENODEV) and unmounts, which
ends the FUSE loop.  Python signal handlers only run
between FUSE callbacks here, so signals reach the control thread through
``signal.set_wakeup_fd``.
"""

import errno
import itertools
import json
import logging
import os
import select
import signal
import stat
import sys
import threading
import time

import mfusepy

from migcompat_lab.emulation import mount
from migcompat_lab.emulation import spec as spec_mod

LOG = logging.getLogger(__name__)

ATTR_SIZE = 4096
FSNAME = 'migcompat-sysfs'


def _errname(code):
    return errno.errorcode.get(code, str(code))


def _flag_names(flags):
    names = [{os.O_RDONLY: 'O_RDONLY', os.O_WRONLY: 'O_WRONLY',
              os.O_RDWR: 'O_RDWR'}.get(flags & os.O_ACCMODE, 'O_ACCMODE')]
    for name in ('O_CREAT', 'O_EXCL', 'O_TRUNC', 'O_APPEND'):
        if flags & getattr(os, name):
            names.append(name)
    return '|'.join(names)


class SysfsOperations(mfusepy.Operations):
    """An mfusepy file system serving a tree.Tree."""

    use_ns = True

    def __init__(self, tree, write_log, on_init=None):
        self.tree = tree
        self._log = open(write_log, 'a', buffering=1, encoding='utf-8')
        self._on_init = on_init
        self._handles = itertools.count(1)
        self._time = time.time_ns()
        # FUSE callbacks run in several threads: one write is judged (and
        # its transient count kept) at a time.
        self._lock = threading.Lock()
        #: Set when the file system stops: delayed calls give up.
        self.stopping = threading.Event()

    def close(self):
        self._log.close()

    def _record(self, op, path, data, result, **extra):
        if isinstance(data, bytes):
            data = data.decode('utf-8', 'backslashreplace')
        event = {'op': op, 'path': path, 'data': data,
                 'result': result if isinstance(result, str)
                 else ('ok' if result == 0 else _errname(result))}
        event.update(extra)
        with self._lock:
            self._log.write(json.dumps(event, sort_keys=True) + '\n')

    def _delay(self, node, key):
        """Wait out the attribute's ``write_delay`` or ``read_delay``.

        :raises FuseOSError: ENODEV when the file system stops meanwhile.
        """
        delay = node.attr.get(key)
        if delay is None:
            return
        if self.stopping.wait(None if delay == spec_mod.HANG else delay):
            raise mfusepy.FuseOSError(errno.ENODEV)

    def _deny(self, op, path, data=''):
        self._record(op, path, data, errno.EACCES)
        raise mfusepy.FuseOSError(errno.EACCES)

    def init(self, path):
        if self._on_init is not None:
            self._on_init()

    def getattr(self, path, fh=None):
        node = self.tree.lookup(path)
        if node is None:
            raise mfusepy.FuseOSError(errno.ENOENT)
        st = {'st_uid': 0, 'st_gid': 0, 'st_atime': self._time,
              'st_mtime': self._time, 'st_ctime': self._time}
        if node.kind == 'dir':
            st.update(st_mode=stat.S_IFDIR | node.mode, st_nlink=2,
                      st_size=0)
        elif node.kind == 'link':
            st.update(st_mode=stat.S_IFLNK | node.mode, st_nlink=1,
                      st_size=len(node.target.encode()))
        else:
            st.update(st_mode=stat.S_IFREG | node.mode, st_nlink=1,
                      st_size=ATTR_SIZE)
        return st

    def readlink(self, path):
        node = self.tree.lookup(path)
        if node is None:
            raise mfusepy.FuseOSError(errno.ENOENT)
        if node.kind != 'link':
            raise mfusepy.FuseOSError(errno.EINVAL)
        return node.target

    def readdir(self, path, fh):
        node = self.tree.lookup(path)
        if node is None:
            raise mfusepy.FuseOSError(errno.ENOENT)
        if node.kind != 'dir':
            raise mfusepy.FuseOSError(errno.ENOTDIR)
        entries = [('.', {'st_mode': stat.S_IFDIR}, 0),
                   ('..', {'st_mode': stat.S_IFDIR}, 0)]
        for name, child in node.children.items():
            kind = {'dir': stat.S_IFDIR, 'link': stat.S_IFLNK}.get(
                child.kind, stat.S_IFREG)
            entries.append((name, {'st_mode': kind}, 0))
        return entries

    def access(self, path, amode):
        node = self.tree.lookup(path)
        if node is None:
            raise mfusepy.FuseOSError(errno.ENOENT)
        if amode & os.W_OK and node.kind == 'file' and not node.writable:
            raise mfusepy.FuseOSError(errno.EACCES)
        if amode & os.X_OK and node.kind == 'file':
            raise mfusepy.FuseOSError(errno.EACCES)
        return 0

    def open(self, path, flags):
        node = self.tree.lookup(path)
        intent = (flags & os.O_ACCMODE != os.O_RDONLY
                  or flags & os.O_TRUNC)
        if node is None or node.kind != 'file':
            code = errno.ENOENT if node is None else errno.EISDIR
            if intent:
                self._record('open', path, '', code,
                             flags=_flag_names(flags))
            raise mfusepy.FuseOSError(code)
        if intent:
            code = 0 if node.writable else errno.EACCES
            self._record('open', path, '', code, flags=_flag_names(flags))
            if code:
                raise mfusepy.FuseOSError(code)
        return next(self._handles)

    def read(self, path, size, offset, fh):
        node = self.tree.lookup(path)
        if node is None:
            # The device went away under an open file, as on sysfs.
            raise mfusepy.FuseOSError(errno.ENODEV)
        if node.kind != 'file':
            raise mfusepy.FuseOSError(errno.EISDIR)
        if node.attr.get('read_delay') is not None:
            # A test may act while a reader waits (e.g. pull the tree).
            self._record('read', path, '', 'delayed', offset=offset)
        self._delay(node, 'read_delay')
        if node.attr['read_error']:
            raise mfusepy.FuseOSError(getattr(errno,
                                              node.attr['read_error']))
        return node.content[offset:offset + size]

    def write(self, path, data, offset, fh):
        node = self.tree.lookup(path)
        if node is None:
            code = errno.ENODEV
        elif node.kind != 'file':
            code = errno.EISDIR
        else:
            try:
                self._delay(node, 'write_delay')
            except mfusepy.FuseOSError as e:
                self._record('write', path, data, e.errno, offset=offset)
                raise
            with self._lock:
                code = spec_mod.check_write(node.attr, data, node.state)
        self._record('write', path, data, code, offset=offset)
        if code:
            raise mfusepy.FuseOSError(code)
        return len(data)

    def truncate(self, path, length, fh=None):
        # open(..., 'w') truncates: a no-op for writable attributes.
        node = self.tree.lookup(path)
        if node is None:
            code = errno.ENOENT
        elif node.kind != 'file' or not node.writable:
            code = errno.EACCES
        else:
            code = 0
        self._record('truncate', path, str(length), code)
        if code:
            raise mfusepy.FuseOSError(code)
        return 0

    def create(self, path, mode, fi=None):
        self._deny('create', path, oct(mode))

    def mknod(self, path, mode, dev):
        self._deny('mknod', path, oct(mode))

    def mkdir(self, path, mode):
        self._deny('mkdir', path, oct(mode))

    def unlink(self, path):
        self._deny('unlink', path)

    def rmdir(self, path):
        self._deny('rmdir', path)

    def symlink(self, target, source):
        # mfusepy passes (link path, link target).
        self._deny('symlink', target, source)

    def link(self, target, source):
        self._deny('link', target, source)

    def rename(self, old, new):
        self._deny('rename', old, new)

    def chmod(self, path, mode):
        self._deny('chmod', path, oct(mode))

    def chown(self, path, uid, gid):
        self._deny('chown', path, '%d:%d' % (uid, gid))

    def utimens(self, path, times=None):
        self._deny('utimens', path)

    def setxattr(self, path, name, value, options, position=0):
        self._deny('setxattr', path, name)

    def removexattr(self, path, name):
        self._deny('removexattr', path, name)

    def fallocate(self, path, mode, offset, size, fh):
        self._deny('fallocate', path, '%d+%d' % (offset, size))

    def statfs(self, path):
        return {'f_bsize': 4096, 'f_frsize': 4096, 'f_namemax': 255}


class _Status(object):
    """JSON lines to the parent; writes below PIPE_BUF are atomic."""

    def __init__(self, fd):
        self._fd = fd

    def send(self, **event):
        if self._fd is None:
            return
        try:
            os.write(self._fd, (json.dumps(event) + '\n').encode())
        except OSError:
            pass


class _Control(threading.Thread):
    """Reload commands from stdin; unmount on signals or parent exit."""

    def __init__(self, ops, mountpoint, status, wakeup_fd):
        super().__init__(name='migcompat-control', daemon=True)
        self.ops = ops
        self.mountpoint = mountpoint
        self.status = status
        self.wakeup_fd = wakeup_fd

    def run(self):
        # Signals go to the main thread, so that they interrupt the FUSE
        # loop's read; the wakeup fd tells this thread about them.
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM,
                                                  signal.SIGINT])
        buf = b''
        stdin = sys.stdin.fileno()
        while True:
            ready, _, _ = select.select([stdin, self.wakeup_fd], [], [])
            if self.wakeup_fd in ready:
                signums = os.read(self.wakeup_fd, 64)
                if {signal.SIGTERM, signal.SIGINT} & set(signums):
                    return self._quit('signal')
            if stdin in ready:
                chunk = os.read(stdin, 65536)
                if not chunk:
                    return self._quit('parent gone', lazy=True)
                buf += chunk
                while b'\n' in buf:
                    line, buf = buf.split(b'\n', 1)
                    if line.strip():
                        self._command(line)

    def _command(self, line):
        try:
            cmd = json.loads(line)
        except ValueError:
            LOG.error('bad command %r', line)
            return
        if cmd.get('cmd') != 'load':
            LOG.error('unknown command %r', cmd)
            return
        generation = cmd.get('generation')
        try:
            with open(cmd['spec'], encoding='utf-8') as f:
                tree = spec_mod.from_dict(json.load(f)).tree()
        except Exception as e:
            self.status.send(event='load_error', generation=generation,
                             error='%s: %s' % (type(e).__name__, e))
            return
        self.ops.tree = tree
        self.status.send(event='loaded', generation=generation)

    def _quit(self, why, lazy=False):
        LOG.info('unmounting %s (%s)', self.mountpoint, why)
        # A hung write holds its file open: end it first, or the unmount
        # is refused as busy.
        self.ops.stopping.set()
        ok, error = mount.unmount(self.mountpoint, lazy=lazy)
        if not ok:
            ok, error = mount.unmount(self.mountpoint, lazy=True)
        if not ok:
            LOG.info('cannot unmount %s: %s', self.mountpoint, error)
        # The FUSE loop ends by itself once the kernel drops the mount, but
        # not after a lazy unmount while files are open (they would keep
        # being served) nor if a callback is stuck: exit anyway.
        time.sleep(0.5)
        os._exit(0)


def _allow_other():
    if os.geteuid() == 0:
        return True
    try:
        with open('/etc/fuse.conf') as f:
            return any(line.strip() == 'user_allow_other' for line in f)
    except OSError:
        return False


def _noop(signum, frame):
    pass


def serve(spec_file, mountpoint, write_log, status_fd=None):
    """Mount the spec at mountpoint until unmounted; returns an exit code.

    Runs the FUSE loop in the calling thread (foreground; libfuse starts
    its worker threads); libfuse changes the process's working directory
    to ``/``.
    """
    status = _Status(status_fd)
    with open(spec_file, encoding='utf-8') as f:
        tree = spec_mod.from_dict(json.load(f)).tree()
    ops = SysfsOperations(tree, write_log,
                          on_init=lambda: status.send(event='ready',
                                                      pid=os.getpid()))
    # Handlers installed before FUSE starts keep libfuse's own (which
    # would end the loop without us) off SIGTERM and SIGHUP.
    wakeup_r, wakeup_w = os.pipe()
    os.set_blocking(wakeup_w, False)
    signal.signal(signal.SIGTERM, _noop)
    signal.signal(signal.SIGINT, _noop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.set_wakeup_fd(wakeup_w, warn_on_full_buffer=False)
    _Control(ops, mountpoint, status, wakeup_r).start()
    options = {'foreground': True, 'nothreads': False, 'fsname': FSNAME,
               'attr_timeout': 0, 'entry_timeout': 0,
               'negative_timeout': 0, 'direct_io': True}
    if _allow_other():
        options['allow_other'] = True
    try:
        mfusepy.FUSE(ops, mountpoint, **options)
    except RuntimeError as e:
        status.send(event='failed', error='libfuse returned %s' % e)
        return 1
    finally:
        ops.close()
    status.send(event='exit')
    return 0
