"""The bundled example trees, listed by the operator's own command.

``python -m migcompat_lab.emulation devices`` mounts each tree and runs
``nova-migcompat device list`` (and ``device check``) on it in a separate
process.
"""

import json
import subprocess
import sys

from nova_migcompat import codec
from tests import samples


def lab_devices(*args):
    return subprocess.run(
        [sys.executable, '-m', 'migcompat_lab.emulation', 'devices'] +
        list(args), capture_output=True, text=True, timeout=120)


def test_devices_of_a_bundled_example():
    result = lab_devices('intel-gvt', '--check', '--format', 'json')
    assert result.returncode == 0, result.stderr
    [host] = json.loads(result.stdout)
    assert host['example'] == 'intel-gvt'
    by_name = {d['Device']: d for d in host['list']}
    gvt8 = by_name['0000:00:02.0/i915-GVTg_V5_8']
    assert gvt8['String'] == samples.GVT
    assert gvt8['Origin'] == 'attribute'
    assert gvt8['Format'] == 'opaque'
    assert codec.decode_trait(gvt8['SRC trait'])[2] == samples.GVT
    # The kernel (emulated i915) accepts exactly its own string.
    checks = {(row['Target'], row['String of']): row['Result']
              for row in host['check']}
    gvt8, gvt4 = '0000:00:02.0/i915-GVTg_V5_8', '0000:00:02.0/i915-GVTg_V5_4'
    assert checks[(gvt8, gvt8)] == 'accepts'
    assert checks[(gvt8, gvt4)] == 'refuses'


def test_devices_tables_of_every_example():
    result = lab_devices()
    assert result.returncode == 0, result.stderr
    assert '== sriov-vf: nova-migcompat device list (' in result.stdout
    assert '| Device ' in result.stdout


def test_unknown_example_is_a_clear_error():
    result = lab_devices('nope')
    assert result.returncode == 2
    assert 'invalid spec' in result.stderr and 'nope' in result.stderr
    assert 'Traceback' not in result.stderr
