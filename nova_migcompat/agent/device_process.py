"""Device sources in a process of their own, so a hung device holds nothing.

A read or write of a device's attribute runs the vendor driver's code, and
a driver may block for as long as it likes, in a wait no signal ends.  A
deadline (:mod:`nova_migcompat.agent.deadline`) lets the caller go on,
but the kernel does not let a process end while one of its threads is in
such a call: an agent that made the call itself could not exit, whatever
it did (``--once`` would run until the driver answers, ``systemctl stop``
would wait, an operator's shell would hang).

So the agent never calls a device itself.  Its device sources run in a
child process (``python -m nova_migcompat.agent.device_process``) that
the agent starts when it loads them, and every ``discover()`` and
``check()`` is a request over a pipe.  The child runs the sources as they
are, with their deadlines (a hung device is unknown at once, and stays so
while its call hangs: the child lives as long as the agent), and answers
each request within its deadline.  When the agent ends it kills the child
and does not wait for it: a child stuck in the kernel goes on until the
driver answers, without the agent, its terminal or its lock.  A child that
does not answer in time (stuck beyond its own deadlines) is abandoned the
same way, the request is unknown, and the next request starts another.

The child holds nothing of the agent's: no lock file, no terminal (its
standard output and error are /dev/null; its log lines come back over the
pipe and are logged by the agent under the child logger's name), no
placement credentials (it reads only the sources' options).

Messages are JSON documents, each behind its length (4 bytes, big endian).
"""

import dataclasses
import json
import logging as std_logging
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref

from oslo_config import cfg
from oslo_log import log as logging

from nova_migcompat.agent import device as device_mod
from nova_migcompat.agent import source as sources_mod
from nova_migcompat.agent import verdict as verdict_mod
from nova_migcompat import conf as migcompat_conf
from nova_migcompat import exception

LOG = logging.getLogger(__name__)

#: Seconds the child may take to load the sources.
LOAD_SECONDS = 60
#: Seconds a check may take beyond ``[migcompat]device_timeout``.
CHECK_MARGIN = 5
#: A discovery may go this many device deadlines (at least a minute)
#: without a sign of life (the child's heartbeat while it works).
DISCOVERY_DEADLINES = 20
#: Seconds between two heartbeats of a child at work.
HEARTBEAT_SECONDS = 2
#: The largest message either side reads (a discovery of many devices).
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
#: How often a wait looks at the agent's stop flag.
POLL_SECONDS = 0.1
_HEADER = struct.Struct('>I')
#: In the child: one message at a time on the pipe, whichever thread
#: (a device's worker logs too).
_WRITE_LOCK = threading.Lock()
#: Option groups whose values the agent sends (the sources' options); the
#: child reads the configuration files for the rest.
GROUPS = ('migcompat', 'devices')


class DeviceProcessError(exception.MigCompatError):
    """The device process failed or did not answer in time."""


class SourcesNotLoaded(exception.MigCompatError):
    """The device sources could not be loaded (a configuration error)."""


def _device_to_dict(dev):
    return dataclasses.asdict(dev)


def _device_from_dict(data):
    return device_mod.Device(**data)


# The agent's side ---------------------------------------------------------

class _Child(object):
    """One child process and its pipes."""

    def __init__(self, env=None):
        self.proc = subprocess.Popen(
            [sys.executable, '-m', __name__], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            close_fds=True, env=env)
        self.send_fd = self.proc.stdin.fileno()
        self.recv_fd = self.proc.stdout.fileno()
        self.buffer = b''

    def abandon(self):
        """Kill it and go on; never wait for it (it may be in the kernel)."""
        try:
            self.proc.kill()
        except OSError:
            pass
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        # Reaped if it is already gone; else by a later poll (subprocess
        # keeps it), or by init once the agent has ended.
        self.proc.poll()


def _kill(child):
    if child is not None:
        child.abandon()


