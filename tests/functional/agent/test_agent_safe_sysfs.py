"""nova-migcompat-agent --once publishes only what this host verified.

Through the command line and real placement: an unusable sysfs root fails
the cycle and withdraws nothing; a ``migration_version`` that is a link is
not published; a mount whose path is not UTF-8 does not stop the check.
"""

import pytest

from migcompat_lab.emulation import mount
from nova_migcompat.cmd import agent
from nova_migcompat import codec
from tests.functional.agent import test_agent

PGPUS = test_agent.PGPUS
VF_DIR = 'devices/pci0000:3b/0000:3b:00.1'


def once(tmp_path, placement_api, root, nodename='node-a'):
    conf = test_agent.write_conf(tmp_path, placement_api, root,
                                 nodename=nodename)
    return agent.main(['--config-file', conf, '--once'])


def all_traits(placement_api, tree):
    return {name: placement_api.traits(uuid) for name, uuid in tree.items()}


def strings(traits, kind=codec.SRC):
    found = set()
    for name in traits:
        parsed = codec.parse_trait(name)
        if parsed and parsed[0] == kind:
            found.add(codec.decode_trait(name)[2])
    return found


@pytest.mark.parametrize('where', ['empty', 'plain', 'not-the-top',
                                   'missing'])
def test_unusable_root_fails_and_withdraws_nothing(tmp_path, placement_api,
                                                   emulated_sysfs, capsys,
                                                   where):
    tree = placement_api.create_compute('node-a', PGPUS)
    fs = emulated_sysfs('nvidia-a')
    assert once(tmp_path, placement_api, fs.root) == 0
    before = all_traits(placement_api, tree)
    assert strings(before['node-a_pci_0000_81_00_0'])
    if where == 'empty':
        root = tmp_path / 'empty'
        root.mkdir()
    elif where == 'plain':
        # Laid out like sysfs, but a plain directory (not mounted).
        root = tmp_path / 'plain'
        (root / 'bus' / 'pci' / 'devices').mkdir(parents=True)
        (root / 'class' / 'mdev_bus').mkdir(parents=True)
    elif where == 'not-the-top':
        root = fs.path('devices')
    else:
        root = tmp_path / 'missing'
    capsys.readouterr()
    assert once(tmp_path, placement_api, root) == 1
    assert all_traits(placement_api, tree) == before
    # Once (it used to be logged by the reporter and by the agent).
    failures = [line for line in capsys.readouterr().err.splitlines()
                if 'Reporting cycle failed' in line]
    assert len(failures) == 1
    assert 'ERROR nova_migcompat.cmd.agent ' in failures[0]
    assert ('Reporting cycle failed (%s: sysfs root ' % root) in failures[0]


def test_migration_version_link_is_not_published(tmp_path, placement_api,
                                                 emulated_sysfs,
                                                 example_spec):
    tree = placement_api.create_compute('node-q')
    spec = example_spec('sriov-vf')
    spec['modules']['qat_vfio_pci'] = {'version': 'qat-from-a-link'}
    spec['links'] = {VF_DIR + '/migration_version':
                     '../../../module/qat_vfio_pci/version'}
    fs = emulated_sysfs(spec)
    # The linked device is a device problem; the other VF is published.
    assert once(tmp_path, placement_api, fs.root, 'node-q') == 3
    published = strings(placement_api.traits(tree['node-q']))
    assert published == {'qat-8086-4941-drv-1.2-sym;asym;dc'}
    assert 'qat-from-a-link' not in strings(placement_api.all_traits())
    # Nothing was written through the link.
    assert not [w for w in fs.writes() if w['op'] == 'write' and
                w['path'].startswith('/module/')]


def test_mount_that_is_not_utf8_does_not_stop_the_agent(tmp_path,
                                                        placement_api,
                                                        emulated_sysfs):
    tree = placement_api.create_compute('node-q')
    fs = emulated_sysfs('sriov-vf')
    other = mount.EmulatedSysfs({'host': 'x', 'pci': []},
                                str(tmp_path) + '/\udcff\udcfe mount',
                                workdir=tmp_path / 'other.work')
    other.start()
    try:
        assert once(tmp_path, placement_api, fs.root, 'node-q') == 0
    finally:
        other.stop()
    traits = placement_api.traits(tree['node-q'])
    assert strings(traits, codec.ACC) == {
        'qat-8086-4941-drv-1.2-sym;asym;dc'}
