"""VM markers, through ``nova-migcompat-agent --once`` on FUSE trees.

node-a's pGPU 0000:81:00.0 holds mdevs whose ``migration_version`` is
their own; libvirt's running domains (``[migcompat]libvirt_domains_dir``)
say which instance holds which.  The agent marks each instance's string
on the pGPU's provider, removes the marker when the device goes, reads
the domains with bounds and marks at most the budget of a provider.
"""

import uuid

from nova_migcompat.agent import provider_names
from nova_migcompat.agent import reporter
from nova_migcompat import codec
from tests.functional.agent import test_hardening

PGPU = '0000:81:00.0'
VERSION_REGEX = r'"major":(?P<major>\d+),"minor":(?P<minor>\d+)'


def mdev_string(minor):
    return ('{"device_api":"vfio-pci","vendor":"nvidia","version":'
            '{"major":2,"minor":%d},"mdev_attrs":[{"mdev_type":'
            '"nvidia-35"}]}' % minor)


def domain_xml(instance, mdevs, doctype=''):
    hostdevs = ''.join(
        "<hostdev mode='subsystem' type='mdev' model='vfio-pci'>"
        "<source><address uuid='%s'/></source></hostdev>" % m for m in mdevs)
    return ("%s<domstatus state='running'><domain type='kvm'>"
            "<name>instance-%s</name><uuid>%s</uuid><devices>%s</devices>"
            "</domain></domstatus>" % (doctype, instance[:8], instance,
                                       hostdevs))


def spec_with_mdevs(example_spec, minors):
    """nvidia-a with one mdev per minor version on pGPU 0000:81:00.0."""
    spec = example_spec('nvidia-a')
    pgpu = [d for d in spec['pci'] if d['address'] == PGPU][0]
    pgpu['mdev_types'][0]['available_instances'] = 128
    pgpu['mdevs'] = [
        {'uuid': str(uuid.UUID(int=i + 1)), 'type': 'nvidia-35',
         'migration_version': {'string': mdev_string(minor),
                               'policy': 'same_major',
                               'version_regex': VERSION_REGEX}}
        for i, minor in enumerate(minors)]
    return spec, [m['uuid'] for m in pgpu['mdevs']]


def markers_of(placement_api, rp):
    return {t for t in placement_api.traits(rp)
            if (codec.parse_trait(t) or ('',))[0] == codec.VM}


def setup(tmp_path, placement_api, placement_http, emulated_sysfs,
          example_spec, minors):
    tree = placement_api.create_compute('node-a', (PGPU,))
    rp = tree[provider_names.pgpu_provider_name('node-a', PGPU)]
    spec, mdevs = spec_with_mdevs(example_spec, minors)
    fs = emulated_sysfs(spec)
    domains = tmp_path / 'qemu'
    domains.mkdir()
    conf = test_hardening.write_conf(
        tmp_path / 'a' / 'agent.conf', placement_http, fs.root,
        libvirt_domains_dir=domains)
    return rp, mdevs, domains, conf


def once(conf):
    result = test_hardening.agent('--config-file', conf, '--once')
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_an_instances_string_is_marked_while_its_device_is_there(
        tmp_path, placement_api, placement_http, emulated_sysfs,
        example_spec):
    rp, mdevs, domains, conf = setup(tmp_path, placement_api,
                                     placement_http, emulated_sysfs,
                                     example_spec, (1, 3))
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    (domains / 'instance-1.xml').write_text(domain_xml(first, mdevs[:1]))
    (domains / 'instance-2.xml').write_text(domain_xml(second, mdevs[1:]))
    once(conf)
    ids = [codec.encode_string(mdev_string(m)).id for m in (1, 3)]
    assert markers_of(placement_api, rp) == {
        codec.marker_trait(first, ids[0]), codec.marker_trait(second, ids[1])}
    # Both strings are published, the markers name them.
    traits = placement_api.traits(rp)
    assert {codec.trait(codec.SRC, i) for i in ids} <= traits
    # The second instance goes (its domain ends): its marker goes.
    (domains / 'instance-2.xml').unlink()
    once(conf)
    assert markers_of(placement_api, rp) == {
        codec.marker_trait(first, ids[0])}


def test_domains_are_read_with_bounds(tmp_path, placement_api,
                                      placement_http, emulated_sysfs,
                                      example_spec):
    rp, mdevs, domains, conf = setup(tmp_path, placement_api,
                                     placement_http, emulated_sysfs,
                                     example_spec, (1, 3))
    planted = str(uuid.uuid4())
    # Entities (a billion laughs), a link out of the directory, garbage:
    # none says anything.
    (domains / 'entities.xml').write_text(domain_xml(
        planted, mdevs[:1],
        doctype='<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">]>'))
    outside = tmp_path / 'outside.xml'
    outside.write_text(domain_xml(planted, mdevs[1:]))
    (domains / 'link.xml').symlink_to(outside)
    (domains / 'garbage.xml').write_text('<domstatus><domain>')
    once(conf)
    assert markers_of(placement_api, rp) == set()


def test_markers_are_bounded_per_provider(tmp_path, placement_api,
                                          placement_http, emulated_sysfs,
                                          example_spec):
    count = reporter.MAX_MARKERS_PER_PROVIDER + 6
    rp, mdevs, domains, conf = setup(tmp_path, placement_api,
                                     placement_http, emulated_sysfs,
                                     example_spec, [1] * count)
    for i, mdev in enumerate(mdevs):
        (domains / ('instance-%d.xml' % i)).write_text(
            domain_xml(str(uuid.uuid4()), [mdev]))
    err = once(conf)
    assert len(markers_of(placement_api, rp)) == \
        reporter.MAX_MARKERS_PER_PROVIDER
    assert err.count('VM markers for %d of them only'
                     % reporter.MAX_MARKERS_PER_PROVIDER) == 1, err
    assert 'has devices of %d instances' % count in err