class DeviceProcess(object):
    """The child process that runs the device sources (see the module).

    :param conf: the agent's configuration: the child reads the same
        configuration files, with the values of :data:`GROUPS` as this
        process has them.
    :param should_stop: polled while waiting for an answer; when it
        returns True the wait ends with :class:`~nova_migcompat.exception.
        Stopped`.
    :raises SourcesNotLoaded: a source cannot be loaded (one line).
    :raises DeviceProcessError: the child cannot be started.
    """

    def __init__(self, conf, should_stop=None):
        self.should_stop = should_stop or (lambda: False)
        self._child = None
        self._finalizer = None
        self._configure(conf)
        try:
            self.names = self._start()
        except BaseException:
            self.close()
            raise

    def _configure(self, conf):
        self.timeout = conf.migcompat.device_timeout
        self._load = {'op': 'load', 'argv': _config_argv(conf),
                      'values': _values(conf),
                      'log_level': std_logging.getLogger(
                          'nova_migcompat').getEffectiveLevel()}

    def _start(self):
        child = _Child()
        self._child = child
        self._finalizer = weakref.finalize(self, _kill, child)
        return self._call(self._load, LOAD_SECONDS,
                          'loading the device sources')

    def reload(self, conf):
        """Load the sources of a new configuration in the same child.

        The child keeps what it knows of hung devices (a device whose call
        still hangs is not called again).  On failure the sources of the
        previous configuration stay.

        :raises SourcesNotLoaded: the new sources cannot be loaded.
        """
        previous = self._load
        self._configure(conf)
        try:
            if self._child is None:
                self.names = self._start()
            else:
                self.names = self._call(self._load, LOAD_SECONDS,
                                        'loading the device sources')
        except BaseException:
            self._load = previous
            raise

    def _ensure(self):
        if self._child is None:
            self._start()

    def close(self):
        """End the child without waiting for it."""
        if self._finalizer is not None:
            self._finalizer()
        self._child = None

    def _abandon(self, why):
        LOG.error('The device process (pid %s) %s: abandoned; the next '
                  'device request starts another',
                  self._child.proc.pid if self._child else '?', why)
        self.close()

    def _call(self, request, seconds, what, alive=False):
        """Send one request, return its answer (log lines relayed).

        :param seconds: how long the child may take to answer; with
            ``alive``, how long it may go without a sign of life (a log
            line, or its heartbeat while it works): a discovery of many
            devices takes as long as they need, a child that hangs does
            not.
        """
        child = self._child
        deadline = time.monotonic() + seconds
        try:
            _write_message(child.send_fd, request)
            while True:
                message = self._read(child, deadline, what)
                if alive:
                    deadline = time.monotonic() + seconds
                if 'log' in message:
                    _relay(message['log'])
                    continue
                if 'alive' in message:
                    continue
                break
        except (OSError, ValueError) as e:
            self._abandon('failed while %s (%s)' % (what, e))
            raise DeviceProcessError('the device process failed while %s: '
                                     '%s' % (what, e))
        if 'error' in message:
            kind, text = message['error']
            if kind == 'load':
                raise SourcesNotLoaded(text)
            if kind == 'source':
                # The source's own words (an unusable root...).
                raise DeviceProcessError(text)
            raise DeviceProcessError('%s: %s' % (what, text))
        return message['ok']

    def _read(self, child, deadline, what):
        while True:
            message = _take_message(child)
            if message is not None:
                return message
            if self.should_stop():
                # The child may be busy with a device: do not wait for it.
                self._abandon('was left while %s (stopping)' % what)
                raise exception.Stopped('stopped while %s' % what)
            left = deadline - time.monotonic()
            if left <= 0:
                self._abandon('did not answer in time while %s' % what)
                raise DeviceProcessError(
                    'the device process did not answer in time while %s'
                    % what)
            ready, _w, _x = select.select([child.recv_fd], [], [],
                                          min(left, POLL_SECONDS))
            if ready:
                data = os.read(child.recv_fd, 1 << 16)
                if not data:
                    raise OSError('the device process ended')
                child.buffer += data
                if len(child.buffer) > MAX_MESSAGE_BYTES + _HEADER.size:
                    raise ValueError('an answer larger than %d bytes'
                                     % MAX_MESSAGE_BYTES)

    def discover(self, index):
        """The devices of source ``index``, each with its reference."""
        self._ensure()
        seconds = max(60, DISCOVERY_DEADLINES * self.timeout)
        answer = self._call({'op': 'discover', 'source': index}, seconds,
                            'discovering the devices of %s'
                            % self.names[index], alive=True)
        devices = []
        for ref, data in answer:
            dev = _device_from_dict(data)
            dev.ref = tuple(ref)
            devices.append(dev)
        return devices

    def confirm(self, index):
        """Source ``index`` still sees its devices, or an error is raised."""
        self._ensure()
        self._call({'op': 'confirm', 'source': index},
                   max(60, self.timeout + CHECK_MARGIN),
                   'confirming the devices of %s' % self.names[index])

    def check(self, index, device, text):
        """The Verdict of the target-side check, always in time."""
        try:
            self._ensure()
            answer = self._call(
                {'op': 'check', 'source': index,
                 'ref': list(getattr(device, 'ref', None) or ()),
                 'text': text}, self.timeout + CHECK_MARGIN,
                'checking a string on %s' % device.name)
        except (DeviceProcessError, SourcesNotLoaded) as e:
            return verdict_mod.Verdict(verdict_mod.UNKNOWN, str(e))
        return verdict_mod.Verdict(answer['result'], answer['reason'])


