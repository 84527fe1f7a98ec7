"""The options render through oslo-config-generator, as tox -e genconfig."""

import io

from oslo_config import generator
import pytest


@pytest.mark.parametrize('namespace,groups', [
    ('nova_migcompat', ['[migcompat]']),
    ('nova_migcompat.agent', ['[migcompat]', '[placement]']),
])
def test_sample_config_generates(namespace, groups):
    conf = generator.cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf(['--namespace', namespace], default_config_files=[])
    out = io.StringIO()
    generator.generate(conf, output_file=out)
    text = out.getvalue()
    for group in groups:
        assert group in text
    assert '#sysfs_root = /sys' in text
    assert '#nodename = <the host name>' in text
    assert '#interval = 60' in text
