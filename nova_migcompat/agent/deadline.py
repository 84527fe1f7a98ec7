"""Deadlines for blocking device calls that a hung device cannot defeat.

A kernel write or read of a sysfs attribute runs the driver's code and may
block for as long as the driver likes (an uninterruptible wait, a firmware
call that never returns).  Nothing can interrupt it from user space, so the
call runs on a worker thread of its device and the caller waits for it at
most ``timeout`` seconds:

* in time, the caller gets the call's result (or its exception);
* late, the caller gets :class:`~nova_migcompat.exception.DeadlineExceeded`
  and whatever the call answers later is discarded: it never counts;
* while a call of a device is still outstanding (even one started in an
  earlier cycle), every further call for that device raises
  ``DeadlineExceeded`` at once, without starting anything: one stuck
  thread per hung device at most.

Workers are daemon threads (a hung one never holds up the agent's exit)
and end after a while without work.  The registry is process-wide, because
a hung kernel call is: a new device source (a configuration reload) must
not start a second call on a device whose first one still hangs.
"""

import threading
import time

from nova_migcompat import exception

#: Seconds an idle device worker waits for more work before it ends.
IDLE_SECONDS = 30


class _Call(object):
    def __init__(self, fn, args, kwargs):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.started = time.monotonic()
        self.done = threading.Event()
        self.value = None
        self.error = None

    def run(self):
        try:
            self.value = self.fn(*self.args, **self.kwargs)
        except BaseException as e:
            self.error = e


class _Worker(object):
    """The thread of one device; runs one call at a time."""

    def __init__(self, executor, key):
        self.executor = executor
        self.key = key
        self.call = None
        self.wakeup = threading.Condition(executor.lock)
        self.thread = threading.Thread(
            target=self._loop, name='migcompat-device %s' % key,
            daemon=True)

    def _loop(self):
        lock = self.executor.lock
        while True:
            with lock:
                if self.call is None:
                    self.wakeup.wait(self.executor.idle_seconds)
                if self.call is None:
                    # Idle: leave; a later call starts a new worker.
                    if self.executor.workers.get(self.key) is self:
                        del self.executor.workers[self.key]
                    return
                call = self.call
            call.run()
            with lock:
                self.call = None
            call.done.set()


class DeviceExecutor(object):
    """Runs device calls on per-device worker threads, with a deadline."""

    def __init__(self, idle_seconds=IDLE_SECONDS):
        self.lock = threading.Lock()
        self.workers = {}
        self.idle_seconds = idle_seconds

    def call(self, key, timeout, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` on ``key``'s worker, within ``timeout``.

        :returns: what ``fn`` returned; its exception is raised here.
        :raises DeadlineExceeded: ``fn`` did not return within ``timeout``
            seconds, or an earlier call on ``key`` is still running.
        """
        call = _Call(fn, args, kwargs)
        with self.lock:
            worker = self.workers.get(key)
            if worker is not None and worker.call is not None:
                raise exception.DeadlineExceeded(
                    key, 'an earlier call has not returned for %.0f s; not '
                    'trying again until it does'
                    % (time.monotonic() - worker.call.started))
            worker_is_new = worker is None
            if worker_is_new:
                worker = _Worker(self, key)
                self.workers[key] = worker
            worker.call = call
            worker.wakeup.notify()
        if worker_is_new:
            worker.thread.start()
        if not call.done.wait(timeout):
            raise exception.DeadlineExceeded(
                key, 'no answer within %s s; its answer, if it ever comes, '
                'is discarded' % timeout)
        if call.error is not None:
            raise call.error
        return call.value


#: The process-wide executor of device calls.
DEVICES = DeviceExecutor()


def call(key, timeout, fn, *args, **kwargs):
    """:meth:`DeviceExecutor.call` on the process-wide executor."""
    return DEVICES.call(key, timeout, fn, *args, **kwargs)
