"""nova-migcompat-agent as an operator runs it: --once, --dry-run, daemon.
"""

import os
import signal

from nova_migcompat.cmd import agent
from nova_migcompat import codec
from tests import samples

PGPUS = ('0000:81:00.0', '0000:82:00.0')


def write_conf(tmp_path, placement_api, sysfs_root, nodename='node-a',
               **extra):
    path = tmp_path / 'nova.conf'
    lines = ['[placement]', 'auth_type = admin_token',
             'endpoint = %s' % placement_api.endpoint, 'token = admin',
             'endpoint_override = %s' % placement_api.endpoint, '',
             '[migcompat]', 'nodename = %s' % nodename,
             'sysfs_root = %s' % sysfs_root, 'interval = 5',
             'lock_path = %s' % (tmp_path / 'agent.lock')]
    extra.setdefault('state_path', tmp_path / 'state')
    lines += ['%s = %s' % item for item in extra.items()]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_once_publishes_and_exits_0(tmp_path, placement_api,
                                    emulated_sysfs):
    tree = placement_api.create_compute('node-a', PGPUS)
    fs = emulated_sysfs('nvidia-a')
    conf = write_conf(tmp_path, placement_api, fs.root)
    assert agent.main(['--config-file', conf, '--once']) == 0
    traits = placement_api.traits(tree['node-a_pci_0000_81_00_0'])
    assert any(t.startswith(codec.SRC_PREFIX) for t in traits)


def test_once_without_root_provider_exits_1(tmp_path, placement_api,
                                            emulated_sysfs):
    conf = write_conf(tmp_path, placement_api,
                      emulated_sysfs('nvidia-a').root)
    assert agent.main(['--config-file', conf, '--once']) == 1


def test_once_with_an_unreadable_device_exits_3(tmp_path, placement_api,
                                                emulated_sysfs,
                                                example_spec):
    placement_api.create_compute('node-a', PGPUS)
    spec = example_spec('nvidia-a')
    spec['pci'][1]['mdev_types'][0]['migration_version'][
        'read_error'] = 'EIO'
    conf = write_conf(tmp_path, placement_api, emulated_sysfs(spec).root)
    assert agent.main(['--config-file', conf, '--once']) == 3


def test_dry_run_needs_no_placement(tmp_path, emulated_sysfs, capsys):
    fs = emulated_sysfs('sriov-vf')
    path = tmp_path / 'agent.conf'
    path.write_text('[migcompat]\nnodename = node-q\nsysfs_root = %s\n'
                    % fs.root)
    assert agent.main(['--config-file', str(path), '--dry-run']) == 0
    out = capsys.readouterr().out
    assert 'Dry run for node node-q' in out
    assert '  S1  qat-8086-4941-drv-1.2-sym;asym;dc' in out
    assert 'Provider node-q\n' in out
    assert 'produces S1  (pci 0000:3b:00.1)' in out
    assert 'accepts  S1' in out
    # The target-side check ran through the emulated kernel path, once
    # per device (each device's own verdict is recorded).
    assert sorted(w['path'] for w in fs.writes() if w['op'] == 'write') == [
        '/devices/pci0000:3b/0000:3b:00.%d/migration_version' % fn
        for fn in (1, 2)]


class ProbedAgent(agent.Agent):
    """Signals itself from inside its cycles, as an operator would."""

    def __init__(self, conf, conf_path):
        super().__init__(conf)
        self.conf_path = conf_path
        self.reports = []
        self.mdev_types_seen = []

    def cycle(self):
        self.mdev_types_seen.append(sorted(self.reporter.mdev_types))
        report = super().cycle()
        self.reports.append(report)
        if len(self.reports) == 1:
            with open(self.conf_path, 'a') as f:
                f.write('mdev_types = nvidia-36\n')
            os.kill(os.getpid(), signal.SIGHUP)
        else:
            os.kill(os.getpid(), signal.SIGTERM)
        return report


