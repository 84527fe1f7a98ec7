"""The version of the installed nova-migcompat distribution."""

import functools
import importlib.metadata


@functools.lru_cache(maxsize=1)
def version_string():
    """The installed version, or ``unknown`` (run from a bare tree)."""
    try:
        return importlib.metadata.version('nova-migcompat')
    except importlib.metadata.PackageNotFoundError:
        return 'unknown'
