"""The OpenStackClient plugin: its wiring, its client, its Nova side."""

import argparse
from importlib import metadata

from cliff import command
from keystoneauth1 import session as ks_session
from openstack.compute.v2 import server as sdk_server
import openstack.config
from openstack import proxy
from openstack import service_description
from openstackclient.common import clientmanager
from osc_lib import exceptions
import pytest

from nova_migcompat.cmd import migcompat as operator_tool
from nova_migcompat.osc import plugin
from nova_migcompat.osc.v1 import base
from nova_migcompat.osc.v1 import server as server_cmd
from nova_migcompat import placement

PLACEMENT = 'http://placement.example:8778'


def entry_point(group, name):
    [found] = [ep for ep in metadata.entry_points(group=group)
               if ep.name == name]
    return found.load()


def test_the_openstack_shell_finds_the_plugin():
    assert entry_point('openstack.cli.extension', 'migcompat') is plugin
    assert plugin.API_NAME == 'migcompat'
    assert plugin.DEFAULT_API_VERSION in plugin.API_VERSIONS
    # openstackclient derives the command group from the version.
    assert entry_point('openstack.migcompat.v1', 'migcompat_explain') is \
        server_cmd.ExplainMigration
    # The operator tool's commands that do the same thing are the same
    # classes: decode, encode, matrix, status and purge.
    tool = {ep.name: ep.load() for ep in metadata.entry_points(
        group=operator_tool.NAMESPACE)}
    shared = {name: cls for name, cls in tool.items()
              if not name.startswith('device_') and name != 'explain'}
    assert sorted(shared) == ['decode', 'encode', 'matrix', 'purge',
                              'status']
    for name, cls in shared.items():
        assert entry_point('openstack.migcompat.v1',
                           'migcompat_%s' % name) is cls
    for cls in list(shared.values()) + [server_cmd.ExplainMigration]:
        assert issubclass(cls, command.Command)


def test_version_option(monkeypatch):
    monkeypatch.delenv('OS_MIGCOMPAT_API_VERSION', raising=False)
    parser = plugin.build_option_parser(argparse.ArgumentParser())
    assert parser.parse_args([]).os_migcompat_api_version == '1'
    monkeypatch.setenv('OS_MIGCOMPAT_API_VERSION', '2')
    parser = plugin.build_option_parser(argparse.ArgumentParser())
    assert parser.parse_args([]).os_migcompat_api_version == '2'


def client_manager(version='1', **cloud):
    config = openstack.config.OpenStackConfig(load_yaml_config=False,
                                              load_envvars=False)
    region = config.get_one(
        auth_type='admin_token',
        auth={'endpoint': 'http://nova.example/v2.1', 'token': 'admin'},
        region_name='r1', interface='internal', **cloud)
    manager = clientmanager.ClientManager(
        cli_options=region, api_version={'migcompat': version})
    manager.setup_auth()
    return manager


def test_make_client_reads_placement_over_the_osc_session(requests_mock):
    manager = client_manager(placement_endpoint_override=PLACEMENT)
    client = plugin.make_client(manager)
    assert isinstance(client, placement.PlacementClient)
    requests_mock.get(PLACEMENT + '/traits?name=startswith:CUSTOM_',
                      json={'traits': ['CUSTOM_A']})
    assert client.traits('CUSTOM_') == {'CUSTOM_A'}
    sent = requests_mock.last_request
    assert sent.headers['OpenStack-API-Version'] == 'placement 1.23'
    assert sent.headers['X-Auth-Token'] == 'admin'


def test_make_client_refuses_unknown_versions():
    with pytest.raises(exceptions.UnsupportedVersion):
        plugin.make_client(client_manager(version='7'))


def server(microversion='2.96', **body):
    attrs = {'id': '6d1d5a63-2bfc-4b44-8a57-9d4a6f3e1d6c',
             'status': 'ACTIVE',
             'OS-EXT-SRV-ATTR:hypervisor_hostname': 'node1',
             'flavor': {'original_name': 'f', 'extra_specs': {}}}
    attrs.update(body)
    return sdk_server.Server.existing(microversion=microversion, **attrs)


def test_source_of_a_server():
    assert server_cmd.source_of(server()) == ('node1', False)
    pci = server(flavor={'original_name': 'f', 'extra_specs': {
        'pci_passthrough:alias': 'a1:1', 'resources:VGPU': '1'}})
    assert server_cmd.source_of(pci) == ('node1', True)


def test_source_of_a_server_nova_does_not_place():
    hidden = server(**{'OS-EXT-SRV-ATTR:hypervisor_hostname': None,
                       'status': 'SHELVED_OFFLOADED'})
    with pytest.raises(base.CommandError,
                       match='no compute node .* SHELVED_OFFLOADED'):
        server_cmd.source_of(hidden)


def test_source_of_needs_the_embedded_flavor():
    with pytest.raises(base.CommandError, match='needs 2.47'):
        server_cmd.source_of(server(microversion='2.46'))


def test_a_cloud_without_a_compute_service_is_one_line():
    # What openstacksdk gives for a service the catalog does not have: a
    # plain Proxy (no find_server), or a disabled service's shim.
    plain = proxy.Proxy(ks_session.Session())
    with pytest.raises(base.CommandError) as e:
        server_cmd.find_server(plain, 'my-server')
    assert str(e.value) == (
        "the cloud's service catalog has no compute service (Nova): "
        "'openstack migcompat explain' finds the server through it; "
        "'nova-migcompat explain SERVER_UUID --node NODE' works from "
        'placement alone')
    disabled = service_description._ServiceDisabledProxyShim(
        'compute', 'no endpoint')
    with pytest.raises(base.CommandError,
                       match='the compute service .Nova. cannot be used: '
                             "Service 'compute' is disabled"):
        server_cmd.find_server(disabled, 'my-server')
