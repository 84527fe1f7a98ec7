"""The version of the installed nova-migcompat distribution."""

import pbr.version

version_info = pbr.version.VersionInfo('nova-migcompat')


def version_string():
    return version_info.release_string()
