"""The agent's record of its verdicts: what it trusts, and for how long."""

import json
import os

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
