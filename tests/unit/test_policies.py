"""Tests of the acceptance policies and the policy loader."""

import json

import hypothesis
from hypothesis import strategies as st
import pytest

from nova_migcompat import exception
from nova_migcompat.formats import loader as formats
from nova_migcompat import policies
from nova_migcompat.policies import base
from nova_migcompat.policies import keyvalue
from nova_migcompat.policies import loader
from nova_migcompat.policies import rules
from tests import samples


def _descriptor(version='2.1', driver='nvidia', pci=(0x10de, 0x1eb8),
                mdev_type='nvidia-35', attrs=None, fields=None,
                device_api='vfio-pci'):
    major, minor = (int(part) for part in version.split('.'))
    mdev_attrs = [{'mdev_type': mdev_type}] if mdev_type else []
    mdev_attrs += [{k: v} for k, v in (attrs or {}).items()]
    doc = {'device_api': device_api, 'vendor': driver,
           'version': {'major': major, 'minor': minor},
           device_api: {'vendor': pci[0], 'device': pci[1]},
           'mdev_attrs': mdev_attrs,
           'vendor_fields': [{k: v} for k, v in (fields or {}).items()]}
    return formats.parse(json.dumps(doc))


def _rules(source, target):
    return rules.RulePolicy().decide(source, target)


# -- rules -------------------------------------------------------------------

def test_rules_accept_same_descriptor():
    assert _rules(_descriptor(), _descriptor()) == base.Decision(
        True, 'driver nvidia 2.1 accepts 2.1')


def test_rules_accept_newer_target_minor():
    decision = _rules(_descriptor('1.3'), _descriptor('1.7'))
    assert decision == base.Decision(True, 'driver nvidia 1.7 accepts 1.3')


@pytest.mark.parametrize('source, target, reason', [
    (_descriptor('2.0'), _descriptor('1.3'),
     'driver nvidia 1.3 cannot accept 2.0: major version differs'),
    (_descriptor('1.3'), _descriptor('2.3'),
     'driver nvidia 2.3 cannot accept 1.3: major version differs'),
    (_descriptor('1.3'), _descriptor('1.1'),
     'driver nvidia: target minor 1.1 is older than source 1.3'),
    (_descriptor(driver='i915'), _descriptor(),
     'driver i915 != nvidia'),
    (_descriptor(device_api='vfio-ccw'), _descriptor(),
     'device API vfio-ccw != vfio-pci'),
    (_descriptor(), _descriptor(pci=(0x10de, 0x1db4)),
     'PCI device 10de:1eb8 != 10de:1db4'),
    (_descriptor(), _descriptor(mdev_type='nvidia-36'),
     'mdev type nvidia-35 != nvidia-36'),
    (_descriptor(), _descriptor(mdev_type=None),
     'mdev type nvidia-35 != none'),
    (_descriptor(attrs={'heads': '4'}), _descriptor(attrs={'heads': '2'}),
     'attributes differ: heads=4 != 2'),
    (_descriptor(attrs={'heads': '4'}), _descriptor(),
     'attributes differ: heads=4 != (absent)'),
    (_descriptor(fields={'build': 'abc'}),
     _descriptor(fields={'build': 'def'}),
     'vendor_fields differ: build=abc != def'),
    (_descriptor(fields={'build': 'abc'}),
     _descriptor(fields={'build': 'abc', 'seed': 1}),
     'vendor_fields differ: seed=(absent) != 1'),
])
def test_rules_refuse(source, target, reason):
    assert _rules(source, target) == base.Decision(False, reason)


def test_rules_identity_is_checked_before_version():
    decision = _rules(_descriptor('2.0', mdev_type='nvidia-36'),
                      _descriptor('1.0'))
    assert decision.reason == 'mdev type nvidia-36 != nvidia-35'


def test_rules_pci_ids_missing_on_one_side():
    source = formats.parse('{"vendor": "nvidia", "version": '
                           '{"major": 1, "minor": 0}}')
    decision = _rules(source, _descriptor('1.0', mdev_type=None,
                                          device_api='vfio-pci'))
    assert decision == base.Decision(False, 'device API none != vfio-pci')


