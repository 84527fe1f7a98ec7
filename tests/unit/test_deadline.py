"""The per-device executor: deadlines a blocking call cannot defeat."""

import threading

import pytest

from nova_migcompat.agent import deadline
from nova_migcompat import exception


@pytest.fixture
def executor():
    ex = deadline.DeviceExecutor()
    yield ex


def test_an_answer_in_time_is_returned(executor):
    assert executor.call('dev', 5, lambda a, b: a + b, 1, b=2) == 3


def test_an_exception_in_time_is_raised(executor):
    def fail():
        raise OSError(22, 'Invalid argument')
    with pytest.raises(OSError) as exc:
        executor.call('dev', 5, fail)
    assert exc.value.errno == 22
    # The device is free again.
    assert executor.call('dev', 5, lambda: 'again') == 'again'


def test_a_late_answer_is_discarded_and_the_device_skipped_meanwhile(
        executor):
    release, started, finished = (threading.Event(), threading.Event(),
                                  threading.Event())
    calls = []

    def hang():
        calls.append('hang')
        started.set()
        release.wait()
        return 'yes'

    with pytest.raises(exception.DeadlineExceeded) as exc:
        executor.call('dev', 0.1, hang)
    assert exc.value.key == 'dev'
    assert started.is_set()
    # While it hangs, the device is not called again, and no thread is
    # started for it; other devices are served.
    threads = threading.active_count()
    with pytest.raises(exception.DeadlineExceeded,
                       match='earlier call has not returned'):
        executor.call('dev', 5, calls.append, 'second')
    assert threading.active_count() == threads
    assert executor.call('other', 5, lambda: 'fine') == 'fine'
    # The late "yes" goes nowhere; once it came, the device is tried again.
    late = executor.workers['dev'].call
    release.set()
    assert late.done.wait(5) and late.value == 'yes'
    assert executor.call('dev', 5, lambda: finished.set() or 'no') == 'no'
    assert calls == ['hang'] and finished.is_set()


def test_idle_workers_end(executor):
    executor.idle_seconds = 0.01
    executor.call('dev', 5, lambda: None)
    thread = executor.workers['dev'].thread
    thread.join(5)
    assert not thread.is_alive()
    assert 'dev' not in executor.workers
    assert executor.call('dev', 5, lambda: 'new worker') == 'new worker'


def test_workers_are_daemon_threads(executor):
    release = threading.Event()
    with pytest.raises(exception.DeadlineExceeded):
        executor.call('dev', 0.01, release.wait)
    assert executor.workers['dev'].thread.daemon
    release.set()
