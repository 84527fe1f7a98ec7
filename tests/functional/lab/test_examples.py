"""The bundled example trees, listed by the operator's own command.

``python -m migcompat_lab.emulation devices`` mounts each tree and runs
``nova-migcompat devices`` on it in a separate process.
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
    host = json.loads(result.stdout)
    by_name = {d['name']: d for d in host['devices']}
    gvt8 = by_name['0000:00:02.0/i915-GVTg_V5_8']
    assert gvt8['string'] == samples.GVT
    assert gvt8['origin'] == 'attribute'
    assert gvt8['format'] == 'opaque'
    assert codec.decode_trait(gvt8['src_trait'])[2] == samples.GVT
    # The kernel (emulated i915) accepts exactly its own string.
    checks = {row['target']: row['results'] for row in host['check']}
    assert checks['0000:00:02.0/i915-GVTg_V5_8'][
        '0000:00:02.0/i915-GVTg_V5_8']['result'] == 'accepts'
    assert checks['0000:00:02.0/i915-GVTg_V5_8'][
        '0000:00:02.0/i915-GVTg_V5_4']['result'] == 'refuses'


def test_unknown_example_is_a_clear_error():
    result = lab_devices('nope')
    assert result.returncode == 2
    assert 'invalid spec' in result.stderr and 'nope' in result.stderr
    assert 'Traceback' not in result.stderr
