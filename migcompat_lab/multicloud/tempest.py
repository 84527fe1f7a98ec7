"""Real tempest against the multi-process cloud.

``run(infra, cloud)``: flavors for tempest, a ``tempest init`` workspace
with a generated ``tempest.conf`` (the plugin's own ``stack test-config``
lines written by ``devstack/plugin.sh``, as devstack would), then
``tempest run --regex '^nova_migcompat_tempest_plugin\\.' --concurrency 1``
(the project's tempest plugin), its output streamed and logged to
``<logdir>/tempest.log``.  Returns tempest's exit status.
"""

import os
import subprocess
import sys
import time

from migcompat_lab.multicloud import devstack
from migcompat_lab.multicloud import procs

#: tempest of this environment (the multicloud tox env has it, and the
#: project's plugin).
DEFAULT_TEMPEST = os.path.join(os.path.dirname(sys.executable), 'tempest')
REGEX = r'^nova_migcompat_tempest_plugin\.'

_CONF = """\
[DEFAULT]
log_dir = {logdir}
log_file = tempest-debug.log
use_stderr = false

[oslo_concurrency]
lock_path = {workspace}/lock

[auth]
admin_username = {admin[username]}
admin_password = {admin[password]}
admin_project_name = {admin[project_name]}
admin_domain_name = Default
use_dynamic_credentials = true
# The network stand-in has no writes: tempest creates no network, servers
# are created with networks='none' (compute API >= 2.37).
create_isolated_networks = false
default_credentials_domain_name = Default

[identity]
uri_v3 = {keystone_url}
auth_version = v3
region = {region}
v3_endpoint_type = public

[identity-feature-enabled]
api_v2_admin = false

[compute]
image_ref = {image}
image_ref_alt = {image}
flavor_ref = {flavor}
flavor_ref_alt = {flavor_alt}
min_compute_nodes = {computes}
min_microversion = 2.1
max_microversion = latest
build_timeout = 120
build_interval = 1
region = {region}

[compute-feature-enabled]
live_migration = true
block_migration_for_live_migration = false
scheduler_enabled_filters = {filters}
console_output = false
vnc_console = false

[placement]
min_microversion = 1.0
max_microversion = latest

[network]
public_network_id =

[validation]
run_validation = false

[service_available]
nova = true
glance = true
neutron = true
cinder = false
swift = false
horizon = false
ironic = false

[migcompat]
available = true
device_resource_class = VGPU
migration_timeout = 120
"""


def create_flavors(infra):
    """Two small flavors (tempest's flavor_ref and flavor_ref_alt)."""
    sess = infra.session()
    ids = []
    for name, ram in (('migcompat.tiny', 64), ('migcompat.tiny.alt', 96)):
        r = sess.post(infra.compute_url + '/flavors', json={'flavor': {
            'name': name, 'ram': ram, 'vcpus': 1, 'disk': 1}},
            raise_exc=False)
        if r.status_code != 200:
            raise procs.StartError('flavor %s: %s %s' % (
                name, r.status_code, r.text[:300]))
        ids.append(r.json()['flavor']['id'])
    return ids


def write_workspace(infra, cloud, tempest=DEFAULT_TEMPEST,
                    filter_enabled=True):
    """``tempest init`` a workspace in the run dir; returns its path."""
    workspace = os.path.join(infra.rundir, 'tempest')
    # The workspace registry too stays in the run dir (not ~/.tempest).
    r = subprocess.run([tempest, 'init', '--name',
                        'migcompat-%d' % os.getpid(), '--workspace-path',
                        os.path.join(infra.rundir, 'tempest-workspaces.yaml'),
                        workspace],
                       capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise procs.StartError('tempest init failed: %s' % (
            r.stdout + r.stderr)[-1000:])
    flavor, flavor_alt = create_flavors(infra)
    conf = os.path.join(workspace, 'etc', 'tempest.conf')
    with open(conf, 'w') as f:
        f.write(_CONF.format(
            logdir=infra.logdir, workspace=workspace,
            admin=infra.admin_credentials, keystone_url=infra.keystone_url,
            region=infra.admin_credentials['region_name'],
            image=infra.image_id, flavor=flavor, flavor_alt=flavor_alt,
            computes=len(cloud.fleet),
            filters=','.join(cloud.enabled_filters())))
    devstack.configure_tempest(os.path.join(workspace, 'devstack'), conf,
                               filter_enabled=filter_enabled)
    return workspace


def run(infra, cloud, tempest=DEFAULT_TEMPEST, regex=REGEX, out=None):
    """Run the plugin's tests; returns (exit status, seconds)."""
    out = out or sys.stdout
    # [migcompat]filter_enabled stays True when --no-filter took the filter
    # out of enabled_filters: its tests are to fail then, not skip.
    workspace = write_workspace(infra, cloud, tempest)
    # nova_migcompat (which the plugin imports) from this checkout.
    env = dict({k: v for k, v in os.environ.items()
                if not k.startswith('OS_')},
               PYTHONPATH=devstack.REPO)
    argv = [tempest, 'run', '--regex', regex, '--concurrency', '1']
    log = os.path.join(infra.logdir, 'tempest.log')
    t0 = time.monotonic()
    with open(log, 'w') as f:
        proc = subprocess.Popen(argv, cwd=workspace, env=env,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            for line in proc.stdout:
                f.write(line)
                out.write(line)
                out.flush()
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return proc.returncode, round(time.monotonic() - t0, 1)
