"""python -m migcompat_lab.multicloud up|tempest|infra|cleanup|packages

``up`` starts the whole cloud (the infrastructure, Nova, the agents),
prints how to use it with the ``openstack`` CLI, waits for Ctrl-C (or
SIGTERM), then tears it down.  ``tempest`` starts it, runs the project's
tempest plugin with real tempest, stops it, and exits with tempest's
status (``--no-filter``: MigrationCompatibilityFilter taken out of
``enabled_filters``).  ``infra`` starts the infrastructure only.
"""

import argparse
import os
import shutil
import sys
import time

from migcompat_lab.multicloud import infra as infra_mod
from migcompat_lab.multicloud import packages
from migcompat_lab.multicloud import procs


def _mib(n):
    return '%.0f MiB' % (n / 1048576.0)


def describe(infra, out=sys.stdout):
    a = infra.admin_credentials
    lines = [
        'keystone   %s' % infra.keystone_url,
        'placement  %s' % infra.placement_url,
        'image      %s (stand-in, image %s)' % (
            infra.image_url, infra.image_id),
        'network    %s (stand-in)' % infra.network_url,
        'compute    %s (in the catalog, for nova-api)' % infra.compute_url,
        'rabbitmq   %s' % infra.transport_url,
        'mariadb    %s' % infra.db_url('<name>'),
        'admin      %s / %s (project %s)' % (a['username'], a['password'],
                                             a['project_name']),
        'member     demo / %s (project demo)' % a['password'],
        'clouds     export OS_CLIENT_CONFIG_FILE=%s; openstack '
        '--os-cloud %s token issue' % (
            infra.clouds_yaml, infra_mod.ADMIN_CLOUD),
        'logs       %s' % infra.logdir,
        'start      %s' % ', '.join('%s %.1fs' % kv
                                    for kv in infra.timings.items()),
    ]
    mem = infra.memory()
    rss = sum(r for r, _ in mem.values())
    pss = sum(p for _, p in mem.values())
    lines.append('memory     RSS %s, PSS %s: %s' % (
        _mib(rss), _mib(pss), ', '.join('%s %s' % (n, _mib(r))
                                        for n, (r, _) in mem.items())))
    print('\n'.join(lines), file=out, flush=True)


def describe_cloud(infra, cloud, out=sys.stdout):
    describe(infra, out)
    print(cloud.describe(), file=out)
    print('start      %.1fs in all' % (infra.timings['ready'] +
                                       cloud.timings['agents_converged']),
          file=out)
    print('\nThe openstack CLI (%s):\n'
          '    export OS_CLIENT_CONFIG_FILE=%s OS_CLOUD=%s\n'
          '    openstack compute service list\n'
          '    openstack resource provider list\n'
          '    openstack server create --flavor <flavor with '
          'resources:VGPU=1> --image %s --nic none --wait vm1\n'
          '    openstack --os-compute-api-version 2.53 server migrate '
          '--live-migration --wait vm1\n'
          '    openstack --os-compute-api-version 2.53 server migration '
          'list --server vm1' % (
              shutil.which('openstack') or 'openstack from '
              'python-openstackclient',
              infra.clouds_yaml, infra_mod.ADMIN_CLOUD, infra.image_id),
          file=out, flush=True)


def _run_args(p):
    """The options of every command that starts services."""
    p.add_argument('--keep', action='store_true',
                   help='keep the run directory (configuration, data, '
                   'logs)')
    p.add_argument('--logdir', help='write the logs here (kept)')
    p.add_argument('--rundir', help='run directory (default: a new one '
                   'under $TMPDIR)')
    p.add_argument('--python', help='the Python the services run with '
                   '(default: this one); it imports keystone, placement, '
                   'gunicorn, pymysql')


def _cloud_args(p):
    _run_args(p)
    p.add_argument('--no-filter', action='store_true',
                   help='MigrationCompatibilityFilter out of '
                   'enabled_filters (stock Nova scheduling)')
    p.add_argument('--interval', type=int, default=5,
                   help='the agents\' interval (s)')


def _stop(infra):
    """Stop everything, saying how long it took and what is left alive."""
    t = time.monotonic()
    left = infra.stop()
    print('stopped in %.1fs%s' % (
        time.monotonic() - t,
        '; left alive: %s' % left if left else ''), file=sys.stderr)


def run_cloud(args):
    from migcompat_lab.multicloud import nova
    infra = infra_mod.Infra(rundir=args.rundir, logdir=args.logdir,
                            keep=args.keep, python=args.python)
    status = 0
    try:
        infra.start()
        cloud = nova.NovaCloud(infra, filter_enabled=not args.no_filter,
                               agent_interval=args.interval)
        cloud.start()
        describe_cloud(infra, cloud)
        if args.cmd == 'up':
            print('Ctrl-C to stop', flush=True)
            while True:
                time.sleep(3600)
        from migcompat_lab.multicloud import tempest
        status, seconds = tempest.run(infra, cloud, tempest=args.tempest)
        print('tempest exited with %d after %.1fs (log: %s)' % (
            status, seconds, os.path.join(infra.logdir, 'tempest.log')),
            flush=True)
    except KeyboardInterrupt:
        print('stopping', file=sys.stderr)
        status = 130
    except procs.StartError as e:
        print('start failed: %s' % e, file=sys.stderr)
        status = 1
    finally:
        _stop(infra)
    return status


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m migcompat_lab.'
                                     'multicloud', description=__doc__)
    sub = parser.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('up', help='start the whole cloud, wait for '
                       'Ctrl-C, stop it')
    _cloud_args(p)
    p = sub.add_parser('tempest', help='start the cloud, run the tempest '
                       'plugin with real tempest, stop the cloud')
    _cloud_args(p)
    p.add_argument('--tempest',
                   default=os.path.join(os.path.dirname(sys.executable),
                                        'tempest'),
                   help='the tempest command (tempest with the project\'s '
                   'plugin installed)')
    p = sub.add_parser('infra', help='start the infrastructure, wait for '
                       'Ctrl-C, stop it')
    _run_args(p)
    p.add_argument('--debug', action='store_true',
                   help='debug logging in keystone and placement')
    p.add_argument('--exit', action='store_true',
                   help='stop as soon as everything is ready')
    p = sub.add_parser('cleanup', help='kill what a run recorded in '
                       '<rundir>/state.json and remove the run dir')
    p.add_argument('rundir')
    sub.add_parser('packages', help='install mariadb-server and '
                   'rabbitmq-server when missing')
    args = parser.parse_args(argv)

    if args.cmd == 'packages':
        print('installed: %s' % (packages.ensure_packages() or 'nothing'))
        return 0
    if args.cmd == 'cleanup':
        state = os.path.join(args.rundir, 'state.json')
        killed = procs.kill_recorded(state) if os.path.exists(state) else []
        print('killed %s' % (killed or 'nothing'))
        shutil.rmtree(args.rundir, ignore_errors=True)
        return 0

    if args.cmd in ('up', 'tempest'):
        return run_cloud(args)
    infra = infra_mod.Infra(rundir=args.rundir, logdir=args.logdir,
                            keep=args.keep, debug=args.debug,
                            python=args.python)
    try:
        infra.start()
        describe(infra)
        if not args.exit:
            print('Ctrl-C to stop', flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print('stopping', file=sys.stderr)
    except procs.StartError as e:
        print('start failed: %s' % e, file=sys.stderr)
        return 1
    finally:
        _stop(infra)
    return 0


if __name__ == '__main__':
    sys.exit(main())
