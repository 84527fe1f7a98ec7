"""``nova-migcompat status``: the scheduler filter check, from nova.conf."""

import pytest

from nova_migcompat.cmd import migcompat
from nova_migcompat import status

PATH = status.FILTER_PATHS[1]
ALL = status.NOVA_FILTERS


class Options(object):
    config_dir = None

    def __init__(self, path):
        self.config_file = [path]


@pytest.fixture
def check(tmp_path):
    confs = []

    def check(text):
        path = tmp_path / 'nova.conf'
        path.write_text(text)
        conf = migcompat.load_config(Options(str(path)))
        confs.append(conf)
        return status.check_filter(conf, [str(path)])
    yield check
    for conf in confs:
        conf.reset()


@pytest.mark.parametrize('available', [PATH, status.FILTER_PATHS[0]])
def test_enabled_and_available(check, available):
    result = check('[filter_scheduler]\navailable_filters = %s\n'
                   'available_filters = %s\nenabled_filters = '
                   'ComputeFilter,MigrationCompatibilityFilter\n'
                   % (ALL, available))
    assert result.code == status.SUCCESS


def test_a_compute_hosts_nova_conf(check):
    result = check('[DEFAULT]\ncompute_driver = libvirt.LibvirtDriver\n')
    assert result.code == status.WARNING
    assert 'does not set [filter_scheduler]enabled_filters' in \
        result.details


def test_not_enabled(check):
    result = check('[filter_scheduler]\navailable_filters = %s\n'
                   'available_filters = %s\nenabled_filters = '
                   'ComputeFilter\n' % (ALL, PATH))
    assert result.code == status.FAILURE
    assert 'is not in [filter_scheduler]enabled_filters' in result.details


def test_enabled_but_not_available(check):
    # nova-scheduler would not start.
    result = check('[filter_scheduler]\nenabled_filters = '
                   'MigrationCompatibilityFilter\n')
    assert result.code == status.FAILURE
    assert 'nova-scheduler cannot load MigrationCompatibilityFilter' in \
        result.details


def test_novas_own_filters_lost(check):
    # A multi-valued option set once replaces its default: nova-scheduler
    # does not start.
    result = check('[filter_scheduler]\navailable_filters = %s\n'
                   'enabled_filters = ComputeFilter,'
                   'MigrationCompatibilityFilter\n' % PATH)
    assert result.code == status.FAILURE
    assert "nova's own filters in enabled_filters (ComputeFilter)" in \
        result.details


def test_no_nova_conf():
    result = status.check_filter(None, [])
    assert result.code == status.WARNING
    assert 'no nova.conf was read' in result.details


@pytest.mark.parametrize('nodename, code', [(True, status.WARNING),
                                            (False, status.SUCCESS)])
def test_local_agent_without_a_last_cycle(tmp_path, nodename, code):
    # A compute host (its agent's nodename is set) whose agent never
    # completed a cycle is a warning; a scheduler host is not.
    path = tmp_path / 'nova.conf'
    path.write_text('[migcompat]\nstate_path = %s\n%s'
                    % (tmp_path / 'state',
                       'nodename = compute1\n' if nodename else ''))
    conf = migcompat.load_config(Options(str(path)))
    try:
        result = status.check_local_agent(conf)
    finally:
        conf.reset()
    assert result.code == code, result
