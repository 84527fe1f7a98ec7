"""Run the DevStack plugin's phases on the multi-process cloud's files.

The cloud configures Nova the way ``devstack/plugin.sh`` does, by running
the plugin itself: its settings and one phase (``stack post-config``,
``stack extra``, ``stack test-config``) are sourced in bash with the few
devstack helpers of ``tests/unit/devstack_shim.sh`` (the helpers that act
on the machine - ``run_process``, ``setup_develop`` - only record their
call), against the cloud's nova.conf, nova-cpu.conf and tempest.conf.  The
cloud and the plugin cannot diverge: what the plugin writes is what the
services read, and the agent runs with the command line the plugin hands
to ``run_process``.
"""

import os
import shlex
import subprocess

from migcompat_lab.multicloud import procs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PLUGIN = os.path.join(REPO, 'devstack', 'plugin.sh')
SETTINGS = os.path.join(REPO, 'devstack', 'settings')
SHIM = os.path.join(REPO, 'tests', 'unit', 'devstack_shim.sh')

#: lib/nova's NOVA_FILTERS (devstack writes them to enabled_filters).
NOVA_FILTERS = ('ComputeFilter,ComputeCapabilitiesFilter,'
                'ImagePropertiesFilter,ServerGroupAntiAffinityFilter,'
                'ServerGroupAffinityFilter,SameHostFilter,DifferentHostFilter')


def run_phase(workdir, phase, localrc):
    """Source the settings and ``plugin.sh <phase...>`` in one bash.

    ``localrc``: the variables set before the settings (as local.conf's
    localrc section and devstack's own).  Returns the calls the shim
    recorded, as lists of fields (``['run_process', name, command, ...]``).
    """
    os.makedirs(workdir, exist_ok=True)
    log = os.path.join(workdir, 'devstack-calls-%s.log' % '-'.join(phase))
    open(log, 'w').close()
    lines = ['set -o errexit',
             'DEVSTACK_SHIM_LOG=%s' % shlex.quote(log),
             'source %s' % shlex.quote(SHIM)]
    lines += ['%s=%s' % (k, shlex.quote(str(v))) for k, v in localrc.items()]
    lines += ['source %s' % shlex.quote(SETTINGS),
              'source %s %s' % (shlex.quote(PLUGIN),
                                ' '.join(shlex.quote(p) for p in phase))]
    env = {k: v for k, v in os.environ.items()
           if k in ('PATH', 'HOME', 'LANG')}
    r = subprocess.run(['bash', '-c', '\n'.join(lines)], capture_output=True,
                       text=True, env=env, cwd=workdir, timeout=60)
    with open(os.path.join(workdir, 'devstack-%s.out' % '-'.join(phase)),
              'w') as f:
        f.write(r.stdout + r.stderr)
    if r.returncode:
        raise procs.StartError('devstack plugin %s failed: %s' % (
            ' '.join(phase), (r.stdout + r.stderr)[-1500:]))
    with open(log) as f:
        return [line.rstrip('\n').split('|') for line in f if line.strip()]


def base_localrc(workdir, user='root'):
    return {
        'DEST': workdir, 'DATA_DIR': os.path.join(workdir, 'data'),
        'STACK_USER': user, 'GLOBAL_VENV': 'False',
        'NOVA_FILTERS': NOVA_FILTERS, 'TEMPEST_PLUGINS': '0',
        'ENABLE_DEBUG_LOG_LEVEL': 'True', 'VIRT_DRIVER': 'fake',
        'LIVE_MIGRATION_AVAILABLE': 'True',
        'NOVA_MIGCOMPAT_DIR': REPO,
    }


def configure_filter(workdir, nova_conf):
    """``stack post-config`` on the scheduler's node."""
    rc = dict(base_localrc(workdir), NOVA_CONF=nova_conf,
              ENABLED_SERVICES='key,n-api,n-cond,n-sch,placement-api')
    run_phase(workdir, ('stack', 'post-config'), rc)


def configure_agent(workdir, nova_cpu_conf, agent_conf, sysfs_root,
                    interval, bin_dir):
    """``stack extra`` on a compute node: the agent's config file.

    Returns the agent's command line, as the plugin gives it to
    ``run_process``.
    """
    rc = dict(base_localrc(workdir), NOVA_CPU_CONF=nova_cpu_conf,
              ENABLED_SERVICES='n-cpu,placement-client',
              NOVA_MIGCOMPAT_AGENT_CONF=agent_conf,
              NOVA_MIGCOMPAT_SYSFS_ROOT=sysfs_root,
              NOVA_MIGCOMPAT_AGENT_INTERVAL=str(interval),
              NOVA_MIGCOMPAT_BIN_DIR=bin_dir)
    calls = run_phase(workdir, ('stack', 'extra'), rc)
    started = [c for c in calls if c[:2] == ['run_process', 'migcompat-agent']]
    if len(started) != 1:
        raise procs.StartError('the plugin did not start the agent: %s'
                               % calls)
    return shlex.split(started[0][2])


def configure_tempest(workdir, tempest_conf, filter_enabled=True):
    """``stack test-config``: the plugin's lines of tempest.conf."""
    rc = dict(base_localrc(workdir), TEMPEST_CONFIG=tempest_conf,
              ENABLED_SERVICES='tempest',
              NOVA_MIGCOMPAT_ENABLE_FILTER=str(filter_enabled))
    run_phase(workdir, ('stack', 'test-config'), rc)
