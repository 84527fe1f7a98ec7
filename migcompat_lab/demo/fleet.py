"""The demo's fleet file: hosts, their devices, and the server to migrate.

The format is documented in ``doc/source/demo.rst``; in short::

    source: src                 # the host the server boots on
    server:                     # optional: what the server gets
      vgpus: 1                  # 0 or 1 (default: 1 if the source has pGPUs)
      vfs: 0                    # 0 or 1 (default: 1 if the source has VFs)
      pgpu: 1                   # optional: the source pGPU (index) it uses
    hosts:
      - name: src               # a compute host (also its node name)
        weight: 0               # optional: scheduler preference
        driver_version: "535.104.05"   # optional: the driver modules'
        pgpus:                  # one entry per physical GPU:
          - "2.1"               #   NVIDIA-style version (JSON descriptor)
          - string: "i915-v1-8086-591d-i915-GVTg_V5_4-1"
            policy: exact       #   any emulated migration_version
          - null                #   no migration_version attribute
        vfs: []                 # the same, per SR-IOV VF (at most 6)

Every error is one line naming the file and the key:
``fleet.yaml: hosts[2].pgpus[1].string: expected a string, ...``.
"""

import dataclasses
import os
import re
import typing

import yaml

from migcompat_lab.emulation import spec as spec_mod

DEFAULT = os.path.join(os.path.dirname(__file__), 'fleet.yaml')
#: The bundled example fleets (``--fleet NAME`` finds them by name).
FLEETS = os.path.join(os.path.dirname(__file__), 'fleets')
_VERSION = re.compile(r'^\d{1,4}\.\d{1,4}$')
_NAME = re.compile(r'^[a-z][a-z0-9-]{0,31}$')
#: Nothing in Nova or placement stops at 32 hosts: the bound keeps the
#: demo a demo.  Every host is a whole nova-compute service
#: (fakelibvirt) and an agent in the demo's one process plus a FUSE file
#: system process (about 20 MB), built twice (with the filter and
#: without): each host adds about 1.3 s (32 hosts: about 80 s on two
#: cores), and the agents' target-side checks grow with hosts times
#: distinct strings.  The benchmark (``tox -e bench``) measures the
#: filter on large fleets.
MAX_HOSTS = 32
#: fakelibvirt puts the pGPUs in slots of PCI bus 0x81; 8 per host is
#: plenty for a demo (each one is also a placement provider).
MAX_PGPUS = 8
#: fakelibvirt puts a PF (function 0) and its VFs in one PCI slot, and
#: computes the PF address of a VF wrongly from the 7th VF on.
MAX_VFS = 6
DEFAULT_DRIVER_VERSION = '535.104.05'
_TOP_KEYS = ('source', 'server', 'hosts')
_HOST_KEYS = ('name', 'weight', 'driver_version', 'pgpus', 'vfs')
_SERVER_KEYS = ('vgpus', 'vfs', 'pgpu')


class FleetError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Device:
    """One emulated device (a pGPU's vGPU type, or a VF) of a fleet.

    ``version`` is the ``"major.minor"`` shorthand (an NVIDIA-style JSON
    descriptor whose driver accepts its own major and an older or equal
    minor), or None; ``migration_version`` the emulator's attribute spec
    for everything else, or None for a device without the attribute.
    """

    version: typing.Optional[str] = None
    migration_version: typing.Optional[dict] = dataclasses.field(
        default=None, hash=False)

    @property
    def label(self):
        """How the fleet file describes it, shortly."""
        if self.version is not None:
            return self.version
        attr = self.migration_version
        if attr is None:
            return 'no attribute'
        text = attr['string'].replace('\n', ' ')
        if len(text) > 40:
            text = text[:37] + '...'
        return '%s (%s)' % (text, attr['policy'] or 'read-only')


