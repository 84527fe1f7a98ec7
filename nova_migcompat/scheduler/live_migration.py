"""Tell a live-migration scheduling request apart, and find its source.

A RequestSpec carries no "this is a live migration" flag.  The API sets the
instance's task_state to ``migrating`` and the conductor creates a
``live-migration`` Migration in status ``accepted`` (it stays so across
scheduling retries) before it asks the scheduler; the conductor also sets
``requested_destination.cell``.  Boot requests have no cell, so they cost
nothing here.
"""

import dataclasses

from nova.compute import task_states
from nova import context as nova_context
from nova import objects


@dataclasses.dataclass(frozen=True)
class LiveMigration:
    instance_uuid: str
    #: The consumer that holds the instance's source allocations while it
    #: is being scheduled.
    migration_uuid: str
    #: The source compute node's uuid: its root resource provider.
    source_root: str
    #: The instance has PCI devices (host-level strings are required).
    has_pci: bool


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


def find(spec_obj):
    """The LiveMigration this request schedules, or None."""
    cell = _destination_cell(spec_obj)
    if cell is None or not spec_obj.obj_attr_is_set('instance_uuid'):
        return None
    uuid = spec_obj.instance_uuid
    # Never the request's own context: in production it is not targeted at
    # a cell and may belong to a non-admin user.
    ctxt = nova_context.get_admin_context()
    with nova_context.target_cell(ctxt, cell) as cctxt:
        instance = objects.Instance.get_by_uuid(cctxt, uuid,
                                                expected_attrs=[])
        if instance.task_state != task_states.MIGRATING:
            return None
        migrations = objects.MigrationList.get_by_filters(
            cctxt, {'instance_uuid': uuid,
                    'migration_type': 'live-migration',
                    'status': ['accepted']})
        if not migrations:
            return None
        migration = max(migrations, key=lambda m: m.id)
        # The migration's source_node is only set after scheduling.
        node = objects.ComputeNode.get_by_host_and_nodename(
            cctxt, instance.host, instance.node)
    return LiveMigration(
        instance_uuid=uuid, migration_uuid=migration.uuid,
        source_root=node.uuid, has_pci=_has_pci(spec_obj))
