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
