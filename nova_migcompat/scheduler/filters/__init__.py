"""Scheduler host filters of nova-migcompat.

Each filter is registered in the ``nova_migcompat.scheduler_filters``
stevedore namespace.  :func:`all_filters` is usable as a
``[filter_scheduler]available_filters`` value, like nova's own
``nova.scheduler.filters.all_filters``.
"""

from stevedore import extension

NAMESPACE = 'nova_migcompat.scheduler_filters'


def _raise(manager, entrypoint, exc):
    raise exc


def all_filters():
    """Every filter class registered in the namespace."""
    mgr = extension.ExtensionManager(
        NAMESPACE, invoke_on_load=False,
        on_load_failure_callback=_raise)
    return [ext.plugin for ext in sorted(mgr, key=lambda e: e.name)]
