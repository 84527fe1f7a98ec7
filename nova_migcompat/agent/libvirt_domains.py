"""Which instance holds which device, from libvirt's running domains.

libvirt keeps the live XML of every running domain in its run directory
(``/run/libvirt/qemu/<name>.xml``: a ``<domstatus>`` around the
``<domain>``), root's only.  Nova's libvirt driver names each domain's
``<uuid>`` after the instance, and gives it its devices as ``<hostdev>``
elements: an mdev by its uuid (``type='mdev'``, ``<source><address
uuid=.../>``), a PCI function by its address (``type='pci'``,
``<source><address domain= bus= slot= function=/>``).  That says, for a
device source, which instance a device is given to, so that the
instance's own string can be told apart from its neighbours'.

Read with bounds: at most :data:`MAX_FILES` files of at most
:data:`MAX_FILE_BYTES`, regular files only, never through a link, and a
document with a ``DOCTYPE`` (entities) is refused.  What cannot be read
says nothing (its devices are not mapped, and their provider's strings
decide); it never stops discovery.
"""

import os
import stat
import uuid
from xml.etree import ElementTree

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

#: libvirt's run directory of QEMU domains.
DEFAULT_DIR = '/run/libvirt/qemu'
MAX_FILES = 4096
MAX_FILE_BYTES = 1024 * 1024
MDEV = 'mdev'
PCI = 'pci'


def _read(path):
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC |
                 os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    return data if len(data) <= MAX_FILE_BYTES else None


def _address(element):
    """``0000:81:00.1`` of a hostdev's PCI ``<address>``, or None."""
    try:
        return '%04x:%02x:%02x.%x' % tuple(
            int(element.get(key), 16)
            for key in ('domain', 'bus', 'slot', 'function'))
    except (TypeError, ValueError):
        return None


def _devices(domain):
    """``{(kind, name)}`` of a ``<domain>``'s mdevs and PCI functions."""
    found = set()
    for hostdev in domain.iter('hostdev'):
        if hostdev.get('mode', 'subsystem') != 'subsystem':
            continue
        address = hostdev.find('source/address')
        if address is None:
            continue
        if hostdev.get('type') == 'mdev' and address.get('uuid'):
            try:
                found.add((MDEV, str(uuid.UUID(address.get('uuid')))))
            except ValueError:
                continue
        elif hostdev.get('type') == 'pci':
            name = _address(address)
            if name:
                found.add((PCI, name))
    return found


def holders(directory=DEFAULT_DIR):
    """``{(kind, device name): instance uuid}`` of the running domains.

    ``kind`` is :data:`MDEV` (the mdev's uuid) or :data:`PCI` (the
    function's address).  Empty when the directory cannot be read.
    """
    try:
        names = sorted(n for n in os.listdir(directory)
                       if n.endswith('.xml'))[:MAX_FILES]
    except OSError:
        return {}
    found = {}
    for name in names:
        path = os.path.join(directory, name)
        try:
            data = _read(path)
        except OSError:
            continue
        if data is None or b'<!DOCTYPE' in data or b'<!ENTITY' in data:
            continue
        try:
            root = ElementTree.fromstring(data)
        except ElementTree.ParseError:
            LOG.debug('Cannot parse the domain XML %s', path)
            continue
        domain = root if root.tag == 'domain' else root.find('domain')
        if domain is None:
            continue
        try:
            instance = str(uuid.UUID((domain.findtext('uuid') or '').strip()))
        except ValueError:
            continue
        for device in _devices(domain):
            found[device] = instance
    return found
