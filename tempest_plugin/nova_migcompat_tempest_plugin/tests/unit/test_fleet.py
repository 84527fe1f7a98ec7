#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""The tests' expectations, from placement snapshots (no cloud)."""

from nova_migcompat import codec

from nova_migcompat_tempest_plugin.common import fleet
from nova_migcompat_tempest_plugin.common import traits as migtraits

#: Two strings and their tokens (made with the product's codec).
S21 = 'nvidia 2.1 10de:0ffe nvidia-11'
S31 = 'nvidia 3.1 10de:0ffe nvidia-11'
VF = 'pci-vf mlx5 1.0'
T21, T31, TVF = codec.encode(S21), codec.encode(S31), codec.encode(VF)


def src(token):
    return migtraits.SRC_PREFIX + token


def acc(token):
    return migtraits.ACC_PREFIX + token


def inv(total, **extra):
    record = {'total': total, 'reserved': 0, 'allocation_ratio': 1.0,
              'min_unit': 1, 'max_unit': total, 'step_size': 1}
    record.update(extra)
    return record


def host(name, pgpus, root_traits=(), used=None):
    """A compute node tree: root ``name``, pGPUs ``{suffix: traits}``."""
    used = used or {}
    providers = [fleet.Provider(
        uuid=name, name=name, root=name, traits=frozenset(root_traits),
        inventories={'VCPU': inv(8), 'MEMORY_MB': inv(8192)})]
    for suffix, traits in pgpus.items():
        uuid = '%s-%s' % (name, suffix)
        providers.append(fleet.Provider(
            uuid=uuid, name='%s_pci_0000_%s_00_0' % (name, suffix),
            root=name, parent=name, traits=frozenset(traits),
            inventories={'VGPU': inv(2)},
            usages={'VGPU': used.get(suffix, 0)}))
    return providers


def make(*trees):
    return fleet.Fleet.of([p for tree in trees for p in tree])


def alloc(**by_rp):
    return {rp.replace('__', '-'): {'resources': res}
            for rp, res in by_rp.items()}


SOURCE_ALLOC = alloc(src={'VCPU': 1, 'MEMORY_MB': 512},
                     src__81={'VGPU': 1})


def fleet_of_four():
    return make(
        host('src', {'81': [src(T21), acc(T21)]}),
        host('old', {'81': [src(T31)]}),
        host('new', {'81': [src(T21), acc(T21)], '82': [acc(T31)]}),
        host('full', {'81': [src(T21), acc(T21)]}, used={'81': 2}))


def test_prefixes_are_the_codecs():
    assert migtraits.SRC_PREFIX == codec.SRC_PREFIX
    assert migtraits.ACC_PREFIX == codec.ACC_PREFIX
    assert migtraits.acc_trait(T21) == codec.trait(codec.ACC, T21)


def test_tokens_are_read_by_name_only():
    traits = [src(T21), acc(T31), 'CUSTOM_MIGCOMPAT_SRC_', 'HW_CPU_X86_AVX',
              'CUSTOM_MIGCOMPAT_OTHER_X']
    assert migtraits.src_tokens(traits) == {T21}
    assert migtraits.acc_tokens(traits) == {T31}
    assert migtraits.ours(traits) == sorted(
        [src(T21), acc(T31), 'CUSTOM_MIGCOMPAT_SRC_',
         'CUSTOM_MIGCOMPAT_OTHER_X'])


def test_malformed_traits_are_named_by_the_codec():
    bad = migtraits.malformed([src(T21), acc(T31), src('9P123'),
                               'CUSTOM_MIGCOMPAT_SRC_', 'HW_CPU_X86_AVX',
                               codec.REPORTED_TRAIT,
                               codec.agent_trait('ABCDEFGH12345678'),
                               codec.nosrc_trait(codec.NO_STRING),
                               'CUSTOM_MIGCOMPAT_OTHER_X'])
    assert sorted(bad) == ['CUSTOM_MIGCOMPAT_OTHER_X',
                           'CUSTOM_MIGCOMPAT_SRC_', src('9P123')]
    assert all(bad.values())


