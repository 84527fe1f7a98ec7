"""The options render through oslo-config-generator, as tox -e genconfig."""

import io

from oslo_config import cfg
from oslo_config import generator
import pytest

from nova_migcompat.cmd import agent
from nova_migcompat import conf as migcompat_conf


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


def test_no_option_chooses_the_acceptance_policy():
    # The policy follows the string's format: no option value can send
    # every string to a policy that cannot judge it.
    names = {opt.name for _group, opts in migcompat_conf.list_opts()
             for opt in opts}
    assert 'acceptance_policy' not in names
    assert 'sysfs_root' in names


def test_agent_opts_are_documented_in_nova_style():
    for _group, opts in migcompat_conf.list_agent_opts()[:1]:
        for opt in opts:
            assert 'Possible values:' in opt.help, opt.name


def test_nova_enabled_mdev_types_when_mdev_types_is_unset(tmp_path):
    path = tmp_path / 'nova.conf'
    path.write_text('[devices]\nenabled_mdev_types = nvidia-35,nvidia-36\n')
    conf = agent.load_config(['--config-file', str(path)],
                             default_config_files=[])
    try:
        assert migcompat_conf.mdev_types(conf) == ['nvidia-35', 'nvidia-36']
        conf.set_override('mdev_types', ['nvidia-36'], 'migcompat')
        assert migcompat_conf.mdev_types(conf) == ['nvidia-36']
    finally:
        conf.reset()


def test_nova_option_already_registered_is_kept():
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.ListOpt('enabled_mdev_types', default=['x'],
                                  help="Nova's own"), group='devices')
    migcompat_conf.register_nova_device_opts(conf)
    conf([], default_config_files=[])
    assert conf.devices.enabled_mdev_types == ['x']
