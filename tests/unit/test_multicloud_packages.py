"""ensure_packages: installs only what is missing, starts no service."""

import os

import pytest

from migcompat_lab.multicloud import packages
from migcompat_lab.multicloud import procs


class _Proc:
    def __init__(self, pid, name, user, ctime):
        self.pid = pid
        self.info = {'name': name, 'username': user, 'create_time': ctime}
        self.terminated = False

    def terminate(self):
        self.terminated = True

    def wait(self, timeout):
        pass


@pytest.fixture
def apt(monkeypatch, tmp_path):
    """A fake apt-get run and policy-rc.d; records what the install saw."""
    policy = tmp_path / 'policy-rc.d'
    policy.write_text('#!/bin/sh\nexit 0\n')
    seen = []

    def run(argv, check, env):
        seen.append((argv, policy.read_text(), env['RUNLEVEL']))

    monkeypatch.setattr(packages, '_POLICY', str(policy))
    monkeypatch.setattr(packages.subprocess, 'run', run)
    monkeypatch.setattr(os, 'geteuid', lambda: 0)
    monkeypatch.setattr(packages.psutil, 'process_iter', lambda attrs: [])
    return policy, seen


def test_nothing_missing_runs_nothing(apt, monkeypatch):
    monkeypatch.setattr(packages, 'missing_packages', lambda: [])
    assert packages.ensure_packages(log=lambda m: None) == []
    assert apt[1] == []


def test_installs_missing_with_services_denied(apt, monkeypatch):
    policy, seen = apt
    monkeypatch.setattr(packages, 'missing_packages',
                        lambda: ['rabbitmq-server'])
    assert packages.ensure_packages(log=lambda m: None) == [
        'rabbitmq-server']
    assert [argv for argv, _, _ in seen] == [
        ['apt-get', 'update', '-q'],
        ['apt-get', 'install', '-y', '-q', '--no-install-recommends',
         'rabbitmq-server']]
    assert all('exit 101' in text and level == '1'
               for _, text, level in seen)
    # The machine's own policy is back.
    assert policy.read_text() == '#!/bin/sh\nexit 0\n'


def test_without_a_policy_the_temporary_one_goes(apt, monkeypatch):
    policy, seen = apt
    policy.unlink()
    monkeypatch.setattr(packages, 'missing_packages',
                        lambda: ['mariadb-server'])
    packages.ensure_packages(log=lambda m: None)
    assert 'exit 101' in seen[-1][1]
    assert not policy.exists()


def test_stops_only_daemons_the_install_started(apt, monkeypatch):
    old = _Proc(10, 'epmd', 'rabbitmq', 1.0)        # running before
    other = _Proc(11, 'mariadbd', 'root', 2.0)      # someone's lab one
    new = _Proc(12, 'beam.smp', 'rabbitmq', 3.0)    # the install's
    calls = [[old], [old, other, new]]
    monkeypatch.setattr(packages.psutil, 'process_iter',
                        lambda attrs: calls.pop(0))
    monkeypatch.setattr(packages, 'missing_packages',
                        lambda: ['rabbitmq-server'])
    packages.ensure_packages(log=lambda m: None)
    assert (old.terminated, other.terminated, new.terminated) == (
        False, False, True)


def test_not_root_says_what_to_install(monkeypatch):
    monkeypatch.setattr(packages, 'missing_packages',
                        lambda: ['mariadb-server'])
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    with pytest.raises(RuntimeError, match='apt-get install'):
        packages.ensure_packages()


def test_service_ports_are_below_the_ephemeral_range():
    # A port the kernel picks for us (bind to 0) comes from the range
    # client connections take theirs from: one took RabbitMQ's once.
    low, _high = procs._ephemeral_range()
    ports = {procs.free_port() for _ in range(50)}
    assert all(procs.PORT_RANGE[0] <= p < min(procs.PORT_RANGE[1], low)
               for p in ports), sorted(ports)
