"""Command line of the emulated sysfs.

``serve`` is the child process behind EmulatedSysfs (internal).  The other
commands are for people and CI::

    python -m migcompat_lab.emulation examples
    python -m migcompat_lab.emulation show SPEC
    python -m migcompat_lab.emulation mount SPEC MOUNTPOINT [--workdir D]
    python -m migcompat_lab.emulation devices [SPEC...] [--check]
        [--format table|json]

``devices`` mounts each spec (default: every bundled example) in a
temporary directory and runs the operator's ``nova-migcompat device list``
(and, with ``--check``, ``device check``) on it, as a separate process, as
an operator would on a real host.

SPEC is a YAML/JSON file or a bundled example's name.
"""

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time

from migcompat_lab.emulation import spec as spec_mod


def _show(args):
    tree = spec_mod.load(args.spec).tree()
    for path, node in tree.walk():
        if node.kind == 'dir':
            print('%s/' % path.rstrip('/'))
        elif node.kind == 'link':
            print('%s -> %s' % (path, node.target))
        else:
            text = node.content.decode('utf-8', 'backslashreplace')
            extra = ''
            if node.attr['policy']:
                extra = '  [%s]' % node.attr['policy']
            print('%s = %r%s' % (path, text, extra))
    return 0


def _mount(args):
    from migcompat_lab.emulation import mount

    fs = mount.EmulatedSysfs(args.spec, args.mountpoint, args.workdir)
    fs.start()
    print('%s mounted at %s (write log %s); Ctrl-C unmounts'
          % (fs.spec.host or args.spec, fs.root, fs.write_log))
    sys.stdout.flush()
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *a: sys.exit(0))
        while fs.alive:
            time.sleep(0.5)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        fs.stop()
    return 0


def _tool(*args, capture=False):
    """The operator's nova-migcompat, in a process of its own."""
    argv = [sys.executable, '-m', 'nova_migcompat.cmd.migcompat'] + list(args)
    if not capture:
        return subprocess.call(argv), None
    result = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    return result.returncode, result.stdout


def _devices(args):
    from migcompat_lab.emulation import mount

    status, found = 0, []
    # JSON has every column; tables the usual ones.
    commands = [('device', 'list') + (
        ('--long',) if args.format == 'json' else ())]
    if args.check:
        commands.append(('device', 'check'))
    for name in args.specs or spec_mod.example_names():
        with tempfile.TemporaryDirectory(prefix='migcompat-example-') as d:
            with mount.EmulatedSysfs(name, os.path.join(d, 'sysfs')) as fs:
                example = {'example': name}
                for command in commands:
                    argv = command + ('--sysfs-root', fs.root)
                    if args.format == 'json':
                        code, out = _tool(*argv + ('-f', 'json'),
                                          capture=True)
                        if not code:
                            example[command[1]] = json.loads(out)
                    else:
                        print('== %s: nova-migcompat %s (%s)'
                              % (name, ' '.join(command), fs.root))
                        sys.stdout.flush()
                        code, _ = _tool(*argv)
                    status = code or status
                found.append(example)
    if args.format == 'json':
        print(json.dumps(found, indent=2))
    return status


def _serve(args):
    from migcompat_lab.emulation import fs

    logging.basicConfig(level=logging.INFO, format='%(asctime)s '
                        '%(levelname)s %(name)s: %(message)s')
    return fs.serve(args.spec, args.mountpoint, args.write_log,
                    args.status_fd)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m '
                                     'migcompat_lab.emulation')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('examples', help='list the bundled example trees')
    p = sub.add_parser('show', help='print the tree a spec describes')
    p.add_argument('spec')
    p = sub.add_parser('mount', help='mount a spec until interrupted')
    p.add_argument('spec')
    p.add_argument('mountpoint')
    p.add_argument('--workdir', help='keep the write log and the FUSE '
                   'child\'s log here (default: a temporary directory)')
    p = sub.add_parser('devices', help='run "nova-migcompat device list" '
                       '(and "device check") on mounted specs (default: '
                       'every bundled example)')
    p.add_argument('specs', nargs='*', metavar='SPEC')
    p.add_argument('--check', action='store_true',
                   help='also run "nova-migcompat device check"')
    p.add_argument('--format', choices=('table', 'json'), default='table')
    p = sub.add_parser('serve', help='internal: the FUSE child process')
    p.add_argument('--spec', required=True, help='normalized JSON spec')
    p.add_argument('--mountpoint', required=True)
    p.add_argument('--write-log', required=True)
    p.add_argument('--status-fd', type=int)
    args = parser.parse_args(argv)
    if args.command == 'serve':
        return _serve(args)
    try:
        if args.command == 'examples':
            print('\n'.join(spec_mod.example_names()))
            return 0
        if args.command == 'show':
            return _show(args)
        if args.command == 'devices':
            return _devices(args)
        return _mount(args)
    except spec_mod.SpecError as e:
        print('invalid spec: %s' % e, file=sys.stderr)
        return 2
    except OSError as e:
        print('error: %s' % e, file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
