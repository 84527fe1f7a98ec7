"""python -m migcompat_lab.demo: the main job on an embedded default.

Runs in its own process: Nova's functional framework must monkey patch
before anything else is imported.
"""

import logging  # noqa: I100  isort:skip
import warnings  # noqa: I100  isort:skip

# Quiet before nova's import: eventlet and nova warn when patching.
warnings.simplefilter('ignore')
logging.getLogger('nova.monkey_patch').disabled = True

import nova.tests.functional  # noqa: E402,F401,I100  isort:skip

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

from migcompat_lab.demo import fleet as fleet_mod  # noqa: E402
from migcompat_lab.demo import report  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m migcompat_lab.demo',
        description='Live-migrate a server with a vGPU and/or an SR-IOV VF '
        'across an in-process Nova + Placement fleet with emulated devices, '
        'with MigrationCompatibilityFilter and with stock Nova.')
    parser.add_argument(
        '--fleet', help='A fleet file, or the name of a bundled one (%s); '
        'default: the bundled fleet.yaml.  The format: doc/source/demo.rst.'
        % ', '.join(fleet_mod.bundled()))
    parser.add_argument(
        '--verbose', action='store_true',
        help="Print the project's (nova_migcompat) log lines on stderr as "
        "they come; Nova's stay in the log directory.")
    args = parser.parse_args(argv)
    try:
        fleet = fleet_mod.load(args.fleet)
    except fleet_mod.FleetError as e:
        print('error: %s' % e, file=sys.stderr)
        return 2
    # nova.test (imported by the scenario) sets up logging at import.
    from migcompat_lab import cloud
    from migcompat_lab.demo import scenario
    cloud.quiet_logs()

    report.header(fleet)
    outcomes = []
    logdir = tempfile.mkdtemp(prefix='nova-migcompat-demo-')
    pgpu = None
    for filter_enabled in (True, False):
        name = 'filter' if filter_enabled else 'stock'
        if args.verbose:
            sys.stderr.write('--- %s run: the project\'s log lines ---\n'
                             % name)
        # The second run's server uses the same source pGPU as the first.
        outcome = scenario.run(fleet, filter_enabled, pgpu=pgpu,
                               stream=sys.stderr if args.verbose else None)
        pgpu = outcome.pgpu_index
        outcomes.append(outcome)
        with open(os.path.join(logdir, '%s.log' % name), 'w') as f:
            f.write(outcome.log)
        with open(os.path.join(logdir, '%s-migcompat.log' % name), 'w') as f:
            f.write(''.join(line + '\n' for line in outcome.project_log))
    report.body(fleet, outcomes, logdir)
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