def test_the_marks_of_a_node_are_not_claims_about_devices():
    marks = [codec.REPORTED_TRAIT, codec.agent_trait('ABCDEFGH12345678')]
    assert migtraits.REPORTED == codec.REPORTED_TRAIT
    assert migtraits.device_claims(marks) == []
    nosrc = codec.nosrc_trait(codec.NOT_MIGRATABLE)
    assert migtraits.device_claims(marks + [src(T21), nosrc]) == sorted(
        [src(T21), nosrc])
    assert migtraits.nosrc_reasons([nosrc]) == [codec.NOT_MIGRATABLE]


def test_describe_quotes_the_decoded_string():
    assert migtraits.describe(T21) == repr(S21)
    assert migtraits.describe(codec.encode('x' * 200)).endswith("...'")


def test_device_providers_are_the_pgpus_with_inventory():
    f = make(host('a', {'81': [], '82': []}), [
        fleet.Provider('a-nic', 'a:Open vSwitch agent', 'a', 'a'),
        fleet.Provider('b-gpu', 'a_pci_0000_83_00_0', 'a', 'a'),
    ])
    assert [p.uuid for p in f.device_providers('a', 'VGPU')] == [
        'a-81', 'a-82']
    assert f.device_providers('a', 'CUSTOM_X') == []
    assert f.device_providers('nowhere', 'VGPU') == []


def test_tracked_providers_add_those_with_our_traits():
    f = make(host('a', {'81': []}, root_traits=[src(TVF), 'COMPUTE_NODE']),
             host('b', {}, root_traits=['COMPUTE_NODE']))
    assert [p.uuid for p in f.tracked_providers('a', 'VGPU')] == [
        'a', 'a-81']
    assert f.tracked_providers('b', 'VGPU') == []


def test_requirements_come_from_the_source_allocations():
    reqs = fleet.requirements(SOURCE_ALLOC, fleet_of_four(), 'src')
    assert reqs == [fleet.Requirement(frozenset({'VGPU'}), frozenset({T21}),
                                      ('src-81',))]
    assert reqs[0].resources == {'VGPU': 1}


def test_no_requirement_without_src_traits():
    f = make(host('src', {'81': [acc(T21)]}))
    assert fleet.requirements(SOURCE_ALLOC, f, 'src') == []


def test_pci_devices_add_the_root_strings():
    f = make(host('src', {'81': [src(T21)]}, root_traits=[src(TVF)]))
    reqs = fleet.requirements(SOURCE_ALLOC, f, 'src', host_level=True)
    assert [(r.resource_classes, r.tokens) for r in reqs] == [
        (frozenset({'VGPU'}), {T21}), (None, {TVF})]
    assert reqs[1].host_level
    # Without flavor PCI devices, the root's strings are not required.
    assert len(fleet.requirements(SOURCE_ALLOC, f, 'src')) == 1


def test_two_vgpus_on_two_pgpus_need_both_strings():
    f = make(host('src', {'81': [src(T21)], '82': [src(T31)]}))
    reqs = fleet.requirements(
        alloc(src__81={'VGPU': 1}, src__82={'VGPU': 1}), f, 'src')
    assert len(reqs) == 1 and reqs[0].tokens == {T21, T31}
    assert reqs[0].sources == ('src-81', 'src-82')


def test_accepting_hosts_need_acceptance_and_room():
    f = fleet_of_four()
    reqs = fleet.requirements(SOURCE_ALLOC, f, 'src')
    assert fleet.accepting_hosts(reqs, f, ['old', 'new', 'full']) == {
        'new': frozenset({'new-81'})}


def test_refusing_hosts_have_room_but_no_acceptance():
    f = fleet_of_four()
    reqs = fleet.requirements(SOURCE_ALLOC, f, 'src')
    # full accepts but has no room: placement itself keeps the server away.
    assert fleet.refusing_hosts(reqs, f, ['old', 'new', 'full']) == ['old']


def test_a_host_must_accept_every_string_on_one_provider():
    f = make(host('src', {'81': [src(T21)], '82': [src(T31)]}),
             host('split', {'81': [acc(T21)], '82': [acc(T31)]}),
             host('both', {'81': [acc(T21), acc(T31)]}))
    reqs = fleet.requirements(
        alloc(src__81={'VGPU': 1}, src__82={'VGPU': 1}), f, 'src')
    assert set(fleet.accepting_hosts(reqs, f, ['split', 'both'])) == {'both'}
    assert fleet.refusing_hosts(reqs, f, ['split', 'both']) == ['split']