def device(value, field='device'):
    """A :class:`Device` from its fleet form; FleetError names ``field``."""
    if isinstance(value, Device):
        return value
    if value is None:
        return Device()
    if isinstance(value, str) and _VERSION.match(value):
        return Device(version=value)
    if isinstance(value, dict):
        try:
            return Device(migration_version=spec_mod.migration_version_spec(
                value, field))
        except spec_mod.SpecError as e:
            raise FleetError(str(e))
    raise FleetError('%s: expected "major.minor" (quoted, e.g. "2.1"), a '
                     'migration_version mapping with "string" (and '
                     '"policy", ...), or null (no attribute), got %s'
                     % (field, _describe(value)))


@dataclasses.dataclass(frozen=True)
class Host:
    name: str
    #: One :class:`Device` per pGPU (version strings are taken too).
    pgpus: tuple
    weight: int = 0
    #: One :class:`Device` per VF of the host's PF.
    vfs: tuple = ()
    #: The version of the emulated driver modules (/sys/module/*/version):
    #: what descriptors are synthesized from for devices without the
    #: attribute.
    driver_version: str = DEFAULT_DRIVER_VERSION

    def __post_init__(self):
        for kind in ('pgpus', 'vfs'):
            object.__setattr__(self, kind, tuple(
                device(value, '%s.%s[%d]' % (self.name, kind, i))
                for i, value in enumerate(getattr(self, kind))))


@dataclasses.dataclass(frozen=True)
class Server:
    """What the server asks for: a vGPU, a VF, or both."""

    vgpus: int = 1
    vfs: int = 0
    #: Index into the source's pGPUs of the one its vGPU must use (None:
    #: where placement and the scheduler put it).
    pgpu: typing.Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Fleet:
    source: str
    hosts: tuple
    #: Default: a vGPU if the source has pGPUs, a VF if it has VFs.
    server: typing.Optional[Server] = None

    def __post_init__(self):
        if self.server is None:
            source = self.host(self.source)
            object.__setattr__(self, 'server', Server(
                vgpus=1 if source.pgpus else 0,
                vfs=1 if source.vfs else 0))

    @property
    def weights(self):
        return {h.name: h.weight for h in self.hosts}

    @property
    def has_vfs(self):
        return any(h.vfs for h in self.hosts)

    def host(self, name):
        return next(h for h in self.hosts if h.name == name)


def find(name_or_path):
    """A fleet file path: a path, or the name of a bundled fleet."""
    if os.path.exists(name_or_path) or os.sep in name_or_path:
        return name_or_path
    bundled = os.path.join(FLEETS, name_or_path + '.yaml')
    if os.path.exists(bundled):
        return bundled
    return name_or_path


def bundled():
    """The names of the bundled example fleets."""
    return sorted(name[:-len('.yaml')] for name in os.listdir(FLEETS)
                  if name.endswith('.yaml'))


def load(path=None):
    """The fleet of a YAML file (the bundled default without one)."""
    path = find(path) if path else DEFAULT
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise FleetError('%s: %s' % (path, str(e).replace('\n', ' ')))
    return parse(data, path)


def _describe(value):
    if value is None:
        return 'null'
    return '%s %r' % (type(value).__name__, value)


def _keys(item, field, allowed, required=()):
    """Check a mapping's keys; ``field`` '' is the file's top level."""
    if not isinstance(item, dict):
        raise FleetError('%s: expected a mapping with %s, got %s'
                         % (field or 'the file', ', '.join(
                             required or allowed), _describe(item)))
    prefix = field + '.' if field else ''
    for key in item:
        if key not in allowed:
            raise FleetError('%s%s: unknown key (expected one of: %s)'
                             % (prefix, key, ', '.join(allowed)))
    for key in required:
        if key not in item:
            raise FleetError('%s%s: missing' % (prefix, key))


