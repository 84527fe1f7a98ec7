"""A spec laid out like Linux sysfs, as an in-memory tree.

For a PCI device ``0000:81:00.0`` (paths relative to the tree's root)::

    devices/pci0000:81/0000:81:00.0/        vendor device class subsystem
        driver -> ../../../bus/pci/drivers/<driver>
        migration_version                   (if given)
        physfn -> ../0000:81:00.0           (a VF)
        virtfn0 -> ../0000:81:00.1          (a PF; + sriov_{total,num}vfs)
        mdev_supported_types/<type>/        name device_api
                                            available_instances
                                            description migration_version
                                            devices/<uuid> -> ../../../<uuid>
        <uuid>/                             an mdev: mdev_type ->
                                            ../mdev_supported_types/<type>,
                                            migration_version, subsystem
    bus/pci/devices/<addr> -> ../../../devices/pci0000:81/<addr>
    bus/pci/drivers/<driver>/<addr> -> the device; module -> the module
    bus/mdev/devices/<uuid> -> ../../../devices/pci0000:81/<addr>/<uuid>
    class/mdev_bus/<addr> -> ../../devices/pci0000:81/<addr>
    module/<name>/version
    kernel/debug/vfio/<name>/migration/     debugfs, where a device has
                                            ``vfio`` (state, features)

Every link is relative, so it resolves inside the tree wherever it is
mounted.  Attribute files are 0444 (0644 with a write policy), directories
0755, links 0777, as on sysfs.
"""

import posixpath

from migcompat_lab.emulation import spec as spec_mod


class Dir(object):
    kind = 'dir'
    mode = 0o755

    def __init__(self):
        self.children = {}


class File(object):
    kind = 'file'

    def __init__(self, attr):
        self.attr = attr
        self.mode = attr['mode']
        self.content = spec_mod.encode(attr['string'])
        if attr['newline']:
            self.content += b'\n'
        # Per-tree runtime state of the write policy (transient counts).
        self.state = {}

    @property
    def writable(self):
        return self.attr['policy'] is not None and bool(self.mode & 0o222)


class Link(object):
    kind = 'link'
    mode = 0o777

    def __init__(self, target):
        self.target = target


