"""The declarative description of one emulated host's sysfs.

A spec is a mapping (YAML file, JSON file or Python dict)::

    host: nvidia-a                  # informational
    modules:                        # /module/<name>/version
      nvidia: {version: "535.104.05"}   # or just nvidia: "535.104.05";
                                        # version null: no version file
    pci:
      - address: "0000:81:00.0"     # quoted: YAML reads 81:00 as a number
        vendor: 0x10de              # attribute "vendor": "0x10de\\n"
        device: 0x1eb8
        class: 0x030200             # optional, default 0x000000
        driver: nvidia              # link driver -> /bus/pci/drivers/nvidia
        migration_version: null     # or an attribute spec (below)
        physfn: null                # a VF: the PF's address (physfn link;
                                    # the PF gets virtfn0.. links and
                                    # sriov_totalvfs/sriov_numvfs)
        attributes: {}              # extra attributes: name -> spec
        mdev_types:
          - name: nvidia-35         # directory under mdev_supported_types
            pretty_name: GRID T4-2Q # file "name" (omitted: no such file)
            description: null       # file "description" if given
            device_api: vfio-pci    # the default
            available_instances: 8  # default 1
            migration_version: {...}
            attributes: {}
        mdevs:                      # mdev instances (children of the parent)
          - uuid: "6f2a...-..."
            type: nvidia-35         # one of this device's mdev_types
            migration_version: {...}
            attributes: {}
            vfio: null              # its debugfs entry (below)
        vfio: null                  # {migration: false} or {features:
                                    # [stop-copy, p2p]}: kernel/debug/vfio
    remove: []          # paths of generated entries to delete
    files: {}           # extra files: path -> raw content or attribute spec
    links: {}           # extra symlinks: path -> target, verbatim

``files`` and ``links`` may replace generated entries (a ``driver`` link to
``/etc``, an oversized or non-ASCII ``migration_version``); missing parent
directories are created, but a parent path may not go through a link (use
``devices/pci0000:81/0000:81:00.0/...``, not ``bus/pci/devices/...``).
Paths are relative to the tree's root (a leading ``/`` is optional); link
targets are used verbatim.  ``attributes`` of the same name also replace
generated files.  A plain string under ``files`` is served byte for byte;
a mapping is an attribute spec.  Contents are not cut at 4096 bytes, so a
tree can also show what no real sysfs attribute would.

An attribute spec is a string (read-only for ``attributes``, policy
``exact`` for ``migration_version``) or a mapping:

``string``
    What a read returns, followed by ``"\\n"`` like sysfs (unless
    ``newline: false``).  Bytes are allowed (YAML ``!!binary``).
``policy``
    How a write is answered.  ``exact`` (the default for
    ``migration_version``) accepts only the attribute's own string;
    ``same_major`` also accepts a string that differs from its own only in
    the version found by ``version_regex`` (default
    ``v?(?P<major>\\d+)\\.(?P<minor>\\d+)``, first match), with the same
    major and a minor <= its own; ``accept_list`` accepts its own string
    and those in ``accepts``; ``reject_all`` refuses everything;
    ``transient`` fails with ``errno`` (default ``EBUSY``; only the first
    ``count`` writes when ``count`` is given, then the attribute answers
    like policy ``then``, default ``exact``); ``vanish`` fails with
    ``ENODEV`` (a device being removed).  A refusal is ``EINVAL``.  ``null``
    (the default for other attributes) makes the file read-only: opening it
    for writing fails with ``EACCES``.
``read_error``
    An errno name a read fails with (e.g. ``ENODEV`` for a vanishing
    device).
``write_delay``, ``read_delay``
    A slow or hung device: each ``write(2)`` (``read(2)``) of the attribute
    waits this many seconds (a number, at most 3600) before it is
    answered, or, with ``hang``, until the file system is stopped.  A
    call still waiting when the file system stops fails with ``ENODEV``
    (the device went away).  The file system keeps serving every other
    file meanwhile.
``mode``
    The permission bits, default 0644 with a policy, else 0444.  A file
    without write bits refuses opens for writing (EACCES) whatever its
    policy, like kernfs.

A PCI device or an mdev may have ``vfio``, its entry in debugfs
(``kernel/debug/vfio/<name>/``, 6.8 and later, as
``drivers/vfio/debugfs.c`` makes it): ``{migration: false}`` for a VFIO
device whose driver cannot migrate (the directory is empty), ``{features:
[stop-copy, p2p]}`` for one that can (``migration/features``, 6.18: one
token a line; ``migration/state`` reads ``RUNNING``), ``{migration:
true}`` for a 6.8 to 6.17 kernel (no features file).  Without it the
device has no debugfs entry; a tree where some device has one has a
``kernel/debug/vfio`` directory.

A write is compared after stripping ONE trailing newline, as the store
callbacks of kernel drivers usually do; each ``write(2)`` call is judged on
its own (offsets are ignored, like sysfs).  ``errno: EINTR`` needs ``count``:
Python retries a write that fails with EINTR (PEP 475), so an endless EINTR
would hang the writer.
"""

