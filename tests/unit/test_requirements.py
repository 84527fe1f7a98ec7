"""What a live migration requires of a destination, from placement data."""

from nova_migcompat import codec
from nova_migcompat import requirements

ROOT, PGPU1, PGPU2, PF = 'root', 'pgpu1', 'pgpu2', 'pf'
S1, S2, SPCI = codec.encode('s1'), codec.encode('s2'), codec.encode('pci')


def src(token):
    return codec.trait(codec.SRC, token)


def traits_of(table):
    calls = []

    def lookup(rp):
        calls.append(rp)
        return table.get(rp, set())
    lookup.calls = calls
    return lookup


ALLOCS = {ROOT: {'resources': {'VCPU': 2, 'MEMORY_MB': 2048}},
          PGPU1: {'resources': {'VGPU': 1}},
          PGPU2: {'resources': {'VGPU': 1}}}


def test_device_strings_are_grouped_by_resource_class():
    lookup = traits_of({PGPU1: {src(S1), 'CUSTOM_OTHER'},
                        PGPU2: {src(S2), codec.trait(codec.ACC, S1)},
                        ROOT: {src(SPCI)}})
    reqs = requirements.source_requirements(ALLOCS, lookup, ROOT)
    assert reqs == [requirements.Requirement(frozenset(['VGPU']),
                                             frozenset([S1, S2]),
                                             (PGPU1, PGPU2))]
    # Without PCI devices the root's traits are not even read.
    assert ROOT not in lookup.calls


def test_host_level_strings_for_instances_with_pci_devices():
    lookup = traits_of({ROOT: {src(SPCI)}})
    reqs = requirements.source_requirements(ALLOCS, lookup, ROOT,
                                            host_level=True)
    assert reqs == [requirements.Requirement(None, frozenset([SPCI]),
                                             (ROOT,))]
    assert reqs[0].host_level


def test_untracked_instance_has_no_requirement():
    assert requirements.source_requirements(ALLOCS, traits_of({}),
                                            ROOT, True) == []


def candidate(**rps):
    return {'allocations': {rp: {'resources': res}
                            for rp, res in rps.items()}}


REQ = requirements.Requirement(frozenset(['VGPU']), frozenset([S1, S2]),
                               (PGPU1,))


def test_candidate_needs_every_string_on_every_device_provider():
    accepting = {S1: {'d1', 'd2'}, S2: {'d1'}}
    ok = candidate(droot={'VCPU': 2}, d1={'VGPU': 1})
    assert requirements.check_candidate(ok, [REQ], accepting) is None
    bad = candidate(droot={'VCPU': 2}, d2={'VGPU': 1})
    shortfall = requirements.check_candidate(bad, [REQ], accepting)
    assert (shortfall.provider, shortfall.token) == ('d2', S2)
    both = candidate(d1={'VGPU': 1}, d2={'VGPU': 1})
    assert requirements.check_candidate(both, [REQ], accepting).provider \
        == 'd2'


def test_candidate_without_a_provider_of_the_class_fails():
    shortfall = requirements.check_candidate(
        candidate(droot={'VCPU': 2}), [REQ], {S1: {'x'}, S2: {'x'}})
    assert shortfall.provider is None and shortfall.token is None


def test_host_level_requirement():
    req = requirements.Requirement(None, frozenset([SPCI]), (ROOT,))
    assert requirements.check_host('h1', [req], {SPCI: {'h1'}}) is None
    assert requirements.check_host('h2', [req],
                                   {SPCI: {'h1'}}).provider == 'h2'


def test_host_without_candidates_needs_one_provider_accepting_all():
    found = requirements.Acceptance(
        strings={}, accepting={S1: {'d1', 'd3'}, S2: {'d2', 'd3'}},
        roots={'d1': 'h1', 'd2': 'h1', 'd3': 'h2'})
    # h1 has one provider per string, but none with both.
    assert requirements.check_host_providers('h1', [REQ], found) is not None
    assert requirements.check_host_providers('h2', [REQ], found) is None
    assert found.on_host(S1, 'h1') == {'d1'}
    assert found.on_host(S1, 'h3') == set()
