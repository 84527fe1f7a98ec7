"""OpenStackClient plugin: ``openstack migcompat explain|matrix``.

The plugin's client is nova-migcompat's placement client over OSC's
keystoneauth session.  Placement is found in the service catalog, or at
the cloud's ``placement_endpoint_override`` (clouds.yaml) when set.
"""

import logging

from osc_lib import utils

LOG = logging.getLogger(__name__)

API_NAME = 'migcompat'
API_VERSION_OPTION = 'os_migcompat_api_version'
DEFAULT_API_VERSION = '1'
API_VERSIONS = {'1': 'nova_migcompat.placement.PlacementClient'}
PLACEMENT = 'placement'


def make_client(instance):
    """The placement client the migcompat commands read the fleet with."""
    client_class = utils.get_client_class(
        API_NAME, instance._api_version[API_NAME], API_VERSIONS)
    # osc-placement's own client ignores *_endpoint_override; honour it,
    # as the SDK clients do.
    override = instance.get_configuration().get(
        '%s_endpoint_override' % PLACEMENT)
    LOG.debug('Instantiating migcompat client: %s', client_class)
    return client_class.from_session(
        instance.session, region_name=instance.region_name,
        interface=instance.interface, endpoint_override=override)


def build_option_parser(parser):
    parser.add_argument(
        '--os-migcompat-api-version',
        metavar='<migcompat-api-version>',
        default=utils.env('OS_MIGCOMPAT_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help='nova-migcompat command set version, default=%s '
             '(Env: OS_MIGCOMPAT_API_VERSION)' % DEFAULT_API_VERSION)
    return parser
