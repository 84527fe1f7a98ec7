"""Which host an agent runs on: the identity it publishes for its node.

The agent marks its compute node's root provider with
``CUSTOM_MIGCOMPAT_REPORTED`` (the node runs an agent: the filter judges
its servers' devices, or refuses them) and
``CUSTOM_MIGCOMPAT_AGENT_<identity>`` (which one).  The
identity is a digest of the host's machine id (``/etc/machine-id``,
systemd's, kept across reboots and package re-installs, new for a new
installation of the operating system) and the node's name, so an agent
restarted or re-installed on the same host has the same identity, and an
agent on another host claiming the same node (a templated configuration)
has another.  A host without a machine id gets a random identity, kept in
``[migcompat]state_path``.
"""

import hashlib
import os
import uuid

from nova_migcompat.agent import state_file

#: Where the machine id is, in order (the second is D-Bus's older path).
MACHINE_ID_PATHS = ('/etc/machine-id', '/var/lib/dbus/machine-id')
#: The fallback identity file, in the state directory.
FILE_NAME = 'identity'
#: Characters of an identity (base 36: about 82 bits).
LENGTH = 16
_DIGITS36 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'


def _base36(data):
    number = int.from_bytes(data, 'big')
    digits = []
    while len(digits) < LENGTH:
        number, rem = divmod(number, 36)
        digits.append(_DIGITS36[rem])
    return ''.join(digits)


def _machine_id(paths):
    for path in paths:
        try:
            with open(path, 'rb') as f:
                value = f.read(256).strip()
        except OSError:
            continue
        if value and len(value) < 256:
            return value
    return None


def identity(nodename, state_path, machine_id_paths=MACHINE_ID_PATHS,
             keep=True):
    """This host's agent identity for ``nodename`` (``[0-9A-Z]{16}``).

    :param keep: write a random identity into ``state_path`` when the
        host has no machine id (False: a dry run, which writes nothing).
    """
    machine = _machine_id(machine_id_paths)
    if machine is None:
        machine = _kept_random(state_path, keep)
    digest = hashlib.sha256(b'nova-migcompat-agent\0' + machine + b'\0' +
                            nodename.encode('utf-8')).digest()
    return _base36(digest)


def _kept_random(state_path, keep):
    path = os.path.join(state_path, FILE_NAME)
    try:
        data = state_file.read(path, 256)
    except state_file.Unusable:
        data = None
    if data and data.strip():
        return data.strip()
    value = uuid.uuid4().hex.encode('ascii')
    if not keep:
        return value
    try:
        state_file.write(path, value.decode('ascii'))
    except OSError:
        # Kept for this process only: a restart is another identity.
        pass
    return value