def _values(conf):
    values = {}
    for group in GROUPS:
        try:
            names = list(conf[group])
        except Exception:
            continue
        values[group] = {name: conf[group][name] for name in names}
    return values


def _config_argv(conf):
    argv = []
    for path in getattr(conf, 'config_file', None) or []:
        argv += ['--config-file', path]
    for path in getattr(conf, 'config_dir', None) or []:
        argv += ['--config-dir', path]
    return argv


def _relay(record):
    """A log line of the child, logged here under its logger's name."""
    name, level, text = record
    std_logging.getLogger(name).log(level, '%s', text)


class RemoteSource(sources_mod.DeviceSource):
    """One source of the device process, as the reporter sees it."""

    def __init__(self, process, index, name):
        self.process = process
        self.index = index
        self.name = name

    def discover(self):
        return self.process.discover(self.index)

    def check(self, device, text):
        return self.process.check(self.index, device, text)

    def confirm(self):
        self.process.confirm(self.index)


def load(conf, should_stop=None, process=None):
    """The configured sources, each running in the device process.

    :param process: the :class:`DeviceProcess` of the sources loaded
        before (a configuration reload): reused, with the new sources.
    :raises SourcesNotLoaded: a source cannot be loaded.
    """
    if process is None:
        process = DeviceProcess(conf, should_stop)
    else:
        process.reload(conf)
    return [RemoteSource(process, index, name)
            for index, name in enumerate(process.names)]


def process_of(sources):
    """The :class:`DeviceProcess` of :func:`load`'s sources, or None."""
    for source in sources:
        process = getattr(source, 'process', None)
        if process is not None:
            return process
    return None


def close(sources):
    """End the device process of ``sources`` (:func:`load`'s)."""
    for source in sources:
        process = getattr(source, 'process', None)
        if process is not None:
            process.close()


# Framing ----------------------------------------------------------------

def _write_message(fd, message):
    data = json.dumps(message, separators=(',', ':')).encode('utf-8')
    data = _HEADER.pack(len(data)) + data
    with _WRITE_LOCK:
        while data:
            written = os.write(fd, data)
            data = data[written:]


def _take_message(child):
    """A complete message from the child's buffer, or None."""
    if len(child.buffer) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack_from(child.buffer)
    if size > MAX_MESSAGE_BYTES:
        raise ValueError('an answer of %d bytes' % size)
    if len(child.buffer) < _HEADER.size + size:
        return None
    data = child.buffer[_HEADER.size:_HEADER.size + size]
    child.buffer = child.buffer[_HEADER.size + size:]
    message = json.loads(data.decode('utf-8'))
    if not isinstance(message, dict):
        raise ValueError('an answer that is not a JSON object')
    return message


def _read_exactly(fd, size):
    chunks, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b''.join(chunks)


# The child's side -------------------------------------------------------

