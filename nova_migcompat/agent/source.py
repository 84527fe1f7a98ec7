"""Device sources: what a host has, and what its devices accept.

The contract
------------

A device source is a class registered in the ``nova_migcompat.device_sources``
stevedore namespace and enabled by its entry point name in
``[migcompat]device_sources``.  The agent builds it once per configuration
with the oslo.config object (``Source(conf)``) and then calls:

``discover()``
    The source's devices, a list of
    :class:`~nova_migcompat.agent.device.Device`.  A device whose string
    cannot be read is returned with ``error`` set, never dropped, and never
    allowed to hide the other devices; a failure to enumerate at all
    raises (:class:`~nova_migcompat.exception.MigCompatError` or
    ``OSError``), so that the cycle fails instead of withdrawing what was
    published.

``confirm()``
    Called after the checks and before anything is published: raises
    (like ``discover()``) when the devices discovered can no longer be
    seen, e.g. a tree that went away during the cycle.  The default does
    nothing.

``check(device, text)``
    The target-side check: would ``device`` (one this source discovered)
    accept the state of a device whose compatibility string is ``text``?
    Returns a :class:`~nova_migcompat.agent.verdict.Verdict`: ``ACCEPTS``
    only for a definite yes, ``REFUSES`` for a definite no, ``UNKNOWN``
    when it cannot tell now (busy device, vanished device, no policy for
    the string).  It must not raise for a device problem, and must bound
    what it costs.

The reporter keeps each device with the source that found it and asks that
source, so a vendor source (e.g. one on NVIDIA's NVML compatibility API)
brings its own check without any change to the reporter.  The built-in
``sysfs`` source (:mod:`nova_migcompat.agent.sysfs_source`) reads
``migration_version`` attributes, synthesizes descriptors, and answers
with the kernel write or the acceptance policy of the string's format.
"""

import abc

from stevedore import named

NAMESPACE = 'nova_migcompat.device_sources'


class DeviceSource(metaclass=abc.ABCMeta):
    """The device source interface (see the module)."""

    #: The entry point name.
    name = None

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def discover(self):
        """Return a list of Devices (see the module)."""

    @abc.abstractmethod
    def check(self, device, text):
        """Return the Verdict of ``device`` on the string ``text``."""

    def confirm(self):
        """Raise if the devices can no longer be seen (see the module)."""


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


def discover(sources):
    """``(source, device)`` for every device of every source, in order."""
    return [(source, device) for source in sources
            for device in source.discover()]
