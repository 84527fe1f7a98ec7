"""The agent's record of its verdicts: what it trusts, and for how long."""

import json
import os

from hypothesis import given
from hypothesis import strategies as st
import pytest

from nova_migcompat.agent import device as device_mod
from nova_migcompat.agent import record as record_mod

AGE = 3600
NOW = 1.8e9


class Clock(object):
    now = NOW

    def __call__(self):
        return self.now


def a_device(origin=device_mod.FROM_ATTRIBUTE, string='s1', version='1.0'):
    attribute = '/x/migration_version' if origin == \
        device_mod.FROM_ATTRIBUTE else None
    return device_mod.Device(
        kind=device_mod.MDEV_TYPE, name='0000:81:00.0/t', path='/x',
        string=string, origin=origin, attribute=attribute,
        facts={'driver': 'nvidia', 'driver_version': version})


@pytest.fixture
def state(tmp_path):
    directory = tmp_path / 'state'
    return str(directory / record_mod.FILE_NAME)


def saved(path, clock, result='accepts', device=None):
    device = device or a_device()
    record = record_mod.VerdictRecord.load(path, 'node', AGE, clock)
    record.put(record_mod.device_key(device), record_mod.string_key('s2'),
               record_mod.identity(device), result)
    record.save()
    return device


def reloaded(path, clock, device):
    record = record_mod.VerdictRecord.load(path, 'node', AGE, clock)
    return record.valid(record_mod.device_key(device),
                        record_mod.string_key('s2'),
                        record_mod.identity(device))


def test_a_verdict_survives_a_restart_until_its_age(state):
    clock = Clock()
    device = saved(state, clock)
    assert oct(os.stat(state).st_mode & 0o777) == '0o600'
    assert reloaded(state, clock, device) == 'accepts'
    clock.now += AGE
    assert reloaded(state, clock, device) is None


def test_a_recheck_is_due_before_the_age_and_spread():
    clock = Clock()
    record = record_mod.VerdictRecord(None, 'node', AGE, clock)
    dev, ident = 'dev', 'ident'
    shares = set()
    for n in range(20):
        record.put(dev, 'string-%d' % n, ident, 'refuses')
    for n in range(20):
        assert record.due(dev, 'string-%d' % n, ident) == (False, NOW)
    # Between 75% and 100% of the age, some pairs are due and others not
    # yet (spread per pair); all are still valid.
    clock.now = NOW + AGE * (1 + record_mod.EARLIEST_RECHECK) / 2
    for n in range(20):
        shares.add(record.due(dev, 'string-%d' % n, ident)[0])
        assert record.valid(dev, 'string-%d' % n, ident) == 'refuses'
    assert shares == {True, False}
    clock.now = NOW + AGE
    assert all(record.due(dev, 'string-%d' % n, ident)[0]
               for n in range(20))


def test_unknown_is_never_recorded():
    record = record_mod.VerdictRecord(None, 'node', AGE, Clock())
    record.put('dev', 'str', 'ident', 'unknown')
    assert record.valid('dev', 'str', 'ident') is None
    assert len(record) == 0


def test_a_changed_device_has_no_verdict(state):
    clock = Clock()
    device = saved(state, clock)
    assert reloaded(state, clock, device) == 'accepts'
    for changed in (a_device(string='s9'), a_device(version='1.1'),
                    a_device(origin=device_mod.FROM_READONLY)):
        assert reloaded(state, clock, changed) is None


@pytest.mark.parametrize('tamper', ['file writable by others',
                                    'file of another user',
                                    'directory writable by others',
                                    'a link', 'corrupt', 'another node'])
