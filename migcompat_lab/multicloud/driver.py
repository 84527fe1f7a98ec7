"""The multi-process cloud's compute driver: Nova's fake driver with vGPUs.

``compute_driver = migcompat_lab.multicloud.driver.VGPUFakeDriver``.

Why not Nova's libvirt driver: there is no libvirtd, QEMU or mdev-capable
GPU on the machine, and Nova's ``fakelibvirt`` is an in-process monkey
patch of the libvirt module whose guests exist only in the memory of the
one Python process; a live migration between two nova-compute processes
would have to move a domain from one fake connection to another, which
fakelibvirt cannot do (the in-process demo runs every compute in one
process for that reason).  This driver is Nova's ``FakeDriver`` (live
migration completes by calling ``post_method``, as the fake driver does),
reporting the provider tree *exactly as the libvirt driver does for
vGPUs* (``nova/virt/libvirt/driver.py``, ``_get_gpu_inventories`` and
``_ensure_pgpu_providers``):

* the root provider is the compute node, named after the node (the fake
  driver's node name is ``[DEFAULT]host``), with VCPU, MEMORY_MB and
  DISK_GB;
* one child provider per physical GPU, named
  ``<node>_pci_0000_81_00_0`` (``<nodename>_<libvirt device name>``),
  with ``VGPU`` inventory ``total``, ``max_unit`` = total, ``min_unit`` 1,
  ``step_size`` 1, ``reserved`` 0, ``allocation_ratio`` 1.0, and the
  trait ``OWNER_NOVA``, the only trait the
  libvirt driver sets on it (no mdev-type trait: the resource class is
  ``VGPU`` unless ``[mdev_<type>]mdev_class`` says otherwise).

Options (group ``[multicloud_driver]`` of nova-compute's config):
``memory_mb`` (the host's RAM, which the RAM weigher prefers), ``pgpus``
(the physical GPUs' PCI addresses) and ``vgpus_per_pgpu``.
"""

import os_traits
from oslo_config import cfg

from nova.virt import fake

_OPTS = [
    cfg.IntOpt('memory_mb', default=8192, min=512,
               help='MEMORY_MB of the compute node.'),
    cfg.ListOpt('pgpus', default=['0000:81:00.0', '0000:82:00.0'],
                help='PCI addresses of the physical GPUs.'),
    cfg.IntOpt('vgpus_per_pgpu', default=4, min=1,
               help='VGPU total of each physical GPU.'),
]
cfg.CONF.register_opts(_OPTS, group='multicloud_driver')

VGPU = 'VGPU'


def libvirt_device_name(address):
    """``0000:81:00.0`` -> ``pci_0000_81_00_0`` (libvirt's node device)."""
    return 'pci_' + address.replace(':', '_').replace('.', '_')


class VGPUFakeDriver(fake.FakeDriver):
    """FakeDriver whose node has physical GPU child providers with VGPU."""

    vcpus = 16
    local_gb = 200

    def __init__(self, virtapi, read_only=False):
        self.memory_mb = cfg.CONF.multicloud_driver.memory_mb
        super().__init__(virtapi, read_only=read_only)

    def _gpu_inventories(self):
        """As ``LibvirtDriver._get_gpu_inventories``."""
        total = cfg.CONF.multicloud_driver.vgpus_per_pgpu
        return {libvirt_device_name(a): {
            'total': total, 'min_unit': 1, 'step_size': 1, 'reserved': 0,
            'allocation_ratio': 1.0, 'max_unit': total}
            for a in cfg.CONF.multicloud_driver.pgpus}

    def update_provider_tree(self, provider_tree, nodename,
                             allocations=None):
        super().update_provider_tree(provider_tree, nodename,
                                     allocations=allocations)
        # As LibvirtDriver._ensure_pgpu_providers.
        for dev_name, inventory in self._gpu_inventories().items():
            name = '%s_%s' % (nodename, dev_name)
            if not provider_tree.exists(name):
                provider_tree.new_child(name, nodename)
            provider_tree.update_inventory(name, {VGPU: inventory})
            provider_tree.add_traits(name, os_traits.OWNER_NOVA)

    def post_live_migration(self, context, instance, block_device_info,
                            migrate_data=None):
        # On the source, from ComputeManager._post_live_migration: the
        # guest left this hypervisor (as FakeLiveMigrateDriver does).
        self.destroy(context, instance, network_info=None,
                     block_device_info=block_device_info)
