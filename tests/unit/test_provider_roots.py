"""Placement's listing of the providers with a trait, as kept by the filter."""

import json

import pytest

from nova_migcompat import exception
from nova_migcompat import placement

URL = '/resource_providers?required=CUSTOM_MIGCOMPAT_ACC_X'


def body(*providers):
    return json.dumps({'resource_providers': list(providers)}).encode()


def provider(uuid, root):
    return {'uuid': uuid, 'name': uuid, 'generation': 1,
            'root_provider_uuid': root, 'parent_provider_uuid': root,
            'links': []}


def test_the_listing_by_host():
    listing = placement.listed_roots(
        body(provider('d1', 'h1'), provider('d2', 'h1'),
             provider('d3', 'h2')), URL, 10)
    assert listing == {'d1': 'h1', 'd2': 'h1', 'd3': 'h2'}
    assert listing.by_root() == {'h1': ('d1', 'd2'), 'h2': ('d3',)}
    # Worked out once, kept with the listing.
    assert listing.by_root() is listing.by_root()


@pytest.mark.parametrize('root', [None, ['h1'], 7])
def test_a_provider_without_a_root_uuid_is_an_error(root):
    # Never cached (the error comes before), never on a host.
    with pytest.raises(exception.PlacementError) as caught:
        placement.listed_roots(
            body(provider('d1', 'h1'), provider('d2', root)), URL, 10)
    assert 'provider d2 without a root provider uuid' in str(caught.value)


def test_a_provider_whose_root_is_unknown_is_on_no_host():
    listing = placement.ProviderRoots({'d1': 'h1', 'd2': None})
    assert listing.by_root() == {'h1': ('d1',)}
