"""nova-migcompat: the operator tool.

Subcommands:

* ``devices``: the local devices, their compatibility strings, formats and
  the tokens they publish as;
* ``decode``: the string behind a nova-migcompat trait or token;
* ``encode``: the traits a string publishes as;
* ``matrix``: the fleet's strings against its hosts, from placement;
* ``explain``: which hosts would accept a live migration of a server, from
  placement alone (``openstack migcompat explain`` asks the Nova API for
  the server's node and PCI devices);
"""

import json
import sys

from oslo_config import cfg
from oslo_log import log as logging
import prettytable

from nova_migcompat.cmd import devices
from nova_migcompat import codec
from nova_migcompat import conf as migcompat_conf
from nova_migcompat import exception
from nova_migcompat import fleet
from nova_migcompat import formats
from nova_migcompat import placement

LOG = logging.getLogger(__name__)


def _table(headers, rows):
    table = prettytable.PrettyTable(headers)
    table.align = 'l'
    for row in rows:
        table.add_row(['' if v is None else v for v in row])
    return table.get_string()


def _print_json(data):
    print(json.dumps(data, indent=2, sort_keys=True))


def cmd_devices(conf):
    args = conf.command
    if args.sysfs_root:
        conf.set_override('sysfs_root', args.sysfs_root, 'migcompat')
    result = devices.show(conf, args.format, args.check, _table)
    if args.format == 'json':
        _print_json(result)
    return 0


def cmd_decode(conf):
    args = conf.command
    results, status = [], 0
    for name in args.traits:
        try:
            if codec.parse_trait(name):
                role, token, text = codec.decode_trait(name)
            else:
                role, token, text = None, name, codec.decode(name)
        except exception.InvalidToken as e:
            results.append({'input': name, 'error': str(e)})
            status = 1
            continue
        try:
            parsed = formats.parse(text)
            fmt, summary = parsed.format, parsed.summary()
        except exception.ParseError as e:
            fmt, summary = 'malformed', str(e)
        results.append({'input': name, 'role': role, 'token': token,
                        'string': text, 'format': fmt, 'summary': summary})
    if args.format == 'json':
        _print_json(results)
        return status
    for r in results:
        if 'error' in r:
            print('%s\n  error: %s' % (r['input'], r['error']))
            continue
        role = {codec.SRC: 'produced by (SRC)',
                codec.ACC: 'accepted by (ACC)'}.get(r['role'], 'token')
        print('%s\n  role:   %s\n  format: %s (%s)\n  string: %s'
              % (r['input'], role, r['format'], r['summary'],
                 r['string'].replace('\n', '\n          ')))
    return status


def cmd_encode(conf):
    args = conf.command
    text = args.string
    if text == '-':
        text = sys.stdin.read()
        if text.endswith('\n'):
            text = text[:-1]
    try:
        token = codec.encode(text)
    except exception.MigCompatError as e:
        print('error: %s' % e, file=sys.stderr)
        return 1
    data = {'string': text, 'token': token,
            'src_trait': codec.trait(codec.SRC, token),
            'acc_trait': codec.trait(codec.ACC, token)}
    if args.format == 'json':
        _print_json(data)
    else:
        print('%s\n%s' % (data['src_trait'], data['acc_trait']))
    return 0


def cmd_matrix(conf):
    client = placement.PlacementClient.from_conf(conf)
    hosts, rows = fleet.matrix(client)
    if conf.command.format == 'json':
        _print_json({'hosts': hosts, 'strings': rows})
        return 0
    if not rows:
        print('No CUSTOM_MIGCOMPAT_SRC_* trait in placement: no agent has '
              'reported yet.')
        return 0
    columns, cells = fleet.matrix_rows(hosts, rows)
    labels = ['S%d' % (i + 1) for i in range(len(rows))]
    print(_table(['String'] + list(columns[1:]),
                 [['%s %s' % (label, cell[0])] + list(cell[1:])
                  for label, cell in zip(labels, cells)]))
    for label, row in zip(labels, rows):
        print('%s  %s' % (label, row['string'].replace('\n', ' ')))
    return 0


