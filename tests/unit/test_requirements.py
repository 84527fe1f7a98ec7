"""What a live migration requires of a destination, from placement data."""

import hypothesis
from hypothesis import strategies as st
import pytest

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
    reqs = requirements.read_source(ALLOCS, lookup, ROOT).requirements
    # One per device: each pGPU's own strings, and what it holds there.
    assert reqs == [
        requirements.Requirement(frozenset(['VGPU']), frozenset([S1]),
                                 (PGPU1,), (('VGPU', 1),)),
        requirements.Requirement(frozenset(['VGPU']), frozenset([S2]),
                                 (PGPU2,), (('VGPU', 1),))]
    # Without PCI devices the root's traits are not even read.
    assert ROOT not in lookup.calls


def test_host_level_strings_for_instances_with_pci_devices():
    lookup = traits_of({ROOT: {src(SPCI)}})
    reqs = requirements.read_source(ALLOCS, lookup, ROOT,
                                    host_level=True).requirements
    assert reqs == [requirements.Requirement(None, frozenset([SPCI]),
                                             (ROOT,))]
    assert reqs[0].host_level


def test_untracked_instance_has_no_requirement():
    source = requirements.read_source(ALLOCS, traits_of({}), ROOT, True)
    assert source.requirements == [] and source.refusals == []
    assert source.untracked
    # Nothing of ours on its devices: the root says whether an agent runs.
    assert source.managed is False
    assert requirements.read_source(
        ALLOCS, traits_of({ROOT: {codec.REPORTED_TRAIT}}),
        ROOT).managed is True


def test_managed_devices_without_a_string_refuse():
    nosrc = codec.nosrc_trait(codec.NO_STRING)
    source = requirements.read_source(
        ALLOCS, traits_of({PGPU1: {src(S1)}, PGPU2: {nosrc}}), ROOT)
    # One device of the instance cannot be judged: refused, whatever the
    # other one's string.
    [refusal] = source.refusals
    assert refusal.kind == requirements.UNJUDGED
    assert refusal.provider == PGPU2
    assert 'no migration_version attribute' in refusal.detail
    assert not source.untracked
    # A reason of a newer release refuses too, named by its code.
    source = requirements.read_source(
        ALLOCS, traits_of({PGPU1: {'CUSTOM_MIGCOMPAT_NOSRC_FUTURE9'}}), ROOT)
    assert 'reason FUTURE9' in source.refusals[0].detail


def test_undecodable_source_strings_refuse():
    newer, corrupt = '3P' + S1[2:], '1P' + 'Z' * 40
    source = requirements.read_source(
        ALLOCS, traits_of({PGPU1: {src(S1), src(newer)},
                           PGPU2: {src(corrupt)}}), ROOT)
    assert [r.kind for r in source.refusals] == [
        requirements.UNDECODABLE] * 2
    assert 'from a newer release' in source.refusals[0].detail
    assert 'corrupt' in source.refusals[1].detail
    # What decodes is still required (explain shows it).
    assert source.requirements[0].tokens == frozenset([S1])


def test_look_alike_traits_are_not_ours():
    # placement's startswith: is an SQL LIKE; names that only look like
    # ours are neither strings nor refusals.
    source = requirements.read_source(
        ALLOCS, traits_of({PGPU1: {'CUSTOM_MIGCOMPATXSRC_' + S1,
                                   'CUSTOM_MIGCOMPAT_NOSRC_bad',
                                   'CUSTOM_MIGCOMPAT_SRC__' + S1}}), ROOT)
    assert source.untracked


def candidate(**rps):
    return {'allocations': {rp: {'resources': res}
                            for rp, res in rps.items()}}


REQ = requirements.Requirement(frozenset(['VGPU']), frozenset([S1, S2]),
                               (PGPU1,))


def acceptance(accepting, roots):
    """Who accepts: ``{token: providers}``, ``roots`` giving their roots."""
    return requirements.Acceptance(
        strings={}, accepting={token: {rp: roots.get(rp) for rp in rps}
                               for token, rps in accepting.items()})


