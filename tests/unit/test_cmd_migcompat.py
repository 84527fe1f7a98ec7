"""The operator tool's decode and encode commands, run as a user would."""

import json

from nova_migcompat.cmd import migcompat
from nova_migcompat import codec
from tests import samples

GVT = samples.GVT
DESCRIPTOR = samples.NVIDIA_21


def run(capsys, *argv):
    status = migcompat.main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_encode_then_decode_round_trips(capsys):
    status, out, _ = run(capsys, 'encode', '--format', 'json', DESCRIPTOR)
    assert status == 0
    encoded = json.loads(out)
    assert encoded['src_trait'].startswith('CUSTOM_MIGCOMPAT_SRC_1')
    status, out, _ = run(capsys, 'decode', '--format', 'json',
                         encoded['src_trait'], encoded['acc_trait'])
    assert status == 0
    src, acc = json.loads(out)
    assert src['string'] == acc['string'] == DESCRIPTOR
    assert (src['role'], acc['role']) == ('SRC', 'ACC')
    assert src['format'] == 'json'
    assert src['summary'] == 'nvidia 2.1 10de:1eb8 nvidia-35'


def test_decode_table_explains_the_string(capsys):
    trait = codec.trait(codec.ACC, codec.encode(GVT))
    status, out, _ = run(capsys, 'decode', trait)
    assert status == 0
    assert 'accepted by (ACC)' in out
    assert 'string: %s' % GVT in out
    assert 'i915 1.0 8086:591d i915-GVTg_V5_8' in out


def test_decode_bad_trait_says_what_is_wrong(capsys):
    good = codec.trait(codec.SRC, codec.encode(GVT))
    status, out, _ = run(capsys, 'decode', 'CUSTOM_GPU_FAST', good,
                         'CUSTOM_MIGCOMPAT_SRC_9ZZZ')
    assert status == 1
    assert 'CUSTOM_GPU_FAST\n  error: ' in out
    assert 'unknown codec version' in out
    # The good trait in the middle is still decoded.
    assert 'string: %s' % GVT in out


def test_encode_refuses_invalid_strings(capsys):
    status, out, err = run(capsys, 'encode', 'caf\u00e9')
    assert status == 1
    assert 'non-ASCII' in err
    assert out == ''


def test_devices_table_of_a_sysfs_root(capsys, emulated_sysfs):
    fs = emulated_sysfs('no-attributes')
    status, out, _ = run(capsys, 'devices', '--sysfs-root', str(fs.root))
    assert status == 0
    assert '| 0000:5e:00.1 ' in out
    assert 'synthesized' in out
    assert 'mlx5_vfio_pci 24.7 15b3:101e' in out
    assert 'trait:  CUSTOM_MIGCOMPAT_SRC_1' in out
    # Listing reads only.
    assert fs.writes() == []


def test_devices_check_asks_each_devices_source(capsys, emulated_sysfs):
    fs = emulated_sysfs(samples.keyvalue_readonly_spec())
    status, out, _ = run(capsys, 'devices', '--sysfs-root', str(fs.root),
                         '--check', '--format', 'json')
    assert status == 0
    data = json.loads(out)
    origins = {d['name']: (d['origin'], d['format']) for d in data['devices']}
    assert origins['0000:00:02.0/i915-GVTg_V5_2'] == ('read-only attribute',
                                                      'keyvalue')
    checks = {row['target']: row['results'] for row in data['check']}
    row = checks['0000:00:02.0/i915-GVTg_V5_2']
    assert row['0000:00:03.0/i915-GVTg_V5_8']['result'] == 'accepts'
    assert row['0000:00:04.0/i915-GVTg_V5_16']['result'] == 'refuses'
    # Read-only attributes are matched, never written.
    assert fs.writes() == []
