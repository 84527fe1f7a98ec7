"""Every configuration option of nova-migcompat, in the [migcompat] group.

The scheduler filter reads them from nova.conf; the agent and the operator
tool from their own configuration files (or nova.conf itself).
``oslo-config-generator --namespace nova_migcompat`` renders them through
:func:`list_opts`.
"""

import socket

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

#: Where the systemd unit's StateDirectory= and RuntimeDirectory= are.
DEFAULT_STATE_PATH = '/var/lib/nova-migcompat'
DEFAULT_LOCK_PATH = '/run/nova-migcompat/agent.lock'
DEFAULT_MAX_ACCEPTING_PROVIDERS = 500000

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
The sysfs mount to read devices from and to run the target-side
``migration_version`` write check in.

Links that lead out of this directory are never followed, and nothing but
``migration_version`` attributes on a sysfs or FUSE file system is ever
written.

Possible values:

* ``/sys`` (the default), the host's sysfs;
* the mount point of an emulated tree (tests, the demo).

Related options:

* ``[migcompat]device_sources``: the ``sysfs`` source reads this tree.
"""),
    cfg.ListOpt(
        'device_sources',
        default=['sysfs'],
        help="""
The device sources that enumerate this host's migratable devices and answer
the target-side check for them, in order.

A device source is an entry point of the ``nova_migcompat.device_sources``
namespace; a vendor package may add one (with its own check) without any
change to nova-migcompat.

Possible values:

* ``sysfs`` (built in): mdev types, mdev instances and PCI functions under
  ``[migcompat]sysfs_root``, with their ``migration_version`` attributes
  or synthesized descriptors;
* the entry point name of a source an installed package provides.

Related options:

* ``[migcompat]sysfs_root``, ``[migcompat]synthesize_descriptors``,
  ``[migcompat]synthesis_pci_drivers``: options of the ``sysfs`` source.
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
type), and the ``rules`` acceptance policy decides what it accepts: same
device, same driver major version, a target minor version at least the
source's.

Possible values:

* True: track devices without the attribute through their descriptor;
* False: track only devices with the attribute; the agent manages the
  others without a string (``CUSTOM_MIGCOMPAT_NOSRC_NOSTRING`` on their
  providers), and the live migrations of the instances using them are
  refused.

Related options:

* ``[migcompat]synthesis_pci_drivers``: which PCI functions get one.
"""),
    cfg.ListOpt(
        'synthesis_pci_drivers',
        default=['*_vfio_pci'],
        help="""
Drivers of the PCI functions the agent manages when they have no
``migration_version`` attribute: it synthesizes their descriptors (or,
with ``synthesize_descriptors`` off, manages them without a string).

The default covers the vendor VFIO variant drivers that implement
migration (``mlx5_vfio_pci``, ``hisi_acc_vfio_pci``...).  Plain
``vfio-pci`` has no migration support (libvirt also binds every assigned
VF to it), so it is not included.  mdev types are always described.

Possible values:

* A list of shell-style patterns matched against the name of the driver a
  function is bound to.

Related options:

* ``[migcompat]synthesize_descriptors``: whether they get a descriptor.
"""),
    cfg.StrOpt(
        'libvirt_domains_dir',
        default='/run/libvirt/qemu',
        help="""
The directory where libvirt keeps the live XML of the running domains.