class Tree(object):
    """The nodes of one emulated sysfs, built from normalized spec data."""

    def __init__(self, data):
        self.root = Dir()
        self._build(data)

    def lookup(self, path):
        """The node at an absolute path ("/bus/pci"), or None."""
        node = self.root
        for part in path.split('/'):
            if not part:
                continue
            if not isinstance(node, Dir):
                return None
            node = node.children.get(part)
            if node is None:
                return None
        return node

    def walk(self, path='/', node=None):
        """Yield (path, node) for every node, parents first."""
        node = self.root if node is None else node
        yield path, node
        if isinstance(node, Dir):
            for name in sorted(node.children):
                yield from self.walk(posixpath.join(path, name),
                                     node.children[name])

    # Building.

    def _dir(self, path, field=None):
        node = self.root
        for part in path.split('/'):
            if not part:
                continue
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = Dir()
            elif not isinstance(child, Dir):
                raise spec_mod.SpecError(field or path, '%s is not a '
                                         'directory in the tree' % path)
            node = child
        return node

    def _put(self, path, node, field=None):
        parent, name = posixpath.split(path)
        self._dir(parent, field).children[name] = node

    def _attr(self, path, attr):
        self._put(path, File(attr))

    def _text(self, path, text):
        self._attr(path, _plain(text))

    def _link(self, path, target):
        """A relative link from path to the absolute tree path target."""
        rel = posixpath.relpath(target, posixpath.dirname(path))
        self._put(path, Link(rel))

    def _build(self, data):
        for path in ('/bus/pci/devices', '/bus/pci/drivers', '/class',
                     '/devices', '/module'):
            self._dir(path)
        for name, module in data['modules'].items():
            base = '/module/' + name
            self._dir(base)
            if module['version'] is not None:
                self._text(base + '/version', module['version'])
            self._attributes(base, module['attributes'])
        bases = {dev['address']: _device_dir(dev['address'])
                 for dev in data['pci']}
        vfs = {}
        for dev in data['pci']:
            if dev['physfn'] is not None:
                vfs.setdefault(dev['physfn'], []).append(dev['address'])
        if any(dev['mdev_types'] for dev in data['pci']):
            self._dir('/class/mdev_bus')
            self._dir('/bus/mdev/devices')
        for dev in data['pci']:
            self._device(dev, bases, sorted(vfs.get(dev['address'], [])),
                         data['modules'])
            self._vfio(dev['address'], dev['vfio'])
            for mdev in dev['mdevs']:
                self._vfio(mdev['uuid'], mdev['vfio'])
        for i, path in enumerate(data['remove']):
            self._remove(path, 'remove[%d]' % i)
        for path, attr in data['files'].items():
            self._put(path, File(attr), 'files.' + path)
        for path, target in data['links'].items():
            self._put(path, Link(target), 'links.' + path)

    def _device(self, dev, bases, vfs, modules):
        addr = dev['address']
        base = bases[addr]
        self._dir(base)
        self._text(base + '/vendor', '0x%04x' % dev['vendor'])
        self._text(base + '/device', '0x%04x' % dev['device'])
        self._text(base + '/class', '0x%06x' % dev['class'])
        self._link(base + '/subsystem', '/bus/pci')
        self._link('/bus/pci/devices/' + addr, base)
        driver = dev['driver']
        if driver is not None:
            drv = '/bus/pci/drivers/' + driver
            self._link(base + '/driver', drv)
            self._link(drv + '/' + addr, base)
            if driver in modules:
                self._link(drv + '/module', '/module/' + driver)
        if dev['migration_version'] is not None:
            self._attr(base + '/migration_version', dev['migration_version'])
        if dev['physfn'] is not None:
            self._link(base + '/physfn', bases[dev['physfn']])
        for i, vf in enumerate(vfs):
            self._link('%s/virtfn%d' % (base, i), bases[vf])
        if vfs:
            self._text(base + '/sriov_totalvfs', str(len(vfs)))
            self._text(base + '/sriov_numvfs', str(len(vfs)))
        if dev['mdev_types']:
            self._link('/class/mdev_bus/' + addr, base)
        for mtype in dev['mdev_types']:
            tdir = '%s/mdev_supported_types/%s' % (base, mtype['name'])
            self._dir(tdir + '/devices')
            if mtype['pretty_name'] is not None:
                self._text(tdir + '/name', mtype['pretty_name'])
            if mtype['description'] is not None:
                self._text(tdir + '/description', mtype['description'])
            self._text(tdir + '/device_api', mtype['device_api'])
            self._text(tdir + '/available_instances',
                       str(mtype['available_instances']))
            if mtype['migration_version'] is not None:
                self._attr(tdir + '/migration_version',
                           mtype['migration_version'])
            self._attributes(tdir, mtype['attributes'])
        for mdev in dev['mdevs']:
            mbase = '%s/%s' % (base, mdev['uuid'])
            tdir = '%s/mdev_supported_types/%s' % (base, mdev['type'])
            self._dir(mbase)
            self._link(mbase + '/mdev_type', tdir)
            self._link(mbase + '/subsystem', '/bus/mdev')
            self._link('%s/devices/%s' % (tdir, mdev['uuid']), mbase)
            self._link('/bus/mdev/devices/' + mdev['uuid'], mbase)
            if mdev['migration_version'] is not None:
                self._attr(mbase + '/migration_version',
                           mdev['migration_version'])
            self._attributes(mbase, mdev['attributes'])
        self._attributes(base, dev['attributes'])

    def _vfio(self, name, vfio):
        """The device's debugfs entry (drivers/vfio/debugfs.c)."""
        if vfio is None:
            return
        base = '/kernel/debug/vfio/' + name
        self._dir(base)
        if not vfio['migration']:
            return
        self._text(base + '/migration/state', 'RUNNING')
        if vfio['features'] is not None:
            # One token a line: the last one's newline is the file's.
            self._text(base + '/migration/features',
                       '\n'.join(vfio['features']))

    def _attributes(self, base, attributes):
        for name, attr in attributes.items():
            self._attr(base + '/' + name, attr)

    def _remove(self, path, field):
        parent, name = posixpath.split(path)
        node = self.lookup(parent)
        if not isinstance(node, Dir) or name not in node.children:
            raise spec_mod.SpecError(field, 'no entry %s in the generated '
                                     'tree' % path)
        del node.children[name]


def _device_dir(address):
    return '/devices/pci%s/%s' % (address[:7], address)


def _plain(text):
    return {'string': text, 'policy': None, 'accepts': [],
            'version_regex': None, 'errno': None, 'count': None,
            'then': None, 'read_error': None, 'mode': 0o444,
            'newline': True}
