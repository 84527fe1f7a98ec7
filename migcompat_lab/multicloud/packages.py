"""The Debian packages the cloud's infrastructure runs: MariaDB, RabbitMQ.

``ensure_packages()`` installs them when missing (Debian 12 / Ubuntu,
root), without letting their maintainer scripts start the system services:
a ``policy-rc.d`` that denies every start is put in place for the
install (and the machine's own one restored afterwards), and any
``mariadbd``, ``beam.smp`` or ``epmd`` process of the packages' service
users (``mysql``, ``rabbitmq``) that was not running before the install
and runs after it is stopped again - only those.
"""

import os
import shutil
import subprocess

import psutil

PACKAGES = ('mariadb-server', 'rabbitmq-server')
COMMANDS = {'mariadb-server': ('mariadbd', 'mariadb-install-db'),
            'rabbitmq-server': ('rabbitmq-server',)}
RABBITMQ_BIN = '/usr/lib/rabbitmq/bin'
_POLICY = '/usr/sbin/policy-rc.d'
_DAEMONS = ('mariadbd', 'mysqld', 'beam.smp', 'epmd')
# The packages' services run as these users; the lab's own run as root.
_SERVICE_USERS = ('mysql', 'rabbitmq')


def _have(cmd):
    return shutil.which(cmd, path=os.environ.get('PATH', '') +
                        ':/usr/sbin:/sbin:' + RABBITMQ_BIN) is not None


def missing_packages():
    return [p for p in PACKAGES if not all(_have(c) for c in COMMANDS[p])]


def _daemons():
    found = set()
    for p in psutil.process_iter(['name', 'create_time']):
        if p.info['name'] in _DAEMONS:
            found.add((p.pid, p.info['create_time']))
    return found


def ensure_packages(log=print):
    """Install what is missing of ``PACKAGES``; return what was installed."""
    missing = missing_packages()
    if not missing:
        return []
    if os.geteuid() != 0:
        raise RuntimeError('missing Debian packages %s; run as root or '
                           'install them: apt-get install -y '
                           '--no-install-recommends %s'
                           % (missing, ' '.join(missing)))
    before = _daemons()
    saved = None
    if os.path.exists(_POLICY):
        saved = _POLICY + '.migcompat-saved'
        shutil.copy2(_POLICY, saved)
    try:
        with open(_POLICY, 'w') as f:
            f.write('#!/bin/sh\n# nova-migcompat lab: no service starts '
                    'during package installs\nexit 101\n')
        os.chmod(_POLICY, 0o755)
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive',
                   RUNLEVEL='1')
        log('installing %s (apt-get)' % ' '.join(missing))
        subprocess.run(['apt-get', 'update', '-q'], check=True, env=env)
        subprocess.run(['apt-get', 'install', '-y', '-q',
                        '--no-install-recommends'] + missing,
                       check=True, env=env)
    finally:
        if saved:
            os.replace(saved, _POLICY)
        else:
            os.unlink(_POLICY)
        for p in psutil.process_iter(['name', 'create_time', 'username']):
            if (p.info['name'] in _DAEMONS
                    and p.info['username'] in _SERVICE_USERS
                    and (p.pid, p.info['create_time']) not in before):
                log('stopping %s (%s), started by the install'
                    % (p.info['name'], p.pid))
                try:
                    p.terminate()
                    p.wait(10)
                except psutil.Error:
                    pass
    return missing