import copy
import errno as errno_mod
import importlib.resources
import json
import os
import re
import uuid

import yaml

POLICIES = ('exact', 'same_major', 'accept_list', 'reject_all',
            'transient', 'vanish')
DEFAULT_VERSION_REGEX = r'v?(?P<major>\d+)\.(?P<minor>\d+)'
TRANSIENT_ERRNOS = ('EBUSY', 'EAGAIN', 'EINTR', 'EIO')

_ADDRESS_RE = re.compile(r'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$')
_NAME_RE = re.compile(r'^[A-Za-z0-9_.:+@-]+$')
_ATTR_KEYS = ('string', 'policy', 'accepts', 'version_regex', 'errno',
              'count', 'then', 'read_error', 'mode', 'newline',
              'write_delay', 'read_delay')
#: A ``write_delay``/``read_delay`` that never ends by itself.
HANG = 'hang'
MAX_DELAY = 3600
_TOP_KEYS = ('host', 'modules', 'pci', 'remove', 'files', 'links')
_PCI_KEYS = ('address', 'vendor', 'device', 'class', 'driver',
             'migration_version', 'physfn', 'attributes', 'mdev_types',
             'mdevs', 'vfio')
_TYPE_KEYS = ('name', 'pretty_name', 'description', 'device_api',
              'available_instances', 'migration_version', 'attributes')
_MDEV_KEYS = ('uuid', 'type', 'migration_version', 'attributes', 'vfio')
_VFIO_KEYS = ('migration', 'features')
#: The tokens of debugfs's migration/features (drivers/vfio/debugfs.c).
VFIO_FEATURES = ('stop-copy', 'p2p', 'pre-copy', 'dirty-tracking')
_MODULE_KEYS = ('version', 'attributes')
_EXAMPLES = 'examples'


class SpecError(ValueError):
    """A spec is invalid; ``field`` names where (``pci[0].vendor``)."""

    def __init__(self, field, message, source=None):
        self.field = field
        self.message = message
        self.source = source
        where = ': '.join(p for p in (source, field) if p)
        super().__init__('%s: %s' % (where, message) if where else message)


class Spec(object):
    """A validated, normalized spec (JSON-serializable data)."""

    def __init__(self, data, source=None):
        self._data = _validate(data, source)
        # The layout checks (remove, overrides) need the built tree.
        self.tree()

    @property
    def host(self):
        return self._data['host']

    def to_dict(self):
        """A deep copy of the normalized data: edit it and load it back."""
        return copy.deepcopy(self._data)

    def to_json(self):
        return json.dumps(self._data, sort_keys=True)

    def tree(self):
        """A fresh in-memory tree (with fresh transient-failure counters)."""
        from migcompat_lab.emulation import tree
        return tree.Tree(self._data)

    def __eq__(self, other):
        return isinstance(other, Spec) and self._data == other._data

    def __repr__(self):
        return '<Spec host=%r devices=%d>' % (self.host,
                                              len(self._data['pci']))