def cmd_explain(conf):
    client = placement.PlacementClient.from_conf(conf)
    result = fleet.explain(client, conf.command.server,
                           source_node=conf.command.node,
                           host_level=conf.command.pci)
    if conf.command.format == 'json':
        _print_json(result)
        return 0
    print('Server %s on host %s.' % (conf.command.server,
                                     result['source_host']))
    for req in result['requirements']:
        where = ('the destination host' if req['host_level'] else
                 'a device of the destination')
        for text in req['strings']:
            print('Needs %s to accept: %s' % (where, text))
    columns, rows = fleet.explain_rows(result)
    print(_table(columns, [row[:2] + (', '.join(row[2]),) + row[3:]
                           for row in rows]))
    return 0


def _add_format(parser):
    parser.add_argument('--format', choices=('table', 'json'),
                        default='table', help='Output format.')


def add_command_parsers(subparsers):
    parser = subparsers.add_parser(
        'devices', help='List local migratable devices, their strings, '
        'formats and traits.')
    parser.add_argument(
        '--sysfs-root', help='Read devices under this directory instead of '
        '[migcompat]sysfs_root.')
    parser.add_argument(
        '--check', action='store_true',
        help='Also run the target-side check of every listed string '
        'against every listed device.')
    _add_format(parser)
    parser.set_defaults(func=cmd_devices)

    parser = subparsers.add_parser(
        'decode', help='Show the compatibility string behind traits or '
        'tokens.')
    parser.add_argument('traits', nargs='+', metavar='TRAIT',
                        help='A CUSTOM_MIGCOMPAT_* trait or a bare token.')
    _add_format(parser)
    parser.set_defaults(func=cmd_decode)

    parser = subparsers.add_parser(
        'encode', help='Show the traits a compatibility string publishes '
        'as.')
    parser.add_argument('string', help="The string ('-' reads stdin).")
    _add_format(parser)
    parser.set_defaults(func=cmd_encode)

    parser = subparsers.add_parser(
        'matrix', help="The fleet's compatibility strings against its "
        'hosts, from placement ([placement] credentials as nova-compute '
        'has them).')
    _add_format(parser)
    parser.set_defaults(func=cmd_matrix)

    parser = subparsers.add_parser(
        'explain', help='Which hosts the filter would keep for a live '
        'migration of a server, and why not the others (from placement '
        'alone; `openstack migcompat explain` also asks the Nova API).')
    parser.add_argument('server', help='The server (instance) uuid.')
    parser.add_argument(
        '--node', help="The server's compute node (hypervisor hostname, "
        'the name of its root provider); default: the tree of its first '
        'allocation.')
    parser.add_argument('--pci', action='store_true',
                        help='The server has flavor PCI devices.')
    _add_format(parser)
    parser.set_defaults(func=cmd_explain)


command_opt = cfg.SubCommandOpt('command', title='Commands',
                                handler=add_command_parsers,
                                help='Available commands')


def main(argv=None):
    conf = cfg.ConfigOpts()
    migcompat_conf.register_opts(conf)
    migcompat_conf.register_placement_opts(conf)
    conf.register_cli_opt(command_opt)
    logging.register_options(conf)
    # Output (tables, JSON) goes to stdout; logs must not mix with it.
    conf.set_default('use_stderr', True)
    conf(sys.argv[1:] if argv is None else argv,
         project='nova-migcompat', prog='nova-migcompat',
         default_config_files=[])
    logging.set_defaults(default_log_levels=['stevedore=WARN'])
    logging.setup(conf, 'nova-migcompat')
    try:
        return conf.command.func(conf)
    except exception.MigCompatError as e:
        print('error: %s' % e, file=sys.stderr)
        return 1
    finally:
        # Overrides live on the (shared) option group objects.
        conf.reset()


if __name__ == '__main__':
    sys.exit(main())
