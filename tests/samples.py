"""Compatibility strings of the 2020 kernel thread, shared by the tests."""

#: Intel GVT-g, the proposal's opaque vendor string.
GVT = 'i915-v1-8086-591d-i915-GVTg_V5_8-1'

#: The JSON descriptor of Alex Williamson's reply, as the nvidia-a example
#: reports it (driver 2.1; 4318/7864 = 0x10de/0x1eb8).
NVIDIA_21 = ('{"device_api":"vfio-pci","vendor":"nvidia",'
             '"version":{"major":2,"minor":1},'
             '"vfio-pci":{"vendor":4318,"device":7864},'
             '"mdev_attrs":[{"mdev_type":"nvidia-35"}]}')
NVIDIA_20 = NVIDIA_21.replace('"minor":1', '"minor":0')
NVIDIA_23 = NVIDIA_21.replace('"minor":1', '"minor":3')
NVIDIA_30 = NVIDIA_21.replace('"major":2,"minor":1', '"major":3,"minor":0')
NVIDIA_31 = NVIDIA_21.replace('"major":2', '"major":3')

#: The self/compatible key=value form of the August 2020 RFC.
THREAD_KEYVALUE = """self:
    device_type=pci
    device_id=8086591d
    mdev_type=i915-GVTg_V5_2
    aggregator=1
    interface_version=3
compatible:
    device_type=pci
    device_id=8086591d
    mdev_type=i915-GVTg_V5_{val1:int:1,2,4,8}
    aggregator={val1}/2
    interface_version={val3:int:2,3}
"""

#: What a device of the August 2020 revision shows in a READ-ONLY
#: migration_version: its own ``self`` and the ``compatible`` rule of the
#: thread.  Userspace matches them; the kernel takes no writes.
_KEYVALUE_COMPATIBLE = """compatible:
    device_type=pci
    device_id=8086591d
    mdev_type=i915-GVTg_V5_{val1:int:1,2,4,8}
    aggregator={val1}/2
    interface_version={val3:int:2,3}
"""
_KEYVALUE_SELF = """self:
    device_type=pci
    device_id=8086591d
    mdev_type=i915-GVTg_V5_%d
    aggregator=%d
    interface_version=%d
"""
#: THREAD_KEYVALUE itself: type _2, aggregator 1, interface version 3.
KEYVALUE_V5_2 = THREAD_KEYVALUE
#: Matches the compatible section of the others: val1=8, 8/2=4, version 2.
KEYVALUE_V5_8 = _KEYVALUE_SELF % (8, 4, 2) + _KEYVALUE_COMPATIBLE
#: A type no compatible section lists.
KEYVALUE_V5_16 = _KEYVALUE_SELF % (16, 8, 3) + _KEYVALUE_COMPATIBLE


def keyvalue_readonly_spec(host='kv-host'):
    """Three i915 parents whose types have read-only key=value strings."""
    pci = []
    for slot, (number, text) in enumerate(((2, KEYVALUE_V5_2),
                                           (8, KEYVALUE_V5_8),
                                           (16, KEYVALUE_V5_16)), 2):
        pci.append({
            'address': '0000:00:%02x.0' % slot, 'vendor': 0x8086,
            'device': 0x591d, 'class': 0x030000, 'driver': 'i915',
            'mdev_types': [{
                'name': 'i915-GVTg_V5_%d' % number,
                'migration_version': {'string': text.rstrip('\n'),
                                      'policy': None,
                                      'mode': '0444'}}]})
    return {'host': host, 'pci': pci}