def judge(host, reqs, found, candidates=None):
    return requirements.judge_host(host, reqs, found, candidates)


def test_candidate_needs_every_string_on_every_device_provider():
    found = acceptance({S1: {'d1', 'd2'}, S2: {'d1'}},
                       {'d1': 'droot', 'd2': 'droot'})
    ok = candidate(droot={'VCPU': 2}, d1={'VGPU': 1})
    bad = candidate(droot={'VCPU': 2}, d2={'VGPU': 1})
    both = candidate(d1={'VGPU': 1}, d2={'VGPU': 1})
    judgement = judge('droot', [REQ], found, [ok, bad, both])
    assert judgement.accepts
    assert judgement.candidates == [ok]
    judgement = judge('droot', [REQ], found, [bad, both])
    assert not judgement.accepts and judgement.candidates == []
    [shortfall] = judgement.shortfalls
    assert (shortfall.provider, shortfall.tokens) == ('d2', {S2})


def test_candidate_without_a_provider_of_the_class_fails():
    found = acceptance({S1: {'x'}, S2: {'x'}}, {'x': 'droot'})
    judgement = judge('droot', [REQ], found, [candidate(droot={'VCPU': 2})])
    [shortfall] = judgement.shortfalls
    assert shortfall.provider is None and shortfall.tokens == {S1, S2}


def test_host_level_requirement():
    req = requirements.Requirement(None, frozenset([SPCI]), (ROOT,))
    found = acceptance({SPCI: {'h1'}}, {'h1': 'h1'})
    assert judge('h1', [req], found).accepts
    assert judge('h1', [req], found).devices == {'h1'}
    [shortfall] = judge('h2', [req], found).shortfalls
    assert shortfall.provider == 'h2'
    # Candidates do not matter to a host-level requirement.
    assert not judge('h2', [req], found, [candidate(h2={'VCPU': 1})]).accepts


def test_host_without_candidates_needs_one_provider_accepting_all():
    found = acceptance({S1: {'d1', 'd3'}, S2: {'d2', 'd3'}},
                       {'d1': 'h1', 'd2': 'h1', 'd3': 'h2'})
    # h1 has one provider per string, but none with both.
    h1 = judge('h1', [REQ], found)
    assert not h1.accepts
    assert h1.shortfalls[0].tokens in ({S1}, {S2})
    h2 = judge('h2', [REQ], found)
    assert h2.accepts and h2.devices == {'d3'}
    assert not judge('h3', [REQ], found).accepts
    # With candidates the same rule: one candidate per pGPU of h1.
    per_pgpu = [candidate(h1={'VCPU': 1}, d1={'VGPU': 1}),
                candidate(h1={'VCPU': 1}, d2={'VGPU': 1})]
    assert not judge('h1', [REQ], found, per_pgpu).accepts


def test_a_root_accepting_does_not_stand_in_for_a_device():
    found = acceptance({S1: {'h1'}, S2: {'h1'}}, {'h1': 'h1'})
    assert not judge('h1', [REQ], found).accepts


def test_a_device_of_another_tree_never_accepts_for_a_host():
    # A candidate of h1 allocating the vGPU from a provider of another
    # tree (a sharing provider) that accepts: the state would not move
    # into a device of h1.
    found = acceptance({S1: {'d1', 'shared'}, S2: {'d1', 'shared'}},
                       {'d1': 'h1', 'shared': 'shared'})
    elsewhere = candidate(h1={'VCPU': 1}, shared={'VGPU': 1})
    own = candidate(h1={'VCPU': 1}, d1={'VGPU': 1})
    judgement = judge('h1', [REQ], found, [elsewhere])
    assert not judgement.accepts
    assert (judgement.shortfalls[0].provider,
            judgement.shortfalls[0].tokens) == ('shared', {S1, S2})
    assert requirements.Rule([REQ], found).keep('h1', [elsewhere]) == []
    assert requirements.Rule([REQ], found).keep(
        'h1', [elsewhere, own]) == [own]
    # The same with two resource classes (Rule's general way).
    two = requirements.Requirement(frozenset(['VGPU', 'CUSTOM_X']),
                                   REQ.tokens, REQ.sources)
    assert requirements.Rule([two], found).keep('h1', [elsewhere]) == []