def test_daemon_reloads_on_sighup_and_stops_on_sigterm(tmp_path,
                                                       placement_api,
                                                       emulated_sysfs):
    tree = placement_api.create_compute('node-a', PGPUS)
    fs = emulated_sysfs('nvidia-a')
    conf_path = write_conf(tmp_path, placement_api, fs.root)
    conf = agent.load_checked(['--config-file', conf_path])
    previous = {sig: signal.getsignal(sig)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    probe = ProbedAgent(conf, conf_path)
    try:
        assert probe.run_forever() == agent.EXIT_OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        conf.reset()
    assert len(probe.reports) == 2
    assert all(r.ok for r in probe.reports)
    # The second cycle ran with the reloaded configuration: only type
    # nvidia-36 is reported, which this host does not have, so its strings
    # and acceptances were withdrawn, and Nova's pGPU providers say that
    # the agent sees no device of them (their servers are refused).
    assert probe.mdev_types_seen == [[], ['nvidia-36']]
    assert probe.reports[1].changed == sorted(
        'node-a_pci_%s' % a.replace(':', '_').replace('.', '_')
        for a in PGPUS)
    for name, rp in tree.items():
        ours = {t for t in placement_api.traits(rp)
                if t.startswith(codec.PREFIX)}
        if name == 'node-a':
            assert sorted(codec.parse_trait(t)[0] for t in ours) == [
                codec.AGENT, codec.REPORTED]
        else:
            assert ours == {codec.nosrc_trait(codec.NO_DEVICE)}


def _dry_run(tmp_path, text):
    path = tmp_path / 'agent.conf'
    path.write_text(text)
    return agent.main(['--config-file', str(path), '--dry-run'])


def test_dry_run_judges_read_only_keyvalue_strings(tmp_path, emulated_sysfs,
                                                   capsys):
    # The August 2020 revision: migration_version is read-only and holds
    # self/compatible; userspace matches them, nothing is written.
    fs = emulated_sysfs(samples.keyvalue_readonly_spec())
    assert _dry_run(tmp_path, '[migcompat]\nnodename = node-k\n'
                    'sysfs_root = %s\n' % fs.root) == 0
    out = capsys.readouterr().out
    # S1, S2, S3: the strings of types _2, _8 and _16, in that order.
    assert 'produces S1  (mdev_type 0000:00:02.0/i915-GVTg_V5_2)' in out
    assert 'produces S3  (mdev_type 0000:00:04.0/i915-GVTg_V5_16)' in out
    first = out.split('Provider node-k_pci_0000_00_02_0\n')[1].split(
        '\nProvider')[0]
    assert first.split('\n')[1:4] == ['  accepts  S1', '  accepts  S2',
                                      '  refuses  S3']
    assert 'unknown' not in out
    assert [w for w in fs.writes() if w['op'] == 'write'] == []


def test_nova_enabled_mdev_types_choose_the_types(tmp_path, emulated_sysfs,
                                                  capsys):
    fs = emulated_sysfs('no-attributes')
    conf = ('[devices]\nenabled_mdev_types = nvidia-35\n\n[migcompat]\n'
            'nodename = node-n\nsysfs_root = %s\n' % fs.root)
    assert _dry_run(tmp_path, conf) == 0
    out = capsys.readouterr().out
    assert '(mdev_type 0000:81:00.0/nvidia-35)' in out
    assert 'nvidia-36' not in out
    # [migcompat]mdev_types, when set, wins.
    assert _dry_run(tmp_path, conf + 'mdev_types = nvidia-36\n') == 0
    out = capsys.readouterr().out
    assert '(mdev_type 0000:81:00.0/nvidia-36)' in out
    assert 'nvidia-35' not in out


def test_dry_run_of_an_unusable_root_is_one_line(tmp_path, capsys):
    root = tmp_path / 'not-sysfs'
    root.mkdir()
    assert _dry_run(tmp_path, '[migcompat]\nnodename = node-k\n'
                    'sysfs_root = %s\n' % root) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'Traceback' not in err
    assert err.startswith('nova-migcompat-agent: error: %s: sysfs root is '
                          % root)