class _PipeHandler(std_logging.Handler):
    """Sends the child's log records to the agent."""

    def __init__(self, fd):
        super().__init__()
        self.fd = fd

    def emit(self, record):
        try:
            text = record.getMessage()
            if record.exc_info:
                text += '\n' + std_logging.Formatter().formatException(
                    record.exc_info)
            _write_message(self.fd, {'log': [record.name, record.levelno,
                                             text]})
        except Exception:
            pass


class _Server(object):

    def __init__(self, out):
        self.out = out
        self.sources = None
        #: source index -> its last discovery's devices.
        self.devices = {}
        self.discoveries = 0

    def load(self, request):
        conf = cfg.ConfigOpts()
        migcompat_conf.register_opts(conf)
        migcompat_conf.register_nova_device_opts(conf)
        conf(request['argv'], project='nova', default_config_files=[])
        std_logging.getLogger().setLevel(request.get('log_level',
                                                     std_logging.INFO))
        for group, values in request['values'].items():
            for name, value in values.items():
                try:
                    conf.set_override(name, value, group)
                except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
                    pass
        try:
            self.sources = sources_mod.load_sources(conf)
        except Exception as e:
            return {'error': ['load', 'cannot load the device sources '
                              '(%s: %s)' % (type(e).__name__, e)]}
        return {'ok': [source.name or type(source).__name__
                       for source in self.sources]}

    def discover(self, request):
        index = request['source']
        devices = self.sources[index].discover()
        self.discoveries += 1
        self.devices[index] = (self.discoveries, devices)
        return {'ok': [[[self.discoveries, i], _device_to_dict(dev)]
                       for i, dev in enumerate(devices)]}

    def check(self, request):
        index = request['source']
        discovery, devices = self.devices.get(index, (None, []))
        ref = request['ref']
        if len(ref) != 2 or ref[0] != discovery or \
                not 0 <= ref[1] < len(devices):
            verdict = verdict_mod.Verdict(
                verdict_mod.UNKNOWN, 'not a device of the last discovery')
        else:
            verdict = self.sources[index].check(devices[ref[1]],
                                                request['text'])
        return {'ok': {'result': verdict.result, 'reason': verdict.reason}}

    def _heartbeat(self, busy):
        """Say "alive" while a request is served (a long discovery)."""
        while True:
            busy.wait()
            time.sleep(HEARTBEAT_SECONDS)
            if busy.is_set():
                try:
                    _write_message(self.out, {'alive': True})
                except OSError:
                    return

    def serve(self, inp):
        busy = threading.Event()
        threading.Thread(target=self._heartbeat, args=(busy,),
                         daemon=True).start()
        while True:
            header = _read_exactly(inp, _HEADER.size)
            if header is None:
                return
            (size,) = _HEADER.unpack(header)
            data = _read_exactly(inp, size)
            if data is None:
                return
            request = json.loads(data.decode('utf-8'))
            busy.set()
            try:
                self._serve_one(request)
            finally:
                busy.clear()

    def _serve_one(self, request):
        try:
            op = request.get('op')
            if op == 'load':
                answer = self.load(request)
            elif self.sources is None:
                answer = {'error': ['state', 'no sources loaded']}
            elif op == 'discover':
                answer = self.discover(request)
            elif op == 'check':
                answer = self.check(request)
            elif op == 'confirm':
                self.sources[request['source']].confirm()
                answer = {'ok': None}
            else:
                answer = {'error': ['request', 'unknown request %r' % op]}
        except (exception.MigCompatError, OSError) as e:
            answer = {'error': ['source', str(e)]}
        except Exception as e:
            std_logging.getLogger(__name__).exception(
                'The device process failed on a %s request',
                request.get('op'))
            answer = {'error': ['source', '%s: %s' % (type(e).__name__, e)]}
        _write_message(self.out, answer)


def main():
    # The protocol's descriptors; nothing else may write to them.
    inp = os.dup(0)
    out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    # The agent ends this process with SIGKILL; SIGINT of a terminal's
    # Ctrl-C is the agent's to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    root = std_logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_PipeHandler(out))
    root.setLevel(std_logging.DEBUG)
    _Server(out).serve(inp)
    # The agent went away; a thread stuck in a device call may keep this
    # process until the driver answers, but nobody waits for it.
    os._exit(0)


if __name__ == '__main__':
    main()