@pytest.mark.parametrize('source, target, decision', [
    ('nvidia-abc', 'nvidia-abc', base.Decision(True, 'identical strings')),
    ('nvidia-abc', 'nvidia-abd', base.Decision(False,
                                               'opaque strings differ')),
    ('nvidia-abc', 'i915-v1-8086-591d-i915-GVTg_V5_8-1',
     base.Decision(False, 'opaque strings differ')),
])
def test_rules_opaque_strings(source, target, decision):
    assert _rules(formats.parse(source), formats.parse(target)) == decision


def test_rules_apply_to_structured_opaque_strings():
    source = formats.parse('i915-v2-8086-591d-i915-GVTg_V5_8-1')
    target = formats.parse('i915-v1-8086-591d-i915-GVTg_V5_8-1')
    assert _rules(source, target) == base.Decision(
        False, 'driver i915 1.0 cannot accept 2.0: major version differs')
    assert _rules(target, target).accepts is True


@pytest.mark.parametrize('source, target, reason', [
    ('nvidia-abc', None, 'rules cannot tell: source has no version'),
    (None, 'nvidia-abc', 'rules cannot tell: target has no version'),
    ('{"device_api": "vfio-pci"}', None,
     'rules cannot tell: source has no driver, source has no version'),
    ('self:\n driver=nvidia\n software_version=2.1\n', None,
     'rules cannot tell: keyvalue string against json string'),
])
def test_rules_cannot_tell(source, target, reason):
    source = formats.parse(source) if source else _descriptor()
    target = formats.parse(target) if target else _descriptor()
    assert _rules(source, target) == base.Decision(None, reason)


def test_rules_apply_to_keyvalue_strings():
    source = formats.parse('self:\n driver=nvidia\n software_version=2.3\n'
                           ' mdev_type=nvidia-35\n')
    target = formats.parse('self:\n driver=nvidia\n software_version=2.1\n'
                           ' mdev_type=nvidia-35\n')
    assert _rules(target, source).accepts is True
    assert _rules(source, target) == base.Decision(
        False, 'driver nvidia: target minor 2.1 is older than source 2.3')


_VERSIONS = st.tuples(st.integers(0, 5), st.integers(0, 5))


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(_VERSIONS, _VERSIONS)
def test_rules_version_property(source_version, target_version):
    source = _descriptor('%d.%d' % source_version)
    target = _descriptor('%d.%d' % target_version)
    decision = _rules(source, target)
    expected = (source_version[0] == target_version[0]
                and target_version[1] >= source_version[1])
    assert decision.accepts is expected
    assert ('%d.%d' % target_version) in decision.reason


# -- key=value ---------------------------------------------------------------

THREAD_SOURCE = """self:
    device_type=pci
    device_id={device_id}
    mdev_type=i915-GVTg_V5_{mdev}
    aggregator={aggregator}
    interface_version={version}
"""


def _kv_source(mdev='2', aggregator='1', version='3',
               device_id='8086591d'):
    return formats.parse(THREAD_SOURCE.format(
        mdev=mdev, aggregator=aggregator, version=version,
        device_id=device_id))


def _kv(source, target=None):
    return keyvalue.KeyValuePolicy().decide(
        source, target or formats.parse(samples.THREAD_KEYVALUE))


def test_keyvalue_thread_example_accepts():
    assert _kv(_kv_source()) == base.Decision(
        True, 'compatible section 1: all 5 keys match (val1=2, val3=3)')
    assert _kv(_kv_source('8', '4', '2')).accepts is True


@pytest.mark.parametrize('source, reason', [
    (_kv_source('16'),
     'mdev_type i915-GVTg_V5_16 not in i915-GVTg_V5_{1,2,4,8}'),
    (_kv_source('8', '2'), 'aggregator 2 != 4 ({val1}/2 with val1=8)'),
    (_kv_source(version='4'), 'interface_version 4 not in {2,3}'),
    (_kv_source(device_id='8086591e'), 'device_id 8086591e != 8086591d'),
])
def test_keyvalue_thread_example_refuses(source, reason):
    assert _kv(source) == base.Decision(False, reason)


