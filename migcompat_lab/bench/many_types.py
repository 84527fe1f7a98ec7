"""Benchmark part (f): the agent on a host with many device types.

A host with one physical GPU offering N mdev types, each with a string of
its own (a hostile or careless driver: Nova would enable a few), on a
FUSE-emulated sysfs; real Placement holding a fleet catalog of S strings
(other hosts' ``CUSTOM_MIGCOMPAT_SRC_*`` traits); the agent's own console
script, ``nova-migcompat-agent --once``, as a process of its own: its peak
memory (``ru_maxrss`` of the agent, and the most its device process held),
the cycle's time, the checks it ran and the (device, string) pairs left
for later cycles.  Its work should grow with the checks it runs (at most
``[migcompat]max_checks_per_cycle``), the devices and the strings, never
with devices times strings.

Runs in a process of its own (``python -m migcompat_lab.bench.many_types``,
which :func:`run` starts): no Nova, no eventlet, placement served on a
loopback socket for the agent's process.  The catalog is loaded into
placement's database in bulk; everything the agent does goes through the
placement API.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from wsgiref import simple_server

#: The agent's catalog in this part, by default.
STRINGS = 10000
#: The most device types of a run.
MAX_TYPES = 20000
NODE = 'many-types'
ADDRESS = '0000:81:00.0'
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def host_spec(types):
    """One pGPU with ``types`` mdev types, each with a string of its own."""
    return {'host': NODE, 'modules': {'nvidia': '535.104.05'},
            'pci': [{'address': ADDRESS, 'vendor': 0x10de,
                     'device': 0x1eb8, 'driver': 'nvidia',
                     'mdev_types': [
                         {'name': 'type-%05d' % i,
                          'migration_version': {
                              'string': 'many-types %05d' % i,
                              'policy': 'exact'}}
                         for i in range(types)]}]}


class _Quiet(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _Server(simple_server.WSGIServer):
    request_queue_size = 128


class _Placement(object):
    """Real placement (in-memory database), on a loopback socket."""

    def __enter__(self):
        from placement import deploy
        from placement.tests.functional.fixtures import placement as fx
        self.fixture = fx.PlacementFixture(token='admin',
                                           use_intercept=False)
        self.fixture.setUp()
        app = deploy.loadapp(self.fixture.conf_fixture.conf)
        self.server = simple_server.make_server(
            '127.0.0.1', 0, app, server_class=_Server, handler_class=_Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()
        self.endpoint = 'http://127.0.0.1:%d' % self.server.server_port
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.fixture.cleanUp()

    def request(self, method, path, body=None, version='1.23'):
        import requests
        resp = requests.request(
            method, self.endpoint + path, json=body, timeout=60,
            headers={'X-Auth-Token': 'admin',
                     'OpenStack-API-Version': 'placement %s' % version})
        if resp.status_code >= 300:
            raise RuntimeError('%s %s: %s %s' % (method, path,
                                                 resp.status_code,
                                                 resp.text[:300]))
        return resp.json() if resp.content else None


def _load_catalog(api, strings):
    """Another node's provider carrying ``strings`` SRC traits (bulk)."""
    from nova_migcompat import codec
    from oslo_utils import timeutils
    from placement.db.sqlalchemy import models
    from placement import db_api
    import sqlalchemy as sa
    other = str(uuid.uuid4())
    api.request('POST', '/resource_providers',
                {'uuid': other, 'name': 'fleet-strings'})
    names = [codec.trait(codec.SRC, codec.encode('fleet string %05d' % i))
             for i in range(strings)]
    now = timeutils.utcnow()
    engine = db_api.get_placement_engine()
    with engine.begin() as conn:
        conn.execute(models.Trait.__table__.insert(),
                     [{'name': name, 'created_at': now} for name in names])
        ids = dict(conn.execute(sa.select(models.Trait.name,
                                          models.Trait.id)).all())
        rp_id = conn.execute(sa.select(models.ResourceProvider.id).where(
            models.ResourceProvider.uuid == other)).scalar()
        conn.execute(models.ResourceProviderTrait.__table__.insert(),
                     [{'resource_provider_id': rp_id, 'trait_id': ids[name],
                       'created_at': now} for name in names])
    listed = api.request('GET', '/resource_providers/%s/traits' % other)
    if len(listed['traits']) != strings:
        raise RuntimeError('placement lists %d fleet strings, not %d'
                           % (len(listed['traits']), strings))


def _children_peak(pid, peaks, stop):
    """The most any child of ``pid`` held (VmHWM, KiB), sampled."""
    while not stop.is_set():
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            try:
                with open('/proc/%s/status' % entry) as f:
                    status = dict(line.split(':', 1) for line in f
                                  if ':' in line)
            except OSError:
                continue
            if status.get('PPid', '').strip() == str(pid) and \
                    'VmHWM' in status:
                kib = int(status['VmHWM'].split()[0])
                peaks[entry] = max(peaks.get(entry, 0), kib)
        stop.wait(0.2)


