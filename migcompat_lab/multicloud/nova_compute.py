"""nova-compute with the multi-process cloud's driver.

Nova loads ``[DEFAULT]compute_driver`` from the ``nova.virt`` package
only (``nova.virt.driver.load_compute_driver``); this launcher makes
``migcompat_lab.multicloud.driver`` importable there as
``nova.virt.migcompat_multicloud`` and runs nova-compute's own ``main``
(``compute_driver = migcompat_multicloud.VGPUFakeDriver``).
"""

import sys

from nova.cmd import compute  # noqa: I100 (monkey-patches first)

from migcompat_lab.multicloud import driver

MODULE = 'nova.virt.migcompat_multicloud'
COMPUTE_DRIVER = 'migcompat_multicloud.VGPUFakeDriver'


def main():
    sys.modules[MODULE] = driver
    return compute.main()