The ``sysfs`` source reads which instance each mdev and PCI function is
given to from it (Nova names a domain's ``<uuid>`` after its instance),
so that an instance's own string is published as that instance's
(``CUSTOM_MIGCOMPAT_VM_*`` markers): the filter then judges a live
migration by the strings of the instance's own devices, not by every
string of their physical GPU.  Unreadable or absent: no marker, and the
provider's strings decide, as before.

Possible values:

* ``/run/libvirt/qemu`` (the default, libvirt's QEMU driver);
* the directory of an emulated host (tests, the demo).

Related options:

* ``[migcompat]device_sources``: the ``sysfs`` source reads it.
"""),
    cfg.IntOpt(
        'device_timeout',
        default=5,
        min=1,
        help="""
Seconds one kernel read or write of a device's sysfs attribute may take.

The target-side check writes into a device's ``migration_version``
attribute, which runs the vendor driver's code; a hung driver may never
answer.  The call runs on a thread of its own: past this deadline the
device's answer is "unknown" (a late answer is discarded, never
published), no other string is tried on the device in the same cycle,
and while the hung call has not returned, every cycle treats the device
as unknown at once without calling it again.  A slow device thus delays
a cycle by at most this much, and never the other devices' updates.

Possible values:

* An integer of at least 1.

Related options:

* ``[migcompat]interval``: a device that hangs lengthens the cycle it
  hangs in by at most this deadline, and later cycles not at all.
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
hostname, and the provider of a physical GPU
``<nodename>_pci_<domain>_<bus>_<slot>_<fn>``.  With the default, the
agent also tries the host's FQDN.

Possible values:

* The hypervisor hostname of this host, as ``openstack hypervisor list``
  shows it (for libvirt, the host name libvirt reports).
"""),
    cfg.IntOpt(
        'interval',
        default=60,
        min=5,
        help="""
Seconds between two reporting cycles of the agent.

A random 10% jitter is added so that a fleet does not query placement in
lockstep.  A new string on one host is accepted (or refused) by every other
host within about two intervals: one for the new host to publish it, one
for the others to check it.

A steady cycle (nothing changed) sends 2 placement requests, so a fleet of
N hosts sends about 2 * N / interval requests a second: 33 for 1,000 hosts
at the default, 333 for 10,000 hosts; for 10,000 hosts use 300 (67 a
second).  Publishing costs more, for a few cycles (see the operations
guide, "Load on placement").

Possible values:

* An integer of at least 5.
"""),
    cfg.ListOpt(
        'mdev_types',
        default=[],
        help="""
The mdev types to report.

A physical GPU's provider requires a destination to accept the strings of
all its reported types: list the types Nova uses to require only those.
Devices of other types are ignored, even when they cannot be read.

Possible values:

* An empty list (the default): Nova's ``[devices]enabled_mdev_types``
  from the same configuration files, or every type a parent device
  supports when that is empty too;
* A list of mdev type names, e.g. ``nvidia-35``.

Related options:

* ``[devices]enabled_mdev_types`` (Nova's): used when this is empty.
"""),
    cfg.IntOpt(
        'max_checks_per_cycle',
        default=1000,
        min=1,
        deprecated_name='max_catalog_strings',
        help="""
The most target-side checks (a ``migration_version`` write, or a policy
decision) one reporting cycle asks of the local devices.

A check is due for a (device, fleet string) pair never checked, whose
device changed, or whose verdict reaches its recheck age.  Due checks
beyond this budget wait for the next cycles, oldest verdicts first; until
a string is checked it is not published as accepted.  The cycle report and
a warning say how many wait.

Possible values:

* A positive integer.  The default lets a host with 64 devices check 15
  new fleet strings per cycle.

Related options:

* ``recheck_age``: how often every pair is checked again.
* ``interval``: how often a cycle runs.
"""),
    cfg.IntOpt(
        'recheck_age',
        default=6 * 3600,
        min=60,
        help="""
Seconds a definite verdict of a local device (accepts or refuses a fleet
string) is trusted.

A verdict is reused, without touching the device, until the device's
identity (its own string, driver and driver version) changes or it is due
for a recheck, at between 75% and 100% of this age (spread so that a
fleet does not recheck at once).  A recheck that cannot tell (a busy
device) keeps an acceptance until it is this old, never longer: after
that the string is no longer published as accepted until the device
answers again.

Possible values:

* At least 60 seconds.

Related options:

* ``state_path``: where the verdicts are kept.
* ``max_checks_per_cycle``: how many checks a cycle may run.
"""),
    cfg.StrOpt(
        'state_path',
        default=DEFAULT_STATE_PATH,
        help="""
The directory of the agent's own record of its devices' verdicts
(``verdicts.json``), which survives restarts.

Only verdicts this agent recorded back an acceptance trait in placement.
The file is written atomically, and only when it changed.  A missing,
unreadable or corrupt file means that nothing is verified yet: every
device is checked again.  The systemd unit creates the default directory
(``StateDirectory=nova-migcompat``).

Possible values:

* A directory the agent may create and write (root only).

Related options:

* ``recheck_age``.
"""),
    cfg.BoolOpt(
        'delete_unused_traits',
        default=False,
        help="""
Delete ``CUSTOM_MIGCOMPAT_*`` traits that no resource provider carries any
more, at the end of each cycle.

Possible values:

* True: delete them (placement refuses to delete a trait in use, so
  enabling it on every agent is safe);
* False: leave them (enable it on one agent of the fleet).
"""),
    cfg.StrOpt(
        'lock_path',
        default=DEFAULT_LOCK_PATH,
        help="""
The lock file that keeps a second agent (a daemon or ``--once``) from
running on the same host.

The agent holds an exclusive lock on it while it runs and writes its
process id into it; a second agent exits with status 2, naming the file and
the holder.  ``--dry-run`` takes no lock.  Its directory is created when
missing.  Read at start only (a SIGHUP does not move the lock).

Possible values:

* A file path on a local file system; the default suits the systemd unit
  (``RuntimeDirectory=nova-migcompat``).
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

Related options:

* ``[filter_scheduler]enabled_filters`` (Nova's): must list
  ``MigrationCompatibilityFilter`` for this to apply.
"""),
    cfg.IntOpt(
        'acceptance_cache_seconds',
        default=10,
        min=0,
        max=3600,
        help="""
Seconds a scheduler process reuses the list of resource providers that
accept a source string, read from placement.

Live migrations come in bursts (a host being drained moves all its servers
within minutes), and every live migration of the same device model asks
placement for the same, possibly very long, list.  A list is reused only
under the withdrawal epoch it was read under: every agent that withdraws
an acceptance its device no longer backs moves the epoch (a small
placement record) in the same cycle, and the filter reads the epoch once
per live-migration request, before any list.  So a withdrawn acceptance
is never used once the agent's cycle has finished, whatever this value.
What it costs: a destination that newly accepts a string is seen up to
this many seconds later (fail closed).

Possible values:

* 0: no cache, every live-migration request reads every list (and not
  the epoch);
* An integer of seconds, up to 3600.

Related options:

* ``[migcompat]max_accepting_providers``: what one cached list may hold.
"""),
    cfg.StrOpt(
        'unmanaged_sources',
        default='pass',
        choices=[
            ('pass', 'Keep every host, as stock Nova would, and log one '
                     'INFO line naming the source host.'),
            ('refuse', 'Keep no host: the live migration fails with '
                       'NoValidHost and the server stays where it is.'),
        ],
        help="""
What MigrationCompatibilityFilter does with the live migration of a server
whose devices are on a source host that runs no nova-migcompat agent.

A host runs an agent when its compute node's resource provider carries the
agent's ``CUSTOM_MIGCOMPAT_REPORTED`` trait.  Without one, nothing says
what its devices accept: ``pass`` suits a cloud where agents are being
rolled out, ``refuse`` one that runs an agent on every host with devices,
where a host without one is a fault.  (A device that a host's agent sees
but cannot judge is always refused.)  ``nova-migcompat status`` lists the
hosts with device providers and no agent.

Related options:

* ``[migcompat]on_error``: what happens when the filter cannot work a
  request out at all.
"""),
    cfg.IntOpt(
        'max_accepting_providers',
        default=DEFAULT_MAX_ACCEPTING_PROVIDERS,
        min=1,
        help="""
The most resource providers accepting one source string that the filter
reads from placement in one answer.

Each accepting device provider takes about 0.9 KiB of placement's answer,
which a scheduler process reads with about twice its size in memory, and
0.25 KiB while its list is cached (``[migcompat]acceptance_cache_seconds``);
100,000 accepting providers: an 85 MiB answer, read with 190 MiB, 24 MiB
cached.  The default covers 250,000 hosts with two accepting devices each
(at the limit, a 420 MiB answer, 120 MiB cached).  When placement lists
more, the live migration follows ``[migcompat]on_error`` and the error
names this option.  Cached lists hold this many providers in all.

Possible values:

* A positive integer: at least the number of device providers of the
  largest fleet of one device model.

Related options:

* ``[migcompat]on_error``.
* ``[migcompat]acceptance_cache_seconds``.
"""),
]

#: Nova's own option (``nova/conf/devices.py``), which the agent reads
#: where ``[migcompat]mdev_types`` is unset, without importing Nova.
NOVA_DEVICES_GROUP = 'devices'
nova_enabled_mdev_types = cfg.ListOpt(
    'enabled_mdev_types',
    default=[],
    help="Nova's option: the mdev types Nova uses.")

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


def register_nova_device_opts(conf):
    """Nova's ``[devices]enabled_mdev_types``, unless already registered."""
    try:
        conf.register_opt(nova_enabled_mdev_types, group=NOVA_DEVICES_GROUP)
    except cfg.DuplicateOptError:
        # Nova's own definition (the agent runs in a process with Nova's
        # options): the same option, read the same way.
        pass


def mdev_types(conf):
    """The mdev types to report; empty means every type.

    ``[migcompat]mdev_types``, else Nova's ``[devices]enabled_mdev_types``.
    """
    if conf.migcompat.mdev_types:
        return list(conf.migcompat.mdev_types)
    try:
        return list(conf.devices.enabled_mdev_types or [])
    except cfg.NoSuchOptError:
        return []


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