def _int(value, field, low, high):
    if isinstance(value, bool) or not isinstance(value, int):
        raise FleetError('%s: expected an integer, got %s'
                         % (field, _describe(value)))
    if not low <= value <= high:
        raise FleetError('%s: expected %d to %d, got %d'
                         % (field, low, high, value))
    return value


def _devices(value, field, most):
    if value is None:
        return ()
    if not isinstance(value, list):
        raise FleetError('%s: expected a list, got %s'
                         % (field, _describe(value)))
    if len(value) > most:
        raise FleetError('%s: at most %d, got %d' % (field, most,
                                                     len(value)))
    return tuple(device(v, '%s[%d]' % (field, i))
                 for i, v in enumerate(value))


def _host(item, field):
    _keys(item, field, _HOST_KEYS, ('name',))
    name = item['name']
    if not isinstance(name, str) or not _NAME.match(name):
        raise FleetError('%s.name: %s is not a short lower-case host name '
                         '(a letter, then letters, digits or "-")'
                         % (field, _describe(name)))
    weight = item.get('weight', 0)
    if isinstance(weight, bool) or not isinstance(weight, int):
        raise FleetError('%s.weight: expected an integer, got %s'
                         % (field, _describe(weight)))
    version = item.get('driver_version', DEFAULT_DRIVER_VERSION)
    if not isinstance(version, str) or not version.strip():
        raise FleetError('%s.driver_version: expected a quoted version '
                         'string like "535.104.05", got %s'
                         % (field, _describe(version)))
    return Host(name, _devices(item.get('pgpus'), field + '.pgpus',
                               MAX_PGPUS),
                weight, _devices(item.get('vfs'), field + '.vfs', MAX_VFS),
                version)


def _server(item, source):
    if item is None:
        item = {}
    _keys(item, 'server', _SERVER_KEYS)
    vgpus = _int(item.get('vgpus', 1 if source.pgpus else 0),
                 'server.vgpus', 0, 1)
    vfs = _int(item.get('vfs', 1 if source.vfs else 0), 'server.vfs', 0, 1)
    if not vgpus and not vfs:
        raise FleetError('server: needs a vGPU or a VF (vgpus: 1 or vfs: 1)'
                         ', or the demo has nothing to judge')
    if vgpus and not source.pgpus:
        raise FleetError('server.vgpus: the source %s has no pgpus'
                         % source.name)
    if vfs and not source.vfs:
        raise FleetError('server.vfs: the source %s has no vfs'
                         % source.name)
    pgpu = item.get('pgpu')
    if pgpu is not None:
        if not vgpus:
            raise FleetError('server.pgpu: the server has no vGPU')
        _int(pgpu, 'server.pgpu', 0, len(source.pgpus) - 1)
    return Server(vgpus, vfs, pgpu)


def parse(data, where='fleet'):
    try:
        _keys(data, '', _TOP_KEYS, ('source', 'hosts'))
        hosts_data = data['hosts']
        if not isinstance(hosts_data, list) or not (
                2 <= len(hosts_data) <= MAX_HOSTS):
            raise FleetError('hosts: expected a list of 2 to %d hosts, got '
                             '%s' % (MAX_HOSTS, _describe(hosts_data)
                                     if not isinstance(hosts_data, list)
                                     else '%d' % len(hosts_data)))
        hosts = [_host(item, 'hosts[%d]' % i)
                 for i, item in enumerate(hosts_data)]
        seen = {}
        for i, host in enumerate(hosts):
            if host.name in seen:
                raise FleetError('hosts[%d].name: %r is also hosts[%d]'
                                 % (i, host.name, seen[host.name]))
            seen[host.name] = i
        source = data['source']
        if source not in seen:
            raise FleetError('source: %s is not one of the hosts (%s)'
                             % (_describe(source), ', '.join(seen)))
        server = _server(data.get('server'), hosts[seen[source]])
    except FleetError as e:
        raise FleetError('%s: %s' % (where, e)) from None
    return Fleet(source, tuple(hosts), server)
