"""Placement's listing of the providers with a trait, at fleet scale.

The listing grows with the fleet (about 900 bytes a provider): it is read
up to a number of providers, not the client's whole-answer bound, and
decoded one provider at a time.  Real placement, through keystoneauth.
"""

import pytest

from nova_migcompat import codec
from nova_migcompat import exception
from nova_migcompat import placement

ACC = codec.trait(codec.ACC, codec.encode('NVIDIA-535.104 v2.1'))


@pytest.fixture
def fleet(placement_api):
    """12 hosts whose 2 devices carry ACC; one provider without it."""
    accepting = {}
    for i in range(12):
        tree = placement_api.create_compute('host-%02d' % i,
                                            ['0000:81:00.0', '0000:82:00.0'])
        root = tree.pop('host-%02d' % i)
        for uuid in tree.values():
            placement_api.add_traits(uuid, ACC)
            accepting[uuid] = root
    placement_api.create_compute('other', ['0000:81:00.0'])
    return accepting


@pytest.fixture
def client(agent_conf, tmp_path):
    return placement.PlacementClient.from_conf(
        agent_conf('any', tmp_path))


def test_a_listing_larger_than_the_response_bound(fleet, client,
                                                  placement_api,
                                                  monkeypatch):
    size = len(placement_api.request(
        'GET', '/resource_providers?required=%s' % ACC).content)
    # The whole-answer bound, scaled down with the fleet (16 MiB is about
    # 18,900 providers): this listing of 24 is larger; it used to fail.
    monkeypatch.setattr(placement, 'MAX_RESPONSE_BYTES', 4096)
    assert size > 4 * 4096
    assert client.providers_with_trait(ACC) == fleet
    assert client.requests == 1


def test_more_providers_than_asked_for(fleet, client):
    with pytest.raises(exception.TooManyProviders) as raised:
        client.providers_with_trait(ACC, most=23)
    assert 'more than 23' in str(raised.value)
    assert raised.value.most == 23
    assert client.providers_with_trait(ACC, most=24) == fleet


def test_a_trait_nobody_has(client, placement_api):
    placement_api.create_compute('lone', ['0000:81:00.0'])
    assert client.providers_with_trait(ACC) == {}
    placement_api.ok('PUT', '/traits/%s' % ACC)
    assert client.providers_with_trait(ACC) == {}
