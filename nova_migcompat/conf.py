"""Every configuration option of nova-migcompat, in the [migcompat] group.

The scheduler filter reads them from nova.conf; the agent and the operator
tool from their own configuration files (or nova.conf itself).
``oslo-config-generator --namespace nova_migcompat`` renders them through
:func:`list_opts`.
"""

import socket

from keystoneauth1 import loading as ks_loading
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
        default=['*_vfio_pci'],
        help="""
Drivers (shell-style patterns) of PCI functions to synthesize descriptors
for when they have no ``migration_version`` attribute.

The default covers the vendor VFIO variant drivers that implement
migration (``mlx5_vfio_pci``, ``hisi_acc_vfio_pci``...).  Plain
``vfio-pci`` has no migration support (libvirt also binds every assigned
VF to it), so it is not included.  mdev types are always described.
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

agent_opts = [
    cfg.StrOpt(
        'nodename',
        default=socket.gethostname(),
        sample_default='<the host name>',
        help="""
The name of this host's compute node resource provider in placement.

Nova names the root provider of a compute node after the hypervisor
hostname (``openstack hypervisor list`` shows it; for libvirt it is the
host name libvirt reports, usually the machine's host name), and names the
provider of a physical GPU ``<nodename>_pci_<domain>_<bus>_<slot>_<fn>``.
"""),
    cfg.IntOpt(
        'interval',
        default=60,
        min=5,
        help="""
Seconds between two reporting cycles of the agent (a random 10% jitter is
added so that a fleet does not query placement in lockstep).

A new string on one host is accepted (or refused) by every other host
within about two intervals: one for the new host to publish it, one for
the others to check it.
"""),
    cfg.ListOpt(
        'mdev_types',
        default=[],
        help="""
mdev types to report, e.g. Nova's ``[devices]enabled_mdev_types``.

Empty (the default) reports every type a parent device supports.  A
physical GPU's provider then requires a destination to accept the strings
of all its types; list the types Nova uses to require only those.
"""),
    cfg.IntOpt(
        'max_catalog_strings',
        default=1000,
        min=1,
        help="""
The most fleet strings (``CUSTOM_MIGCOMPAT_SRC_*`` traits in placement)
one cycle checks the local devices against.  Beyond it, the cycle checks
the first ones in trait order and logs an error: raise it for very
heterogeneous fleets.
"""),
    cfg.BoolOpt(
        'delete_unused_traits',
        default=False,
        help="""
Delete ``CUSTOM_MIGCOMPAT_*`` traits that no resource provider carries any
more, at the end of each cycle.  Enable it on one agent of the fleet (or
all: deleting a trait in use is refused by placement).
"""),
]

filter_opts = [
    cfg.StrOpt(
        'on_error',
        default='reject',
        choices=[
            ('reject', 'Keep no host: the live migration fails with '
                       'NoValidHost and the server stays where it is.'),
            ('pass', 'Keep every host, as stock Nova would.'),
        ],
        help="""
What MigrationCompatibilityFilter does when it cannot work out a request
(the database or placement fails, placement answers something unexpected).

The error is logged with the instance uuid either way.  ``reject`` is the
safe choice: a live migration to a destination whose devices may not accept
the device state fails mid-flight.
"""),
]

PLACEMENT_GROUP = 'placement'


def _placement_adapter_opts():
    # keystoneauth1 reads the version options too; nova.conf leaves them
    # unset (the code asks for its microversions).
    opts = ks_loading.get_adapter_conf_options(include_deprecated=False)
    cfg.set_defaults(opts, service_type='placement',
                     valid_interfaces=['internal', 'public'])
    return opts


def register_opts(conf):
    """The [migcompat] options (the filter, the tools and the agent)."""
    conf.register_group(migcompat_group)
    conf.register_opts(device_opts + agent_opts + filter_opts,
                       group=migcompat_group)


def register_placement_opts(conf):
    """The keystoneauth1 [placement] options, as nova-compute has them."""
    ks_loading.register_session_conf_options(conf, PLACEMENT_GROUP)
    ks_loading.register_auth_conf_options(conf, PLACEMENT_GROUP)
    conf.register_opts(_placement_adapter_opts(), group=PLACEMENT_GROUP)
    # A hung placement must not hang the agent forever.
    conf.set_default('timeout', 30, group=PLACEMENT_GROUP)


def list_opts():
    return [(migcompat_group, device_opts + agent_opts + filter_opts)]


def list_placement_opts():
    """The [placement] options of the agent and the operator tool."""
    return [(PLACEMENT_GROUP,
             ks_loading.get_session_conf_options() +
             ks_loading.get_auth_common_conf_options() +
             ks_loading.get_auth_plugin_conf_options('password') +
             _placement_adapter_opts())]


def list_agent_opts():
    """Everything the agent reads: [migcompat] and [placement]."""
    return ([(migcompat_group, device_opts + agent_opts)] +
            list_placement_opts())
