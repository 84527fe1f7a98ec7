"""The lab: what proves nova-migcompat and is never installed with it.

The FUSE sysfs emulator and its example trees, the in-process Nova and
Placement cloud, the demo and the benchmark.  The lab imports the product;
the product never imports the lab.
"""
