"""How Nova names the resource providers of a compute node's devices.

* the root provider is named after the compute node's hypervisor hostname;
* the libvirt driver names a physical GPU (mdev parent) provider
  ``<nodename>_<libvirt device name>``, e.g. ``node1_pci_0000_81_00_0``
  (``nova/virt/libvirt/driver.py``).

PCI functions are reported on the root provider: Nova replaces the whole
trait set of its PCI-in-placement providers, so traits published there
would not survive.
"""


def libvirt_device_name(pci_address):
    """``0000:81:00.0`` -> ``pci_0000_81_00_0``."""
    return 'pci_' + pci_address.replace(':', '_').replace('.', '_')


def pgpu_provider_name(nodename, pci_address):
    return '%s_%s' % (nodename, libvirt_device_name(pci_address))


def is_pgpu_provider(nodename, name):
    """Is ``name`` the provider of a physical GPU of node ``nodename``?"""
    return name.startswith(pgpu_provider_name(nodename, ''))
