"""A FUSE-emulated sysfs for tests and the demo.

It emulates the kernel side of the ``migration_version`` interface: device
trees described declaratively (spec.py), laid out like sysfs (tree.py),
served by an mfusepy file system (fs.py) in a child process (mount.py).
It imports nothing else from nova_migcompat, so that the code it tests can
fail against it.
"""

from migcompat_lab.emulation.mount import EmulatedSysfs  # noqa: F401
from migcompat_lab.emulation.mount import EmulationError  # noqa: F401
from migcompat_lab.emulation.spec import example_names  # noqa: F401
from migcompat_lab.emulation.spec import load  # noqa: F401
from migcompat_lab.emulation.spec import load_example  # noqa: F401
from migcompat_lab.emulation.spec import Spec  # noqa: F401
from migcompat_lab.emulation.spec import SpecError  # noqa: F401
