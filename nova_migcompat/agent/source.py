"""Device sources: plugins that enumerate a host's migratable devices.

A source is a class in the ``nova_migcompat.device_sources`` stevedore
namespace, built with the oslo.config object, whose ``discover()`` returns
:class:`~nova_migcompat.agent.device.Device` objects.
"""

import abc

from oslo_log import log as logging
from stevedore import named

LOG = logging.getLogger(__name__)
NAMESPACE = 'nova_migcompat.device_sources'


class DeviceSource(metaclass=abc.ABCMeta):
    """The device source interface."""

    name = None

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def discover(self):
        """Return a list of Devices.

        A device whose string cannot be read is returned with ``error``
        set, never dropped and never allowed to hide the other devices.
        """


def _on_load_failure(manager, entrypoint, exc):
    raise exc


def load_sources(conf):
    """The enabled device sources, in the configured order."""
    names = conf.migcompat.device_sources
    mgr = named.NamedExtensionManager(
        NAMESPACE, names, invoke_on_load=True, invoke_args=(conf,),
        name_order=True, on_load_failure_callback=_on_load_failure,
        on_missing_entrypoints_callback=_missing(names))
    return [ext.obj for ext in mgr]


def _missing(names):
    def callback(missing):
        raise ValueError(
            'unknown device source(s) %s in [migcompat]device_sources; '
            'known: entry points of %s'
            % (', '.join(sorted(missing)), NAMESPACE))
    return callback


def discover(conf, sources=None):
    """Every device of every enabled source."""
    devices = []
    for source in sources if sources is not None else load_sources(conf):
        found = source.discover()
        for device in found:
            device.source = source.name
        devices.extend(found)
    return devices