def test_a_record_someone_else_could_have_written_is_ignored(state, tamper):
    clock = Clock()
    device = saved(state, clock)
    if tamper == 'file writable by others':
        os.chmod(state, 0o666)
    elif tamper == 'file of another user':
        os.chown(state, 65534, 65534)
    elif tamper == 'directory writable by others':
        os.chmod(os.path.dirname(state), 0o777)
    elif tamper == 'a link':
        os.rename(state, state + '.real')
        os.symlink(state + '.real', state)
    elif tamper == 'corrupt':
        with open(state, 'w') as f:
            f.write('{"version": 1, "node": "node", "verdicts": [["x"')
    else:
        with open(state) as f:
            doc = json.load(f)
        doc['node'] = 'other'
        with open(state, 'w') as f:
            json.dump(doc, f)
    assert reloaded(state, clock, device) is None


def test_an_unwritable_state_path_is_logged_not_raised(tmp_path, caplog):
    blocker = tmp_path / 'file'
    blocker.write_text('not a directory')
    record = record_mod.VerdictRecord(
        str(blocker / record_mod.FILE_NAME), 'node', AGE, Clock())
    record.put('dev', 'str', 'ident', 'accepts')
    record.save()
    assert any('Cannot write the verdict record' in r.getMessage()
               for r in caplog.records)


def test_a_record_too_large_to_read_back_is_not_written(state, caplog,
                                                        monkeypatch):
    clock = Clock()
    device = saved(state, clock)
    with open(state, 'rb') as f:
        before = f.read()
    # The bound, scaled down: one more pair passes it.
    monkeypatch.setattr(record_mod, 'MAX_FILE_BYTES', len(before) + 10)
    record = record_mod.VerdictRecord.load(state, 'node', AGE, clock)
    record.put('another device', 'another string', 'ident', 'refuses')
    record.save()
    with open(state, 'rb') as f:
        assert f.read() == before
    assert any('not written' in r.getMessage() for r in caplog.records)
    assert reloaded(state, clock, device) == 'accepts'


# The checks of a cycle: chosen lazily, the same as choosing among all. -----


def _brute_force(record, devices, str_keys, budget, now):
    """Every pair, its due and age, sorted: the choice made eagerly."""
    due = []
    for dev_key, ident, payload in devices:
        for str_key in str_keys:
            is_due, age = record.due(dev_key, str_key, ident, now)
            if is_due:
                due.append((age, dev_key, str_key, ident, payload))
    due.sort(key=lambda item: item[:3])
    return ([(payload, dev_key, ident, str_key)
             for _age, dev_key, str_key, ident, payload in due[:budget]],
            max(0, len(due) - budget))


entries = st.lists(st.tuples(
    st.integers(0, 4), st.integers(0, 6), st.sampled_from(['accepts',
                                                           'refuses']),
    st.floats(NOW - 2 * AGE, NOW), st.booleans()), max_size=30)


@given(entries=entries, devices=st.integers(0, 5), strings=st.integers(0, 7),
       budget=st.integers(1, 40))
def test_lazy_choice_is_the_full_choice(entries, devices, strings, budget):
    record = record_mod.VerdictRecord(None, 'node', AGE, Clock())
    for dev, string, result, at, same in entries:
        record.put('dev-%d' % dev, 'str-%d' % string,
                   'ident-%d' % dev if same else 'old', result, now=at)
    targets = [('dev-%d' % d, 'ident-%d' % d, 'payload-%d' % d)
               for d in range(devices)]
    str_keys = ['str-%d' % s for s in range(strings)]
    assert record.pending(targets, str_keys, budget, now=NOW) == \
        _brute_force(record, targets, str_keys, budget, NOW)


def test_many_devices_and_strings_cost_the_budget(monkeypatch):
    # 10,000 devices x 10,000 strings: 100,000,000 pairs, none made.
    record = record_mod.VerdictRecord(None, 'node', AGE, Clock())
    devices = [('dev-%05d' % d, 'ident', d) for d in range(10000)]
    str_keys = ['str-%05d' % s for s in range(10000)]
    pairs, behind = record.pending(devices, str_keys, 1000, now=NOW)
    assert len(pairs) == 1000
    assert behind == 10000 * 10000 - 1000
    # Never checked first, by device then string.
    assert pairs[0] == (0, 'dev-00000', 'ident', 'str-00000')
    assert pairs[-1] == (0, 'dev-00000', 'ident', 'str-00999')
