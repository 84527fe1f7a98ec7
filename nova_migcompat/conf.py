"""Every configuration option of nova-migcompat, in the [migcompat] group.

The scheduler filter reads them from nova.conf; the agent and the operator
tool from their own configuration files (or nova.conf itself).
``oslo-config-generator --namespace nova_migcompat`` renders them through
:func:`list_opts`.
"""

from oslo_config import cfg

migcompat_group = cfg.OptGroup(
    'migcompat',
    title='Device migration compatibility options',
    help="""
Options of nova-migcompat, which makes Nova's live-migration scheduling
aware of device (mdev vGPU, SR-IOV VF) migration compatibility.
""")

device_opts = [
    cfg.StrOpt(
        'sysfs_root',
        default='/sys',
        help="""
The sysfs mount to read devices from and run the target-side
``migration_version`` write check in.

Links that lead out of this directory are never followed, and nothing but
``migration_version`` attributes on a sysfs or FUSE file system is ever
written.  Tests and the demo point it at an emulated tree.
"""),
    cfg.ListOpt(
        'device_sources',
        default=['sysfs'],
        help="""
Device sources to enumerate migratable devices with, by entry point name in
the ``nova_migcompat.device_sources`` namespace.
"""),
    cfg.BoolOpt(
        'synthesize_descriptors',
        default=True,
        help="""
Synthesize a structured descriptor for devices without a
``migration_version`` attribute.

No upstream kernel has the attribute yet.  When this is enabled, a device
without one is described by a JSON descriptor built from standard sysfs
facts (device API, driver name and version, PCI vendor and device ids, mdev
type), and ``acceptance_policy`` decides what it accepts.  When disabled,
such devices are not tracked, and instances using them are scheduled as
stock Nova would.
"""),
    cfg.ListOpt(
        'synthesis_pci_drivers',
        default=['vfio-pci', '*_vfio_pci'],
        help="""
Drivers (shell-style patterns) of PCI functions to synthesize descriptors
for when they have no ``migration_version`` attribute.

The default covers functions bound for device assignment: ``vfio-pci`` and
the vendor VFIO variant drivers that implement migration
(``mlx5_vfio_pci``, ``hisi_acc_vfio_pci``...).  mdev types are always
described.
"""),
    cfg.StrOpt(
        'acceptance_policy',
        default='rules',
        help="""
The policy that decides acceptance for synthesized descriptors, by entry
point name in the ``nova_migcompat.policies`` namespace.

``rules`` accepts a source when device API, driver, PCI ids, mdev type,
attributes and vendor fields are equal, the driver major version is equal
and the target's minor version is the same or newer.
"""),
]


def register_opts(conf):
    conf.register_group(migcompat_group)
    conf.register_opts(device_opts, group=migcompat_group)


def list_opts():
    return {migcompat_group: device_opts}