def from_dict(data, source=None):
    """Validate a dict (the YAML shape above) and return a Spec."""
    return Spec(data, source)


def load_file(path):
    """Load a YAML (or JSON) spec file."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    return _from_text(text, os.path.basename(path))


def example_names():
    """The names of the bundled example trees."""
    names = []
    for entry in _examples_dir().iterdir():
        if entry.name.endswith('.yaml'):
            names.append(entry.name[:-len('.yaml')])
    return sorted(names)


def load_example(name):
    """Load a bundled example tree by name (see example_names())."""
    entry = _examples_dir().joinpath(name + '.yaml')
    if '/' in name or not entry.is_file():
        raise SpecError('', 'no example tree %r (known: %s)'
                        % (name, ', '.join(example_names())))
    return _from_text(entry.read_text(encoding='utf-8'), name + '.yaml')


def load(obj):
    """A Spec from a Spec, a dict, a file path or an example name."""
    if isinstance(obj, Spec):
        return obj
    if isinstance(obj, dict):
        return from_dict(obj)
    if isinstance(obj, os.PathLike):
        return load_file(os.fspath(obj))
    if isinstance(obj, str):
        if os.sep in obj or obj.endswith(('.yaml', '.yml', '.json')):
            return load_file(obj)
        return load_example(obj)
    raise SpecError('', 'expected a spec, a dict, a path or an example '
                    'name, got %s' % type(obj).__name__)


def migration_version_spec(value, field=''):
    """Validate one ``migration_version`` attribute spec (see above).

    For formats that describe devices in their own terms (the demo's
    fleet files); returns the normalized spec, or None for None.

    :raises SpecError: naming ``field`` (``field.string`` for a missing
        string...).
    """
    return _migration_version(value, field)


def encode(text):
    """The bytes of a spec string (surrogate escapes are raw bytes)."""
    return text.encode('utf-8', 'surrogateescape')


def check_write(attr, data, state):
    """Answer a write of ``data`` (bytes) to an attribute: 0 or an errno.

    ``attr`` is a normalized attribute spec; ``state`` is a dict kept per
    attribute for the life of one tree (transient failure counts).
    """
    policy = attr['policy']
    if policy is None or not attr['mode'] & 0o222:
        return errno_mod.EACCES
    if data.endswith(b'\n'):
        data = data[:-1]
    if policy == 'transient':
        count = attr['count']
        failed = state.get('failed', 0)
        if count is None or failed < count:
            state['failed'] = failed + 1
            return getattr(errno_mod, attr['errno'])
        policy = attr['then']
    if policy == 'vanish':
        return errno_mod.ENODEV
    if policy == 'reject_all':
        return errno_mod.EINVAL
    own = encode(attr['string'])
    if data == own:
        return 0
    if policy == 'accept_list':
        if data in [encode(s) for s in attr['accepts']]:
            return 0
    elif policy == 'same_major':
        if _same_major(attr['string'], data.decode('utf-8',
                                                   'surrogateescape'),
                       attr['version_regex']):
            return 0
    return errno_mod.EINVAL


def _same_major(own, other, pattern):
    regex = re.compile(pattern)
    mine = regex.search(own)
    theirs = regex.search(other)
    if mine is None or theirs is None:
        return False
    if _template(own, mine) != _template(other, theirs):
        return False
    return (int(theirs.group('major')) == int(mine.group('major'))
            and int(theirs.group('minor')) <= int(mine.group('minor')))


def _template(text, match):
    """The text with the major and minor numbers cut out."""
    spans = sorted([match.span('major'), match.span('minor')])
    return (text[:spans[0][0]], text[spans[0][1]:spans[1][0]],
            text[spans[1][1]:])


def _examples_dir():
    return importlib.resources.files(__package__).joinpath(_EXAMPLES)


def _from_text(text, source):
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpecError('', 'not valid YAML: %s' % e, source)
    return Spec(data, source)


# Validation: every helper takes the value and the field name it came from.

def _validate(data, source):
    try:
        return _top(data)
    except SpecError as e:
        if source is None:
            raise
        raise SpecError(e.field, e.message, source) from None


def _mapping(value, field, keys):
    if not isinstance(value, dict):
        raise SpecError(field, 'expected a mapping, got %s'
                        % _describe(value))
    for key in value:
        if keys is not None and key not in keys:
            raise SpecError(_join(field, key),
                            'unknown field (expected one of: %s)'
                            % ', '.join(keys))
    return value


def _list(value, field):
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpecError(field, 'expected a list, got %s' % _describe(value))
    return value


def _str(value, field, optional=False):
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise SpecError(field, 'expected a string, got %s (quote it in '
                        'YAML)' % _describe(value))
    return value


def _text(value, field):
    """A str, or bytes kept as str with surrogate escapes."""
    if isinstance(value, bytes):
        return value.decode('utf-8', 'surrogateescape')
    return _str(value, field)


def _name(value, field):
    _str(value, field)
    if not _NAME_RE.match(value):
        raise SpecError(field, 'invalid name %r (letters, digits and '
                        '"_.:+@-" only)' % value)
    return value


def _int(value, field, low, high, hexdigits=None, base=10):
    if isinstance(value, str):
        try:
            value = int(value, 16 if hexdigits else base)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(field, 'expected an integer, got %s'
                        % _describe(value))
    if not low <= value <= high:
        if hexdigits:
            raise SpecError(field, 'out of range 0x%0*x..0x%0*x: 0x%x'
                            % (hexdigits, low, hexdigits, high, value))
        raise SpecError(field, 'out of range %d..%d: %d'
                        % (low, high, value))
    return value


def _errno_name(value, field, allowed=None):
    _str(value, field)
    if allowed is not None and value not in allowed:
        raise SpecError(field, 'expected one of %s, got %r'
                        % (', '.join(allowed), value))
    if not value.startswith('E') or not isinstance(
            getattr(errno_mod, value, None), int):
        raise SpecError(field, 'not an errno name: %r' % value)
    return value


def _path(value, field):
    _str(value, field)
    parts = [p for p in value.split('/') if p]
    if not parts or any(p in ('.', '..') for p in parts):
        raise SpecError(field, 'expected a path inside the tree without '
                        '"." or "..", got %r' % value)
    return '/' + '/'.join(parts)


def _describe(value):
    if value is None:
        return 'null'
    return '%s %r' % (type(value).__name__, value)


def _join(field, key):
    return '%s.%s' % (field, key) if field else str(key)


def _top(data):
    data = _mapping(data, '', _TOP_KEYS)
    host = data.get('host')
    if host is not None:
        host = str(host)
    modules = {}
    for name, mod in (_mapping(data.get('modules') or {}, 'modules',
                               None) or {}).items():
        field = _join('modules', name)
        modules[_name(name, field)] = _module(mod, field)
    devices = []
    seen = {}
    for i, dev in enumerate(_list(data.get('pci'), 'pci')):
        field = 'pci[%d]' % i
        dev = _pci(dev, field)
        if dev['address'] in seen:
            raise SpecError(field + '.address', 'duplicate address %s '
                            '(also pci[%d])' % (dev['address'],
                                                seen[dev['address']]))
        seen[dev['address']] = i
        devices.append(dev)
    _check_cross(devices, seen)
    remove = [_path(p, 'remove[%d]' % i)
              for i, p in enumerate(_list(data.get('remove'), 'remove'))]
    files = {}
    for path, value in _mapping(data.get('files') or {}, 'files',
                                None).items():
        field = _join('files', path)
        if isinstance(value, (str, bytes)):
            value = {'string': value, 'newline': False}
        files[_path(path, field)] = _attribute(value, field, None)
    links = {}
    for path, target in _mapping(data.get('links') or {}, 'links',
                                 None).items():
        field = _join('links', path)
        target = _str(target, field)
        if not target:
            raise SpecError(field, 'empty link target')
        links[_path(path, field)] = target
    return {'host': host, 'modules': modules, 'pci': devices,
            'remove': remove, 'files': files, 'links': links}


def _module(value, field):
    if value is None or isinstance(value, str):
        value = {'version': value}
    _mapping(value, field, _MODULE_KEYS)
    return {'version': _str(value.get('version'), _join(field, 'version'),
                            optional=True),
            'attributes': _attributes(value.get('attributes'),
                                      _join(field, 'attributes'))}


def _pci(dev, field):
    _mapping(dev, field, _PCI_KEYS)
    if 'address' not in dev:
        raise SpecError(_join(field, 'address'), 'missing')
    address = _str(dev['address'], _join(field, 'address'))
    if not _ADDRESS_RE.match(address):
        raise SpecError(_join(field, 'address'), 'expected a PCI address '
                        'like "0000:81:00.0" (lower case), got %r'
                        % address)
    out = {'address': address}
    for key, default, digits in (('vendor', None, 4), ('device', None, 4),
                                 ('class', 0, 6)):
        value = dev.get(key, default)
        if value is None:
            raise SpecError(_join(field, key), 'missing')
        out[key] = _int(value, _join(field, key), 0, 16 ** digits - 1,
                        digits)
    driver = dev.get('driver')
    out['driver'] = (None if driver is None
                     else _name(driver, _join(field, 'driver')))
    out['migration_version'] = _migration_version(
        dev.get('migration_version'), _join(field, 'migration_version'))
    physfn = dev.get('physfn')
    if physfn is not None:
        physfn = _str(physfn, _join(field, 'physfn'))
        if not _ADDRESS_RE.match(physfn):
            raise SpecError(_join(field, 'physfn'), 'expected a PCI '
                            'address, got %r' % physfn)
    out['physfn'] = physfn
    out['attributes'] = _attributes(dev.get('attributes'),
                                    _join(field, 'attributes'))
    types = []
    names = set()
    for i, mtype in enumerate(_list(dev.get('mdev_types'),
                                    _join(field, 'mdev_types'))):
        tfield = '%s.mdev_types[%d]' % (field, i)
        mtype = _mdev_type(mtype, tfield)
        if mtype['name'] in names:
            raise SpecError(tfield + '.name', 'duplicate mdev type %r'
                            % mtype['name'])
        names.add(mtype['name'])
        types.append(mtype)
    out['mdev_types'] = types
    mdevs = []
    for i, mdev in enumerate(_list(dev.get('mdevs'),
                                   _join(field, 'mdevs'))):
        mfield = '%s.mdevs[%d]' % (field, i)
        mdev = _mdev(mdev, mfield)
        if mdev['type'] not in names:
            raise SpecError(mfield + '.type', 'mdev type %r is not one of '
                            'this device\'s mdev_types (%s)'
                            % (mdev['type'], ', '.join(sorted(names))
                               or 'none'))
        mdevs.append(mdev)
    out['mdevs'] = mdevs
    out['vfio'] = _vfio(dev.get('vfio'), _join(field, 'vfio'))
    return out


def _vfio(value, field):
    """A device's debugfs entry ``kernel/debug/vfio/<name>/``, or None.

    ``{migration: false}``: a VFIO device whose driver cannot migrate (no
    ``migration`` directory); ``{features: [...]}``: one that can, with
    the lines of ``migration/features`` (6.18); ``{migration: true}``
    alone: a ``migration`` directory without that file (6.8 to 6.17).
    """
    if value is None:
        return None
    _mapping(value, field, _VFIO_KEYS)
    migration = value.get('migration', True)
    if not isinstance(migration, bool):
        raise SpecError(_join(field, 'migration'), 'expected true or false')
    features = value.get('features')
    if features is not None:
        features = _list(features, _join(field, 'features'))
        for i, token in enumerate(features):
            if token not in VFIO_FEATURES:
                raise SpecError('%s.features[%d]' % (field, i),
                                'expected one of %s, got %r'
                                % (', '.join(VFIO_FEATURES), token))
        if not migration:
            raise SpecError(_join(field, 'features'), 'a device without '
                            'migration has no features file')
    return {'migration': migration, 'features': features}


def _mdev_type(mtype, field):
    _mapping(mtype, field, _TYPE_KEYS)
    if 'name' not in mtype:
        raise SpecError(_join(field, 'name'), 'missing')
    return {
        'name': _name(mtype['name'], _join(field, 'name')),
        'pretty_name': _str(mtype.get('pretty_name'),
                            _join(field, 'pretty_name'), optional=True),
        'description': _str(mtype.get('description'),
                            _join(field, 'description'), optional=True),
        'device_api': _str(mtype.get('device_api', 'vfio-pci'),
                           _join(field, 'device_api')),
        'available_instances': _int(mtype.get('available_instances', 1),
                                    _join(field, 'available_instances'),
                                    0, 2 ** 31),
        'migration_version': _migration_version(
            mtype.get('migration_version'),
            _join(field, 'migration_version')),
        'attributes': _attributes(mtype.get('attributes'),
                                  _join(field, 'attributes')),
    }


def _mdev(mdev, field):
    _mapping(mdev, field, _MDEV_KEYS)
    for key in ('uuid', 'type'):
        if key not in mdev:
            raise SpecError(_join(field, key), 'missing')
    text = _str(mdev['uuid'], _join(field, 'uuid'))
    try:
        canonical = str(uuid.UUID(text))
    except ValueError:
        canonical = None
    if canonical != text:
        raise SpecError(_join(field, 'uuid'), 'expected a lower-case '
                        'canonical UUID, got %r' % text)
    return {
        'uuid': text,
        'type': _name(mdev['type'], _join(field, 'type')),
        'migration_version': _migration_version(
            mdev.get('migration_version'),
            _join(field, 'migration_version')),
        'attributes': _attributes(mdev.get('attributes'),
                                  _join(field, 'attributes')),
        'vfio': _vfio(mdev.get('vfio'), _join(field, 'vfio')),
    }


def _check_cross(devices, addresses):
    uuids = {}
    for i, dev in enumerate(devices):
        field = 'pci[%d]' % i
        pf = dev['physfn']
        if pf is None:
            continue
        if pf == dev['address']:
            raise SpecError(field + '.physfn', 'a device cannot be its own '
                            'physical function')
        if pf not in addresses:
            raise SpecError(field + '.physfn', 'no pci device with address '
                            '%s in this spec' % pf)
        parent = devices[addresses[pf]]
        if parent['physfn'] is not None:
            raise SpecError(field + '.physfn', '%s is itself a VF' % pf)
    for i, dev in enumerate(devices):
        for j, mdev in enumerate(dev['mdevs']):
            field = 'pci[%d].mdevs[%d].uuid' % (i, j)
            if mdev['uuid'] in uuids:
                raise SpecError(field, 'duplicate mdev uuid %s (also %s)'
                                % (mdev['uuid'], uuids[mdev['uuid']]))
            uuids[mdev['uuid']] = field


def _attributes(value, field):
    out = {}
    for name, spec in (_mapping(value or {}, field, None) or {}).items():
        afield = _join(field, name)
        _name(name, afield)
        if isinstance(spec, int) and not isinstance(spec, bool):
            spec = str(spec)
        out[name] = _attribute(spec, afield, None)
    return out


def _migration_version(value, field):
    if value is None:
        return None
    return _attribute(value, field, 'exact')


def _attribute(value, field, default_policy):
    if isinstance(value, (str, bytes)):
        value = {'string': value}
    _mapping(value, field, _ATTR_KEYS)
    # null means absent (normalized specs validate again), except for
    # policy, where null means read-only.
    value = {k: v for k, v in value.items()
             if v is not None or k == 'policy'}
    if 'string' not in value:
        raise SpecError(_join(field, 'string'), 'missing')
    out = {'string': _text(value['string'], _join(field, 'string')),
           'policy': value.get('policy', default_policy),
           'accepts': [], 'version_regex': None, 'errno': None,
           'count': None, 'then': None, 'read_error': None,
           'write_delay': None, 'read_delay': None}
    policy = out['policy']
    if policy is not None and policy not in POLICIES:
        raise SpecError(_join(field, 'policy'), 'unknown policy %r '
                        '(expected one of: %s, or null for read-only)'
                        % (policy, ', '.join(POLICIES)))
    effective = policy
    if policy == 'transient':
        out['errno'] = _errno_name(value.get('errno', 'EBUSY'),
                                   _join(field, 'errno'))
        if 'count' in value:
            out['count'] = _int(value['count'], _join(field, 'count'),
                                0, 2 ** 31)
        elif out['errno'] == 'EINTR':
            raise SpecError(_join(field, 'count'), 'errno EINTR needs a '
                            'count: Python retries EINTR writes forever '
                            '(PEP 475)')
        then = value.get('then', 'exact')
        if then not in POLICIES or then == 'transient':
            raise SpecError(_join(field, 'then'), 'expected a policy '
                            'other than transient, got %r' % (then,))
        out['then'] = then
        effective = then
    else:
        for key in ('errno', 'count', 'then'):
            if key in value:
                raise SpecError(_join(field, key), 'only for policy '
                                'transient')
    if value.get('accepts'):
        if effective != 'accept_list':
            raise SpecError(_join(field, 'accepts'), 'only for policy '
                            'accept_list')
        out['accepts'] = [
            _text(s, '%s[%d]' % (_join(field, 'accepts'), i))
            for i, s in enumerate(_list(value['accepts'],
                                        _join(field, 'accepts')))]
    if effective == 'same_major':
        regex = _str(value.get('version_regex', DEFAULT_VERSION_REGEX),
                     _join(field, 'version_regex'))
        _check_regex(regex, out['string'], _join(field, 'version_regex'))
        out['version_regex'] = regex
    elif 'version_regex' in value:
        raise SpecError(_join(field, 'version_regex'), 'only for policy '
                        'same_major')
    if value.get('read_error') is not None:
        out['read_error'] = _errno_name(value['read_error'],
                                        _join(field, 'read_error'))
    for key in ('write_delay', 'read_delay'):
        if value.get(key) is not None:
            out[key] = _delay(value[key], _join(field, key))
    default_mode = 0o644 if policy is not None else 0o444
    out['mode'] = _int(value.get('mode', default_mode),
                       _join(field, 'mode'), 0, 0o7777, base=8)
    newline = value.get('newline', True)
    if not isinstance(newline, bool):
        raise SpecError(_join(field, 'newline'), 'expected true or false, '
                        'got %s' % _describe(newline))
    out['newline'] = newline
    return out


def _delay(value, field):
    """Seconds (a positive number), or ``hang``."""
    if value == HANG:
        return HANG
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or
            not 0 < value <= MAX_DELAY):
        raise SpecError(field, 'expected a number of seconds in (0, %d] or '
                        '%r, got %s' % (MAX_DELAY, HANG, _describe(value)))
    return value


def _check_regex(regex, string, field):
    try:
        compiled = re.compile(regex)
    except re.error as e:
        raise SpecError(field, 'invalid regular expression: %s' % e)
    if not {'major', 'minor'} <= set(compiled.groupindex):
        raise SpecError(field, 'needs the named groups (?P<major>...) and '
                        '(?P<minor>...)')
    match = compiled.search(string)
    if match is None:
        raise SpecError(field, 'does not match the attribute\'s own string '
                        '%r' % string)
    for group in ('major', 'minor'):
        if not match.group(group).isdigit():
            raise SpecError(field, 'group %s matched %r, not a number'
                            % (group, match.group(group)))