@hypothesis.given(
    accepting=st.dictionaries(
        st.sampled_from([S1, S2, SPCI]),
        st.sets(st.sampled_from(['h1', 'd1', 'd2', 'd3', 'x1'])),
        max_size=3),
    host_level=st.booleans(),
    classes=st.sampled_from([('VGPU',), ('VGPU', 'CUSTOM_X')]),
    candidates=st.lists(
        st.dictionaries(
            st.sampled_from(['h1', 'd1', 'd2', 'd3', 'x1']),
            st.sampled_from([{'VGPU': 1}, {'VCPU': 1},
                             {'VGPU': 1, 'VCPU': 1}, {'CUSTOM_X': 1}]),
            max_size=3),
        min_size=1, max_size=4))
def test_the_schedulers_rule_is_judge_hosts(accepting, host_level, classes,
                                            candidates):
    # One resource class without PCI strings takes Rule's short way.
    reqs = [requirements.Requirement(frozenset(classes),
                                     frozenset([S1, S2]), ('s1',))]
    if host_level:
        reqs.append(requirements.Requirement(None, frozenset([SPCI]),
                                             ('sroot',)))
    # x1 is a provider of another tree (a sharing provider), d3's root
    # is not known.
    roots = dict.fromkeys(('h1', 'd1', 'd2'), 'h1')
    found = acceptance(accepting, dict(roots, x1='x1', d3=None))
    cands = [candidate(**allocs) for allocs in candidates]
    kept = requirements.Rule(reqs, found).keep('h1', cands)
    judgement = judge('h1', reqs, found, cands)
    assert judgement.accepts == bool(kept)
    assert (judgement.candidates or []) == kept


def test_a_host_with_many_accepting_devices():
    # Beyond TUPLE_MOST devices a host's accepting providers are a set.
    devices = ['d%d' % i for i in range(12)]
    found = acceptance({S1: set(devices), S2: set(devices[:10])},
                       dict.fromkeys(devices, 'h1'))
    assert found.trees(frozenset([S1]))['h1'] == frozenset(devices)
    cands = [candidate(h1={'VCPU': 1}, **{rp: {'VGPU': 1}})
             for rp in devices]
    kept = requirements.Rule([REQ], found).keep('h1', cands)
    assert kept == cands[:10]
    assert judge('h1', [REQ], found, cands).candidates == kept


def test_listings_given_as_plain_mappings():
    # find_accepting's listing callable may give {uuid: root}.
    req = requirements.Requirement(frozenset(['VGPU']), frozenset([S1]),
                                   (PGPU1,))
    found = requirements.find_accepting(
        None, [req], lambda client, token: {'d1': 'h1'})
    own = candidate(h1={'VCPU': 1}, d1={'VGPU': 1})
    assert requirements.Rule([req], found).keep('h1', [own]) == [own]
    assert judge('h1', [req], found, [own]).accepts


@pytest.mark.parametrize('reqs', [[REQ], [requirements.Requirement(
    frozenset(['VGPU', 'CUSTOM_X']), REQ.tokens, REQ.sources)]])
def test_resources_of_another_shape_are_never_read_as_accepting(reqs):
    # d2 does not accept; its resources are not a mapping, so what it
    # allocates is unknown: both ways of the rule raise (the filter then
    # follows on_error), neither keeps the candidate.
    found = acceptance({S1: {'d1'}, S2: {'d1'}},
                       {'d1': 'h1', 'd2': 'h1'})
    odd = {'allocations': {'d1': {'resources': {'VGPU': 1}},
                           'd2': {'resources': 'VCPU'}}}
    with pytest.raises(AttributeError):
        requirements.Rule(reqs, found).keep('h1', [odd])
    with pytest.raises(AttributeError):
        judge('h1', reqs, found, [odd])
