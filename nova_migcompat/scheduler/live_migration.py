"""Tell a live-migration scheduling request apart, and find its source.

A RequestSpec carries no "this is a live migration" flag.  Before it asks
the scheduler, the conductor creates a ``live-migration`` Migration in
status ``accepted`` (it stays so across scheduling retries), moves the
instance's source allocations to that migration, and sets
``requested_destination.cell``.  Boot requests have no cell, so they cost
nothing here, and neither do requests that ask for no device
(:func:`may_have_devices`, from the RequestSpec alone).

A move request costs one database read: the instance's accepted
live-migration Migration, which also names the source host.  The source
compute node's uuid (its root resource provider) is remembered per host
and proven by the migration's allocations, which must hold it
(:func:`source_root`); the database is read again only when they do not.
"""

import dataclasses

from nova import context as nova_context
from nova import objects

from nova_migcompat.scheduler import cache


@dataclasses.dataclass(frozen=True)
class LiveMigration:
    instance_uuid: str
    #: The consumer that holds the instance's source allocations while it
    #: is being scheduled.
    migration_uuid: str
    #: The source compute service's host.
    source_host: str
    #: The instance has PCI devices (host-level strings are required).
    has_pci: bool
    #: The cell (CellMapping) of the instance.
    cell: object = dataclasses.field(default=None, compare=False)


def _destination_cell(spec_obj):
    if not spec_obj.obj_attr_is_set('requested_destination'):
        return None
    dest = spec_obj.requested_destination
    if dest is None or not dest.obj_attr_is_set('cell'):
        return None
    return dest.cell


def _has_pci(spec_obj):
    """Has the instance PCI devices from a flavor alias?

    Neutron SR-IOV ports are unplugged and plugged again by a live
    migration: no device state moves, so they need no acceptance.
    """
    if not spec_obj.obj_attr_is_set('pci_requests'):
        return False
    reqs = spec_obj.pci_requests
    return any(req.source == objects.InstancePCIRequest.FLAVOR_ALIAS
               for req in (reqs.requests if reqs else []))


#: Resource classes that never come from a device provider: a request for
#: only these has no device state to move.  Anything else (``VGPU``,
#: ``CUSTOM_*``, ``PCI_DEVICE``, bandwidth of a port...) may come from a
#: provider that publishes strings.
PLAIN_RESOURCE_CLASSES = frozenset(('VCPU', 'PCPU', 'MEMORY_MB', 'DISK_GB'))
#: Flavor extra spec prefixes that ask for devices outside ``resources``.
_DEVICE_EXTRA_SPECS = ('pci_passthrough:', 'accel:', 'hw:pmem')


def _set(obj, name):
    return obj is not None and obj.obj_attr_is_set(name)


def _flavor_asks_for_devices(flavor):
    for key, value in (flavor.extra_specs or {}).items():
        if key.startswith(_DEVICE_EXTRA_SPECS):
            return True
        if not key.startswith('resources') or ':' not in key:
            continue
        if key.split(':', 1)[1] in PLAIN_RESOURCE_CLASSES:
            continue
        try:
            if int(value) <= 0:
                continue
        except (TypeError, ValueError):
            pass
        return True
    return False


def may_have_devices(spec_obj):
    """False only when the request certainly asks for no device resource.

    Decided from the RequestSpec alone (no database, no placement): the
    flavor's ``resources*:CLASS`` extra specs other than plain CPU, memory
    and disk, its PCI alias, accelerator and persistent memory extra
    specs, the PCI requests and the requested resources (ports' resource
    requests).  A RequestSpec without a flavor, or one that cannot be
    read, may have devices.
    """
    try:
        if not _set(spec_obj, 'flavor') or spec_obj.flavor is None:
            return True
        if _flavor_asks_for_devices(spec_obj.flavor):
            return True
        if _set(spec_obj, 'pci_requests') and spec_obj.pci_requests:
            if spec_obj.pci_requests.requests:
                return True
        if (_set(spec_obj, 'requested_resources') and
                spec_obj.requested_resources):
            return True
        return False
    except Exception:
        return True


def find(spec_obj):
    """The LiveMigration this request schedules, or None.

    An ``accepted`` live-migration Migration of the instance means the
    conductor is scheduling it: the API refuses every other move while
    one runs, the conductor sets it to ``error`` when the live migration
    fails before the source compute takes it, and the source compute sets
    it to ``preparing`` when it does.  (One left ``accepted`` by a
    conductor that died makes a later move of the instance follow the
    live-migration rules: fewer hosts, never more.)
    """
    cell = _destination_cell(spec_obj)
    if cell is None or not spec_obj.obj_attr_is_set('instance_uuid'):
        return None
    uuid = spec_obj.instance_uuid
    # Never the request's own context: in production it is not targeted at
    # a cell and may belong to a non-admin user.
    ctxt = nova_context.get_admin_context()
    with nova_context.target_cell(ctxt, cell) as cctxt:
        migrations = objects.MigrationList.get_by_filters(
            cctxt, {'instance_uuid': uuid,
                    'migration_type': 'live-migration',
                    'status': ['accepted']})
    if not migrations:
        return None
    migration = max(migrations, key=lambda m: m.id)
    return LiveMigration(
        instance_uuid=uuid, migration_uuid=migration.uuid,
        source_host=migration.source_compute, has_pci=_has_pci(spec_obj),
        cell=cell)


def _read_compute_nodes(migration):
    ctxt = nova_context.get_admin_context()
    with nova_context.target_cell(ctxt, migration.cell) as cctxt:
        nodes = objects.ComputeNodeList.get_all_by_host(
            cctxt, migration.source_host)
    return tuple(node.uuid for node in nodes)


def source_root(migration, allocations):
    """The source compute node's uuid, or None without allocations.

    The node of the source host that the migration's allocations hold:
    remembered per host, read again when the allocations do not hold the
    remembered one (a node re-created under a new uuid).

    :raises LookupError: no compute node of the source host is in the
        allocations.
    """
    if not allocations:
        return None
    key = (getattr(migration.cell, 'uuid', None), migration.source_host)
    uuids = cache.COMPUTE_NODES.get(key)
    if uuids is None or not any(uuid in allocations for uuid in uuids):
        uuids = _read_compute_nodes(migration)
        if len(cache.COMPUTE_NODES) >= cache.MOST_HOSTS:
            cache.COMPUTE_NODES.clear()
        cache.COMPUTE_NODES[key] = uuids
    held = [uuid for uuid in uuids if uuid in allocations]
    if len(held) != 1:
        raise LookupError(
            'the allocations of migration %s hold %d compute nodes of the '
            'source host %s' % (migration.migration_uuid, len(held),
                                migration.source_host))
    return held[0]
