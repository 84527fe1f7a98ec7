"""Shared pytest fixtures: configuration and FUSE-emulated sysfs trees.

``emulated_sysfs(spec)`` mounts a tree (a bundled example's name, a dict, a
path or a Spec) under the test's tmp_path and returns the running
EmulatedSysfs; at teardown it unmounts every tree and fails the test if
anything but a ``migration_version`` attribute saw a write attempt.  When
FUSE cannot be mounted the fixture raises: FUSE tests fail, never skip.

Nothing here imports Nova, nor anything at module level that Nova's test
framework must patch first (tests/functional/nova runs in its own pytest
session, with its own conftest).
"""

import json
import os

import hypothesis
import pytest


# No wall-clock deadlines (a loaded 2-core CI machine is slow, and tests
# never judge time); CI runs the same examples every time.
hypothesis.settings.register_profile('default', deadline=None)
hypothesis.settings.register_profile('ci', deadline=None, derandomize=True,
                                     print_blob=True)
hypothesis.settings.load_profile(
    os.environ.get('HYPOTHESIS_PROFILE') or
    ('ci' if os.environ.get('CI') else 'default'))


@pytest.fixture(autouse=True)
def _agent_files_in_tmp(tmp_path):
    """No test writes the agent's state or lock where a real agent would.

    The machine is shared: a configuration that does not name them gets
    the test's own directory instead of /var/lib and /run.
    """
    from nova_migcompat import conf as migcompat_conf
    from oslo_config import cfg

    opts = migcompat_conf.agent_opts
    saved = {opt.dest: opt.default for opt in opts
             if opt.dest in ('state_path', 'lock_path')}
    cfg.set_defaults(opts, state_path=str(tmp_path / 'default-state'),
                     lock_path=str(tmp_path / 'default-lock' / 'agent.lock'))
    yield
    cfg.set_defaults(opts, **saved)


@pytest.fixture
def conf():
    """A fresh configuration with the [migcompat] options."""
    from nova_migcompat import conf as migcompat_conf
    from oslo_config import cfg

    c = cfg.ConfigOpts()
    migcompat_conf.register_opts(c)
    c([], default_config_files=[])
    yield c
    # Overrides live on the shared option group objects: do not leak them.
    c.reset()


@pytest.fixture
def example_spec():
    """example_spec(name) -> a fresh, editable dict of an example tree."""
    from migcompat_lab.emulation import spec as spec_mod

    def load(name):
        return spec_mod.load_example(name).to_dict()
    return load


@pytest.fixture
def emulated_sysfs(tmp_path):
    """emulated_sysfs(spec) -> a mounted EmulatedSysfs (see the module)."""
    from migcompat_lab.emulation import mount

    started = []

    def start(spec='nvidia-a'):
        n = len(started)
        fs = mount.EmulatedSysfs(spec, tmp_path / ('sysfs%d' % n),
                                 workdir=tmp_path / ('sysfs%d.work' % n))
        started.append(fs)
        return fs.start()

    yield start
    problems = []
    errors = []
    for fs in started:
        try:
            fs.stop()
        except mount.EmulationError as e:
            errors.append(str(e))
        for event in fs.foreign_writes():
            problems.append('%s: %s' % (fs.root, json.dumps(event)))
    assert not errors, 'unmount failed: %s' % '; '.join(errors)
    assert not problems, ('write attempts on something other than a '
                          'migration_version attribute:\n%s'
                          % '\n'.join(problems))
