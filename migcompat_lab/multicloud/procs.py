"""Supervised OS processes: start, wait for readiness, stop, leave nothing.

Every service runs in a session (and process group) of its own, its
output appended to ``<logdir>/<name>.log``; the kernel kills it with
SIGKILL when the thread that started it dies (``PR_SET_PDEATHSIG``), so a
SIGKILLed supervisor does not leave it behind either.  Stopping sends
SIGTERM to the process group and to every descendant found then (some
daemons, like Erlang's ``erl_child_setup``, start sessions of their own),
waits, then SIGKILLs whatever is left.  Processes are recognised by pid
*and* creation time, never by name, so a reused pid is never signalled.
"""

import ctypes
import json
import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import psutil

_PR_SET_PDEATHSIG = 1


class StartError(RuntimeError):
    """A service did not become ready (its log's tail is in the message)."""


#: Where the services' ports are picked: below the kernel's ephemeral
#: range (net.ipv4.ip_local_port_range, 32768-60999 by default), which
#: outgoing connections take ports from.  A port picked there could be
#: taken by any client's connection before the service binds it (seen:
#: RabbitMQ's could_not_start_listener); below it, only a listener can.
PORT_RANGE = (20000, 32000)


def _ephemeral_range():
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            low, high = (int(v) for v in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host='127.0.0.1', taken=()):
    """A TCP port nobody listens on, outside the ephemeral range."""
    low, high = _ephemeral_range()
    candidates = [p for p in range(*PORT_RANGE)
                  if not low <= p <= high and p not in taken]
    for port in random.sample(candidates, min(200, len(candidates))):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise StartError('no free TCP port in %d-%d on %s' % (
        PORT_RANGE[0], PORT_RANGE[1], host))


def port_open(port, host='127.0.0.1'):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def listeners(port):
    """Pids of the processes listening on TCP ``port`` (needs root)."""
    return sorted({c.pid for c in psutil.net_connections('tcp')
                   if c.status == psutil.CONN_LISTEN and c.laddr
                   and c.laddr.port == port and c.pid})


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def tail(path, lines=25):
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return ''


class Service:
    """One started process (and everything it spawns)."""

    def __init__(self, name, argv, logfile, env=None, cwd=None):
        self.name = name
        self.argv = list(argv)
        self.logfile = logfile
        with open(logfile, 'ab') as log:
            log.write(('==== %s: %s\n' % (time.strftime('%H:%M:%S'),
                                          ' '.join(self.argv))).encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env, cwd=cwd,
                start_new_session=True, preexec_fn=_die_with_parent)
        self.pid = self.popen.pid
        self.create_time = psutil.Process(self.pid).create_time()
        self.extra = []     # (pid, create_time) adopted, e.g. a daemon

    def alive(self):
        return self.popen.poll() is None

    def check_alive(self):
        if not self.alive():
            raise StartError('%s exited with status %s; end of %s:\n%s' % (
                self.name, self.popen.returncode, self.logfile,
                tail(self.logfile)))

    def adopt(self, pid):
        """Make a process this service daemonised (epmd) part of it."""
        self.extra.append((pid, psutil.Process(pid).create_time()))

    def processes(self):
        """The live processes of this service: itself, descendants, adopted."""
        found = {}
        for pid, ctime in [(self.pid, self.create_time)] + self.extra:
            p = _same_process(pid, ctime)
            if p is None:
                continue
            found[p.pid] = p
            try:
                for c in p.children(recursive=True):
                    found[c.pid] = c
            except psutil.Error:
                pass
        return [p for p in found.values() if _running(p)]

    def stop(self, timeout=15):
        procs = self.processes()
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except OSError:
                pass
        for p in procs:
            _signal(p, signal.SIGTERM)
        gone, alive = psutil.wait_procs(procs, timeout=timeout)
        alive = [p for p in alive if _running(p)]
        for p in alive + self.processes():
            _signal(p, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        return [p.pid for p in self.processes()]

    def record(self):
        return {'name': self.name, 'pid': self.pid,
                'create_time': self.create_time, 'extra': self.extra}


def still_running(records):
    """Those of ``records`` [(pid, create_time)] still running."""
    return [(pid, ct) for pid, ct in records
            if _running(_same_process(pid, ct))]


def _same_process(pid, create_time):
    try:
        p = psutil.Process(pid)
        if abs(p.create_time() - create_time) < 0.01:
            return p
    except psutil.Error:
        pass
    return None


def _running(p):
    if p is None:
        return False
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _signal(p, sig):
    try:
        p.send_signal(sig)
    except psutil.Error:
        pass


def kill_recorded(state_file):
    """Kill the processes a (crashed) run recorded in ``state_file``."""
    with open(state_file) as f:
        state = json.load(f)
    procs = []
    for rec in state.get('services', []):
        for pid, ctime in [(rec['pid'], rec['create_time'])] + [
                tuple(e) for e in rec.get('extra', [])]:
            p = _same_process(pid, ctime)
            if p is not None:
                procs.append(p)
                procs.extend(p.children(recursive=True))
    for p in procs:
        _signal(p, signal.SIGKILL)
    psutil.wait_procs(procs, timeout=5)
    return [p.pid for p in procs]


def wait_for(what, check, timeout, service=None, interval=0.25):
    """Poll ``check()`` until truthy; fail early when ``service`` dies."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        if service is not None:
            service.check_alive()
        try:
            result = check()
            if result:
                return result
        except Exception as e:   # noqa: not ready yet, keep the reason
            last = e
        if time.monotonic() > deadline:
            msg = '%s not ready after %ss (last error: %r)' % (
                what, timeout, last)
            if service is not None:
                msg += '; end of %s:\n%s' % (service.logfile,
                                             tail(service.logfile))
            raise StartError(msg)
        time.sleep(interval)


def http_get(url, timeout=5, headers=None):
    """(status, body) of a GET; HTTP errors are results, not exceptions."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_http(url, timeout, service=None, ok=(200, 300)):
    """Wait until GET ``url`` answers with one of the ``ok`` statuses."""
    return wait_for('GET %s' % url,
                    lambda: http_get(url)[0] in ok, timeout, service)