def test_keyvalue_mapped_self_keys_are_matched_exactly():
    # device_id and mdev_type are mapped to ParsedString fields; the
    # policy must still see them under their own keys.
    source = _kv_source(device_id='0x8086591d')
    assert (source.pci_vendor, source.pci_device) == (0x8086, 0x591d)
    assert _kv(source) == base.Decision(
        False, 'device_id 0x8086591d != 8086591d')


def test_keyvalue_closest_of_several_sections():
    target = formats.parse(
        'self:\n a=1\n'
        'compatible:\n a=9\n b=1\n c=1\n'
        'compatible:\n a=1\n b=1\n c={v:int:2,3}\n'
        'compatible:\n a=1\n b=2\n')
    source = formats.parse('self:\n a=1\n b=1\n c=4\n')
    assert _kv(source, target) == base.Decision(
        False, 'no compatible section matches; closest (section 2):'
        ' c 4 not in {2,3}')
    source = formats.parse('self:\n a=1\n b=2\n c=4\n')
    assert _kv(source, target) == base.Decision(
        True, 'compatible section 3: all 2 keys match')


@pytest.mark.parametrize('source, target, reason', [
    ('nvidia-1', None, 'keyvalue policy cannot tell: source is a opaque'
     ' string'),
    (None, '{"vendor": "x"}', 'keyvalue policy cannot tell: target is a'
     ' json string'),
    (None, 'self:\n a=1\n', 'keyvalue policy cannot tell: target has no'
     ' compatible: section'),
])
def test_keyvalue_cannot_tell(source, target, reason):
    source = formats.parse(source) if source else _kv_source()
    target = formats.parse(target) if target else None
    assert _kv(source, target) == base.Decision(None, reason)


# -- loader: the policy of the target string's format decides -------------

def test_get_policy_loads_and_caches():
    policy = loader.get_policy('rules')
    assert isinstance(policy, rules.RulePolicy)
    assert loader.get_policy('rules') is policy
    assert isinstance(loader.get_policy('keyvalue'), keyvalue.KeyValuePolicy)


def test_get_policy_unknown():
    with pytest.raises(exception.MigCompatError,
                       match=r"unknown acceptance policy 'nope' "
                             r"\(installed: keyvalue, rules\)"):
        loader.get_policy('nope')


@pytest.mark.parametrize('fmt, name', [
    ('json', 'rules'), ('opaque', 'rules'), ('keyvalue', 'keyvalue'),
    ('yaml', None)])
def test_each_format_has_its_policy(fmt, name):
    policy = policies.policy_for(fmt)
    assert (policy and policy.name) == name


def _kv_text(mdev='2', aggregator='1', version='3'):
    return THREAD_SOURCE.format(mdev=mdev, aggregator=aggregator,
                                version=version, device_id='8086591d')


@pytest.mark.parametrize('source, target, accepts, reason', [
    # key=value target: its compatible sections decide.
    (_kv_text(), samples.THREAD_KEYVALUE, True, 'compatible section 1'),
    (_kv_text('16'), samples.THREAD_KEYVALUE, False,
     'mdev_type i915-GVTg_V5_16 not in'),
    # JSON target: the rules.
    (samples.NVIDIA_20, samples.NVIDIA_21, True,
     'driver nvidia 2.1 accepts 2.0'),
    (samples.NVIDIA_23, samples.NVIDIA_21, False, 'older than source'),
    # Opaque target: the rules (identical or structured strings).
    ('nvidia-abc', 'nvidia-abd', False, 'opaque strings differ'),
    # Identical strings of any format, even one no policy can judge.
    (samples.THREAD_KEYVALUE.split('compatible')[0],
     samples.THREAD_KEYVALUE.split('compatible')[0], True,
     'identical strings'),
    # Different formats: no policy can tell.
    (samples.NVIDIA_21, samples.THREAD_KEYVALUE, None,
     'cannot tell: a json string against a keyvalue string'),
    (_kv_text(), samples.NVIDIA_21, None,
     'cannot tell: a keyvalue string against a json string'),
    # A source the target cannot even parse is refused.
    ('{"device_api": [', samples.NVIDIA_21, False, 'cannot compare'),
])
def test_decide_by_the_target_format(source, target, accepts, reason):
    decision = policies.decide(source, target)
    assert decision.accepts is accepts
    assert reason in decision.reason