def measure(types, strings, budget=None):
    """One run: a host of ``types`` types, a catalog of ``strings``."""
    from migcompat_lab.emulation import mount
    with _Placement() as api, \
            tempfile.TemporaryDirectory(prefix='migcompat-many-') as work:
        root = str(uuid.uuid4())
        api.request('POST', '/resource_providers',
                    {'uuid': root, 'name': NODE})
        api.request('POST', '/resource_providers',
                    {'uuid': str(uuid.uuid4()),
                     'name': '%s_pci_0000_81_00_0' % NODE,
                     'parent_provider_uuid': root})
        _load_catalog(api, strings)
        spec = os.path.join(work, 'spec.json')
        with open(spec, 'w') as f:
            json.dump(host_spec(types), f)
        with mount.EmulatedSysfs(spec, os.path.join(work, 'sys'),
                                 workdir=os.path.join(work, 'fs'),
                                 timeout=120) as fs:
            conf = os.path.join(work, 'agent.conf')
            with open(conf, 'w') as f:
                f.write('[placement]\nauth_type = admin_token\n'
                        'endpoint = %(ep)s\ntoken = admin\n'
                        'endpoint_override = %(ep)s\ntimeout = 300\n\n'
                        '[migcompat]\nnodename = %(node)s\n'
                        'sysfs_root = %(root)s\nmdev_types =\n'
                        'state_path = %(work)s/state\n'
                        'lock_path = %(work)s/agent.lock\n'
                        % {'ep': api.endpoint, 'node': NODE,
                           'root': fs.root, 'work': work})
                if budget:
                    f.write('max_checks_per_cycle = %d\n' % budget)
            env = dict(os.environ)
            env['PYTHONPATH'] = os.pathsep.join(
                [_PACKAGE_PARENT] + [p for p in env.get(
                    'PYTHONPATH', '').split(os.pathsep) if p])
            log = os.path.join(work, 'agent.log')
            peaks, stop = {}, threading.Event()
            with open(log, 'wb') as out:
                started = time.perf_counter()
                proc = subprocess.Popen(
                    [sys.executable, '-m', 'nova_migcompat.cmd.agent',
                     '--once', '--config-file', conf], stdout=out,
                    stderr=out, env=env)
            sampler = threading.Thread(target=_children_peak,
                                       args=(proc.pid, peaks, stop),
                                       daemon=True)
            sampler.start()
            try:
                _pid, status, usage = os.wait4(proc.pid, 0)
                seconds = time.perf_counter() - started
            finally:
                stop.set()
                sampler.join()
            proc.returncode = os.waitstatus_to_exitcode(status)
            with open(log, encoding='utf-8', errors='replace') as f:
                text = f.read()
            if proc.returncode not in (0, 3):
                raise RuntimeError('the agent failed (%d):\n%s'
                                   % (proc.returncode, text[-3000:]))
    line = [line for line in text.splitlines()
            if 'Reporting cycle:' in line][-1]
    checks = int(line.split(' checks (')[0].rsplit(' ', 1)[1])
    waiting = int(line.split(' checks (')[1].split(' ')[0])
    return {'types': types, 'strings': strings, 'seconds': seconds,
            'agent_peak_mib': usage.ru_maxrss / 1024.0,
            'device_process_peak_mib': max(peaks.values(), default=0) /
            1024.0, 'checks': checks, 'waiting': waiting,
            'pairs': types * (types + strings)}


def run(sizes, strings=STRINGS, log=print):
    """Part (f) in a process of its own; returns its rows."""
    with tempfile.NamedTemporaryFile(suffix='.json') as out:
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [_PACKAGE_PARENT] + [p for p in env.get('PYTHONPATH', '').split(
                os.pathsep) if p])
        result = subprocess.run(
            [sys.executable, '-m', __name__, '--types',
             ','.join(str(s) for s in sizes), '--strings', str(strings),
             '--output', out.name], env=env, capture_output=True,
            text=True)
        if result.returncode:
            raise RuntimeError('part (f) failed:\n%s' % result.stderr[-3000:])
        with open(out.name) as f:
            rows = json.load(f)
    for row in rows:
        log('  %5d types, %d strings: one cycle %.1f s, the agent %.0f MiB '
            'at the peak, its device process %.0f MiB; %d checks, %d '
            'pairs wait' % (row['types'], row['strings'], row['seconds'],
                            row['agent_peak_mib'],
                            row['device_process_peak_mib'], row['checks'],
                            row['waiting']))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m %s' % __name__)
    parser.add_argument('--types', required=True)
    parser.add_argument('--strings', type=int, default=STRINGS)
    parser.add_argument('--output', required=True)
    args = parser.parse_args(argv)
    rows = [measure(int(n), args.strings) for n in args.types.split(',')]
    with open(args.output, 'w') as f:
        json.dump(rows, f)
    return 0


if __name__ == '__main__':
    sys.exit(main())