def test_host_level_acceptance_is_the_roots():
    f = make(host('src', {}, root_traits=[src(TVF)]),
             host('yes', {}, root_traits=[acc(TVF)]),
             host('no', {}, root_traits=[src(TVF)]))
    reqs = fleet.requirements(alloc(src={'VCPU': 1}), f, 'src',
                              host_level=True)
    assert set(fleet.accepting_hosts(reqs, f, ['yes', 'no'])) == {'yes'}
    assert fleet.refusing_hosts(reqs, f, ['yes', 'no']) == ['no']


def test_shortfalls_after_landing():
    f = fleet_of_four()
    reqs = fleet.requirements(SOURCE_ALLOC, f, 'src')
    on_new = alloc(new={'VCPU': 1}, new__81={'VGPU': 1})
    assert fleet.shortfalls(reqs, on_new, f, 'new') == []
    # The same host, but the pGPU that does not accept.
    on_82 = alloc(new={'VCPU': 1}, new__82={'VGPU': 1})
    assert fleet.shortfalls(reqs, on_82, f, 'new') == [
        fleet.Shortfall(reqs[0], 'new-82', frozenset({T21}))]
    on_old = alloc(old={'VCPU': 1}, old__81={'VGPU': 1})
    assert [s.provider for s in fleet.shortfalls(reqs, on_old, f, 'old')] \
        == ['old-81']
    # The device is gone from the allocations: a shortfall too.
    assert fleet.shortfalls(reqs, alloc(new={'VCPU': 1}), f, 'new') == [
        fleet.Shortfall(reqs[0], None, frozenset({T21}))]


def test_capacity_follows_the_inventory():
    p = fleet.Provider('p', 'p', 'p', inventories={
        'VGPU': inv(4, reserved=1, allocation_ratio=1.0, max_unit=2,
                    step_size=1)}, usages={'VGPU': 1})
    assert p.capacity('VGPU') == 3 and p.capacity('PGPU') == 0
    assert p.fits({'VGPU': 2})
    assert not p.fits({'VGPU': 3})           # above max_unit
    assert not p.fits({'PGPU': 1})           # no inventory
    full = fleet.Provider('p', 'p', 'p', inventories=p.inventories,
                          usages={'VGPU': 3})
    assert not full.fits({'VGPU': 1})


#: A string longer than a trait: its parts are several SRC traits, its
#: acceptance one ACC trait of its id.
LONG = 'vendor 1.0 ' + ' '.join('k%03d=%s' % (i, format(i * 7919, 'x'))
                                for i in range(60))
LONG_TOKENS = codec.encode_string(LONG)


def test_a_long_strings_parts_are_one_requirement():
    assert len(LONG_TOKENS.parts) > 1
    traits = [src(p) for p in LONG_TOKENS.parts] + [src(T21)]
    assert migtraits.source_ids(traits) == {LONG_TOKENS.id, T21}
    f = make(host('src', {'81': traits}),
             host('dst', {'81': [acc(LONG_TOKENS.id), acc(T21)]}),
             host('half', {'81': [acc(T21)]}))
    (req,) = fleet.requirements(SOURCE_ALLOC, f, 'src')
    assert req.tokens == {LONG_TOKENS.id, T21}
    assert set(fleet.accepting_hosts([req], f, ['dst', 'half'])) == {'dst'}
    assert migtraits.malformed(traits) == {}


def test_a_long_string_with_a_part_missing_is_malformed():
    traits = [src(p) for p in LONG_TOKENS.parts[1:]]
    ((name, why),) = migtraits.malformed(traits).items()
    assert name.startswith(src(LONG_TOKENS.id))
    assert 'missing' in why


def test_the_markers_of_an_instance_narrow_its_requirement():
    vm = '6f1c3a52-8a0e-4d7e-9a53-2b4b0f0d2e11'
    other = '0d0f2a8e-1111-4f4f-8e8e-0123456789ab'
    traits = [src(T21), src(T31), codec.marker_trait(vm, T21),
              codec.marker_trait(other, T31)]
    assert migtraits.source_ids(traits) == {T21, T31}
    assert migtraits.source_ids(traits, vm) == {T21}
    assert migtraits.source_ids(traits, other) == {T31}
    # An instance without markers there requires every string.
    assert migtraits.source_ids(
        traits, '11111111-2222-4333-8444-555555555555') == {T21, T31}
