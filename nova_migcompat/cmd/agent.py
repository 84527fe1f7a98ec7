"""nova-migcompat-agent: the compute-side reporter.

Runs beside nova-compute and keeps placement's view of the host's devices
true (see :mod:`nova_migcompat.agent.reporter`).  It reads
``/etc/nova/nova.conf`` (``[placement]`` credentials, as nova-compute
uses them, and ``[migcompat]``) and
``/etc/nova/nova-migcompat-agent.conf`` when they exist, or the
``--config-file`` files given.

Modes: a daemon (the default), ``--once`` (one cycle; exit status 0 when
published, 1 when the cycle failed, 2 when it published but some local
devices could not be reported), ``--dry-run`` (no placement at all: what
would be published, checked against the local strings only).
"""

import random
import signal
import sys
import time

from oslo_config import cfg
from oslo_log import log as logging

from nova_migcompat.agent import reporter as reporter_mod
from nova_migcompat import codec
from nova_migcompat import conf as migcompat_conf
from nova_migcompat import placement

LOG = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_DEVICE_PROBLEMS = 2

cli_opts = [
    cfg.BoolOpt('once', default=False,
                help='Run one reporting cycle and exit.'),
    cfg.BoolOpt('dry-run', default=False,
                help='Print what would be published, without placement.'),
]

#: Backoff after failed cycles: 5 s, 10 s, 20 s... at most the interval.
_FIRST_BACKOFF = 5


def summary(report, seconds):
    return ('%d devices (%d tracked), %d fleet strings, %d providers, '
            '%d checks (%d waiting), %d placement requests (%d writes), '
            'changed: %s, in %.2f s' % (
                report.devices, report.tracked, report.catalog,
                report.providers, report.checks, report.behind,
                report.requests, report.writes,
                ', '.join(report.changed) or 'none', seconds))


class Agent(object):

    def __init__(self, conf):
        self.conf = conf
        # Plain flags: a signal handler must not take a lock the main
        # thread may hold (threading.Event does).
        self._stopping = False
        self._reload = False
        self.reporter = None

    def build(self):
        client = placement.PlacementClient.from_conf(self.conf)
        self.reporter = reporter_mod.Reporter(
            self.conf, client, should_stop=lambda: self._stopping)
        return self.reporter

    def cycle(self):
        start = time.monotonic()
        report = self.reporter.run_cycle()
        line = summary(report, time.monotonic() - start)
        if report.ok:
            LOG.info('Reporting cycle: %s', line)
        else:
            LOG.error('Reporting cycle failed (%s): %s', report.failure, line)
        return report

    def stop(self, *_args):
        self._stopping = True

    def _hup(self, *_args):
        self._reload = True

    def _sleep(self, seconds):
        """Sleep, waking up within a second for SIGTERM or SIGHUP."""
        deadline = time.monotonic() + seconds
        while not (self._stopping or self._reload):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 1.0))

    def run_forever(self):
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGHUP, self._hup)
        self.build()
        failures = 0
        while not self._stopping:
            if self._reload:
                self._reload = False
                LOG.info('SIGHUP: reloading the configuration')
                self.conf.reload_config_files()
                self.build()
            report = self.cycle()
            if report.ok:
                failures = 0
                delay = self.conf.migcompat.interval * random.uniform(1, 1.1)
            else:
                failures += 1
                delay = min(self.conf.migcompat.interval,
                            _FIRST_BACKOFF * 2 ** (failures - 1))
            self._sleep(delay)
        LOG.info('Stopped')
        return EXIT_OK


def print_dry_run(conf, out=None):
    out = out or sys.stdout
    reporter = reporter_mod.Reporter(conf, None)
    report, plans, catalog = reporter.plan_locally()
    labels = {token: 'S%d' % (i + 1) for i, token in enumerate(catalog)}
    print('Dry run for node %s (sysfs root %s): nothing is sent to '
          'placement.' % (conf.migcompat.nodename,
                          conf.migcompat.sysfs_root),
          file=out)
    print('\nStrings (the fleet catalog is these local strings only):',
          file=out)
    for token, text in catalog.items():
        print('  %s  %s\n      trait %s' % (
            labels[token], text.replace('\n', '\n      '),
            codec.trait(codec.SRC, token)), file=out)
    for name, plan in sorted(plans.items()):
        print('\nProvider %s' % name, file=out)
        for producer in plan.producers:
            print('  produces %s  (%s %s)' % (
                labels[producer.token], producer.device.kind,
                producer.device.name), file=out)
        for token, result in report.verdicts.get(name, {}).items():
            print('  %-8s %s' % (result, labels[token]), file=out)
        if not plan.producers and not plan.targets:
            print('  (no tracked devices)', file=out)
    for problem in report.device_problems:
        print('\nproblem: %s' % problem, file=out)
    return EXIT_DEVICE_PROBLEMS if report.device_problems else EXIT_OK


def load_config(argv, default_config_files=None):
    """The agent's configuration, without touching logging."""
    conf = cfg.ConfigOpts()
    migcompat_conf.register_opts(conf)
    migcompat_conf.register_placement_opts(conf)
    migcompat_conf.register_nova_device_opts(conf)
    conf.register_cli_opts(cli_opts)
    logging.register_options(conf)
    conf(argv, project='nova', prog='nova-migcompat-agent',
         default_config_files=default_config_files)
    return conf


def parse_config(argv):
    """The agent's configuration, and oslo.log set up from it."""
    conf = load_config(argv)
    logging.set_defaults(default_log_levels=logging.get_default_log_levels()
                         + ['stevedore=WARN'])
    logging.setup(conf, 'nova-migcompat-agent')
    return conf


def main(argv=None):
    conf = parse_config(sys.argv[1:] if argv is None else argv)
    try:
        if conf.dry_run:
            return print_dry_run(conf)
        agent = Agent(conf)
        if conf.once:
            agent.build()
            report = agent.cycle()
            if not report.ok:
                return EXIT_FAILED
            return EXIT_DEVICE_PROBLEMS if report.device_problems else EXIT_OK
        return agent.run_forever()
    finally:
        conf.reset()


if __name__ == '__main__':
    sys.exit(main())
