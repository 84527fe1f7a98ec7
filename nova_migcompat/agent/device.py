"""The model of a migratable device, as device sources report it."""

import dataclasses
import typing

#: A type of an mdev parent: the target-side check can run against it
#: before any mdev of the type exists.
MDEV_TYPE = 'mdev_type'
#: An mdev instance (a vGPU given to an instance).
MDEV = 'mdev'
#: A PCI function (a PF, or an SR-IOV VF) assigned as a whole.
PCI = 'pci'

#: Where a device's string came from: a writable ``migration_version``
#: (the kernel write decides), a read-only one (the acceptance policy of
#: the string's format decides), or synthesized from sysfs facts (the
#: policy decides).
FROM_ATTRIBUTE = 'attribute'
FROM_READONLY = 'read-only attribute'
FROM_SYNTHESIS = 'synthesized'


@dataclasses.dataclass
class Device:
    """One device and its compatibility string.

    ``string`` is None when it could not be read; ``error`` then says why.
    ``attribute`` is the path of the writable ``migration_version``
    attribute, or None when the kernel cannot be asked (a read-only
    attribute, a synthesized descriptor).
    """

    kind: str
    #: Unique on the host: ``<parent>/<type>``, the mdev uuid, or the PCI
    #: address.
    name: str
    #: The device's sysfs directory, links resolved.
    path: str
    #: PCI address of the mdev parent, or of the PF of a VF.
    parent: typing.Optional[str] = None
    mdev_type: typing.Optional[str] = None
    attribute: typing.Optional[str] = None
    string: typing.Optional[str] = None
    origin: typing.Optional[str] = None
    #: Standard sysfs facts: vendor, device, driver, driver_version,
    #: device_api, type_name...
    facts: typing.Dict[str, str] = dataclasses.field(default_factory=dict)
    error: typing.Optional[str] = None
    #: Why the device cannot migrate its state at all, when its source
    #: says so (it then has no string, and its servers are refused).
    unmigratable: typing.Optional[str] = None
    #: The uuid of the instance the device is given to (an mdev, a VF),
    #: where its source can tell: its string is that instance's own.
    instance: typing.Optional[str] = None
    #: Where the device process keeps the device (see
    #: :mod:`~nova_migcompat.agent.device_process`): how a check names it.
    ref: typing.Optional[tuple] = dataclasses.field(
        default=None, compare=False, repr=False)

    @property
    def tracked(self):
        """True when the device has a string the check can use."""
        return (self.string is not None and self.error is None and
                self.unmigratable is None)
