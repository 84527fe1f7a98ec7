"""Synthesized descriptors: stable, compact, in the thread's JSON shape."""

import json

import pytest

from nova_migcompat.agent import descriptor


@pytest.mark.parametrize('text,expected', [
    ('535.104.05', (535, 104)),
    ('2.1', (2, 1)),
    ('1', (1, 0)),
    ('v1.2.3-k', (1, 2)),
    ('', None),
    (None, None),
    ('unknown', None),
])
def test_parse_driver_version(text, expected):
    assert descriptor.parse_driver_version(text) == expected


def test_synthesize_mdev_type():
    text = descriptor.synthesize('vfio-pci', 'nvidia', '535.104.05',
                                 0x10de, 0x1eb8, 'nvidia-35')
    assert text == (
        '{"device_api":"vfio-pci","vendor":"nvidia",'
        '"version":{"major":535,"minor":104},'
        '"vfio-pci":{"vendor":4318,"device":7864},'
        '"mdev_attrs":[{"mdev_type":"nvidia-35"}]}')


def test_synthesize_without_version_or_ids():
    desc = json.loads(descriptor.synthesize('vfio-pci', 'vfio-pci'))
    assert desc == {'device_api': 'vfio-pci', 'vendor': 'vfio-pci'}


def test_same_facts_same_string():
    args = ('vfio-ccw', 'vfio_ccw', '1.0', None, None, 'vfio_ccw-io')
    assert descriptor.synthesize(*args) == descriptor.synthesize(*args)


def test_versionless_driver_carries_the_kernel_release():
    desc = json.loads(descriptor.synthesize(
        'vfio-pci', 'mlx5_vfio_pci', None, 0x15b3, 0x101e,
        kernel_release='6.8.0-45-generic'))
    assert desc['vendor_fields'] == [{'kernel': '6.8.0-45-generic'}]
    # With a version, the kernel does not matter.
    desc = json.loads(descriptor.synthesize(
        'vfio-pci', 'mlx5_vfio_pci', '24.07', 0x15b3, 0x101e,
        kernel_release='6.8.0-45-generic'))
    assert 'vendor_fields' not in desc
