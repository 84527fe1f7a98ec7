"""The embedded demo: an in-process Nova + Placement fleet with emulated
devices, one live migration with the filter and one without.

Needs nova, openstack-placement and their functional test extras (the
``demo`` extra), and FUSE for the emulated sysfs.
"""
