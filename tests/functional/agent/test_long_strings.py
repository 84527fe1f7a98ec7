"""Strings longer than one trait, through ``nova-migcompat-agent --once``.

Two hosts on FUSE trees whose devices report 1,000-byte strings (a long
``migration_version``, the size of NVIDIA's vGPU metadata), against real
placement over HTTP.  node-a's string (version 2.1) is published in parts;
node-b (2.3, same major) accepts it with one ACC trait naming the string's
id.  A part missing, extra, duplicated with other content, foreign or
corrupted makes the string unknown to node-b, with a log line; a hostile
catalog of parts is bounded.
"""

import os
import random
import subprocess
import sys

import pytest

from nova_migcompat.agent import provider_names
from nova_migcompat import codec
from nova_migcompat import requirements

PGPU = '0000:81:00.0'
BOUND = 120
REGEX = r'"major":(?P<major>\d+),"minor":(?P<minor>\d+)'


def long_string(minor, size=1000):
    """A vendor descriptor of ``size`` bytes, version 2.<minor>.

    Its capabilities are random hex (the same for every minor), so it
    does not compress into one trait.
    """
    rand = random.Random(20261207)
    head = '{"vendor":"acme","version":{"major":2,"minor":%d},"caps":"' \
        % minor
    caps = ''.join(rand.choice('0123456789abcdef')
                   for _ in range(size - len(head) - 2))
    text = head + caps + '"}'
    assert len(text) == size
    return text


def spec_with(example_spec, string):
    spec = example_spec('nvidia-a')
    attr = {'string': string, 'policy': 'same_major',
            'version_regex': REGEX}
    for device in spec['pci']:
        for mdev_type in device.get('mdev_types', ()):
            mdev_type['migration_version'] = dict(attr)
        for mdev in device.get('mdevs', ()):
            mdev['migration_version'] = dict(attr)
    return spec


def env():
    found = dict(os.environ)
    found['PYTHONPATH'] = os.pathsep.join(
        [os.getcwd()] + [p for p in found.get('PYTHONPATH', '').split(
            os.pathsep) if p])
    return found


class Hosts(object):
    """node-a (2.1) and node-b (2.3), each with its configuration file."""

    def __init__(self, tmp_path, placement_api, endpoint, emulated_sysfs,
                 example_spec):
        self.api = placement_api
        self.strings = {'node-a': long_string(1), 'node-b': long_string(3)}
        self.fs, self.confs, self.pgpus = {}, {}, {}
        for node, string in self.strings.items():
            tree = placement_api.create_compute(node, (PGPU,))
            self.pgpus[node] = tree[provider_names.pgpu_provider_name(
                node, PGPU)]
            self.fs[node] = emulated_sysfs(spec_with(example_spec, string))
            path = tmp_path / node / 'agent.conf'
            path.parent.mkdir()
            path.write_text('\n'.join([
                '[placement]', 'auth_type = admin_token',
                'endpoint = %s' % endpoint, 'token = admin',
                'endpoint_override = %s' % endpoint, '', '[migcompat]',
                'nodename = %s' % node,
                'sysfs_root = %s' % self.fs[node].root,
                'state_path = %s' % (path.parent / 'state'),
                'lock_path = %s' % (path.parent / 'agent.lock')]) + '\n')
            self.confs[node] = str(path)

    def once(self, node):
        result = subprocess.run(
            [sys.executable, '-m', 'nova_migcompat.cmd.agent',
             '--config-file', self.confs[node], '--once'],
            capture_output=True, text=True, env=env(), timeout=BOUND)
        assert result.returncode == 0, result.stderr
        return result.stderr

    def traits(self, node):
        return self.api.traits(self.pgpus[node])

    def set_traits(self, node, names):
        body = self.api.ok('GET', '/resource_providers/%s/traits'
                           % self.pgpus[node])
        for name in names:
            self.api.ok('PUT', '/traits/%s' % name)
        self.api.ok('PUT', '/resource_providers/%s/traits'
                    % self.pgpus[node],
                    {'traits': sorted(names),
                     'resource_provider_generation':
                         body['resource_provider_generation']})


@pytest.fixture
def hosts(tmp_path, placement_api, placement_http, emulated_sysfs,
          example_spec):
    return Hosts(tmp_path, placement_api, placement_http, emulated_sysfs,
                 example_spec)


def sources(traits):
    return sorted(codec.parse_trait(t)[1] for t in traits
                  if (codec.parse_trait(t) or ('',))[0] == codec.SRC)


def test_a_1000_byte_string_round_trips_exactly(hosts):
    for node in ('node-a', 'node-b', 'node-a'):
        hosts.once(node)
    long_a = codec.encode_string(hosts.strings['node-a'])
    long_b = codec.encode_string(hosts.strings['node-b'])
    assert 3 <= len(long_a.parts) <= codec.MAX_PARTS
    # node-a publishes its string in parts, and accepts it by its id.
    a_traits = hosts.traits('node-a')
    assert sources(a_traits) == sorted(long_a.parts)
    assert codec.trait(codec.ACC, long_a.id) in a_traits
    # Read back from placement: the exact 1,000 bytes.
    assembled = codec.assemble(sources(a_traits))
    assert assembled.problems == {}
    assert assembled.strings == {long_a.id: hosts.strings['node-a']}
    # node-b wrote exactly that string into its device, which accepted
    # it (same major, older minor), and says so by the id alone.
    written = [e for e in hosts.fs['node-b'].writes()
               if e['op'] != 'read' and
               e['data'].rstrip('\n') == hosts.strings['node-a']]
    assert written and {e['result'] for e in written} == {'ok'}
    b_traits = hosts.traits('node-b')
    assert codec.trait(codec.ACC, long_a.id) in b_traits
    assert codec.trait(codec.ACC, long_b.id) in b_traits
    assert codec.trait(codec.ACC, long_b.id) not in a_traits
    # Every trait is a valid custom trait, and the filter's reading of
    # node-a's provider is that one string.
    for name in a_traits | b_traits:
        assert len(name) <= 255 and name.startswith('CUSTOM_')
    source = requirements.read_source(
        {hosts.pgpus['node-a']: {'resources': {'VGPU': 1}}},
        lambda rp: a_traits, 'root-a')
    assert not source.refusals
    (req,) = source.requirements
    assert set(req.tokens) == {long_a.id}
    assert source.strings[long_a.id] == hosts.strings['node-a']


def _missing(parts, other):
    return parts[1:]


def _extra(parts, other):
    # A part numbered beyond the string's count.
    last = parts[-1]
    index = codec.ID_LEN
    return parts + [last[:index] + codec.TOKEN_ALPHABET[len(parts)] +
                    last[index + 1:]]


def _duplicated(parts, other):
    # Part 1 twice, the second with other content.
    first = parts[0]
    changed = first[:-1] + ('0' if first[-1] != '0' else '1')
    return parts + [changed]


def _foreign(parts, other):
    # Part 2 of another string of the same shape, under this id.
    return [parts[0], parts[0][:codec.ID_LEN] + other[1][codec.ID_LEN:]] + \
        parts[2:]


def _corrupted(parts, other):
    second = parts[1]
    return [parts[0], second[:-3] + second[-1:-4:-1]] + parts[2:]


@pytest.mark.parametrize('damage, words', [
    (_missing, 'incomplete: part 1 of'),
    (_extra, 'no valid index and count'),
    (_duplicated, 'part 0 has two contents'),
    (_foreign, 'do not match their digest'),
    (_corrupted, 'do not match their digest'),
])
def test_a_broken_long_string_is_unknown_to_every_target(hosts, damage,
                                                         words):
    hosts.once('node-a')
    hosts.once('node-b')
    long_a = codec.encode_string(hosts.strings['node-a'])
    acc_a = codec.trait(codec.ACC, long_a.id)
    assert acc_a in hosts.traits('node-b')
    other = codec.encode_string(long_string(1, size=999)).parts
    # node-a's published parts are damaged (node-a stays down: nothing
    # repairs them).
    kept = [t for t in hosts.traits('node-a')
            if (codec.parse_trait(t) or ('',))[0] != codec.SRC]
    broken = damage(list(long_a.parts), list(other))
    assert broken != list(long_a.parts)
    hosts.set_traits('node-a', kept + [codec.trait(codec.SRC, p)
                                       for p in broken])
    err = hosts.once('node-b')
    # Unknown to node-b: its acceptance is withdrawn, never guessed.
    assert acc_a not in hosts.traits('node-b')
    lines = [line for line in err.splitlines()
             if 'Ignoring trait %s' % codec.trait(codec.SRC, long_a.id)
             in line]
    assert len(lines) == 1 and words in lines[0], err
    # The filter refuses node-a's servers, saying why.
    source = requirements.read_source(
        {hosts.pgpus['node-a']: {'resources': {'VGPU': 1}}},
        lambda rp: hosts.traits('node-a'), 'root-a')
    (refusal,) = source.refusals
    assert refusal.kind == requirements.UNDECODABLE
    assert words in refusal.detail
    # node-a's next cycle repairs its parts; node-b accepts again.
    hosts.once('node-a')
    assert sources(hosts.traits('node-a')) == sorted(long_a.parts)
    hosts.once('node-b')
    assert acc_a in hosts.traits('node-b')


def plant(placement_api, rp, names):
    """Define many traits at once and put them on a provider.

    The definitions go straight into placement's database (planting them
    one ``PUT /traits`` at a time would only be slower); the provider's
    traits are set through the API, with its generation.
    """
    from placement.db.sqlalchemy import models
    from placement import db_api

    table = models.Trait.__table__
    engine = db_api.placement_context_manager.writer.get_engine()
    with engine.begin() as conn:
        have = {row[0] for row in conn.execute(
            table.select().with_only_columns(table.c.name))}
        new = [{'name': n} for n in names if n not in have]
        if new:
            conn.execute(table.insert(), new)
    body = placement_api.ok('GET', '/resource_providers/%s/traits' % rp)
    placement_api.ok('PUT', '/resource_providers/%s/traits' % rp, {
        'traits': sorted(set(body['traits']) | set(names)),
        'resource_provider_generation':
            body['resource_provider_generation']})


def hostile_parts():
    """3,000 parts with one digest, and one part of each of 10,000 ids."""
    rand = random.Random(7)
    alphabet = codec.TOKEN_ALPHABET

    def payload(n):
        return ''.join(rand.choice(alphabet) for _ in range(n))

    one_id = '2P' + payload(codec.ID_LEN - 2)
    same = {one_id + alphabet[i % 8] + '8' + payload(40)
            for i in range(3000)}
    many = {'2D' + payload(codec.ID_LEN - 2) + '02' + payload(40)
            for _ in range(10000)}
    return one_id, sorted(same), sorted(many)


def test_a_hostile_catalog_of_parts_is_bounded(hosts, placement_api):
    one_id, same, many = hostile_parts()
    intruder = placement_api.create_provider('intruder')
    plant(placement_api, intruder, [codec.trait(codec.SRC, p)
                                    for p in same + many])
    # Some planted on node-b's own provider too.
    plant(placement_api, hosts.pgpus['node-b'],
          [codec.trait(codec.SRC, p) for p in many[:300]])
    hosts.once('node-a')
    err = hosts.once('node-b')
    hosts.once('node-a')
    long_a = codec.encode_string(hosts.strings['node-a'])
    # The fleet's real strings are unaffected.
    assert codec.trait(codec.ACC, long_a.id) in hosts.traits('node-b')
    # None of the planted ids is a string anywhere: nothing accepted.
    accepted = {codec.parse_trait(t)[1] for t in
                hosts.traits('node-a') | hosts.traits('node-b')
                if (codec.parse_trait(t) or ('',))[0] == codec.ACC}
    assert accepted == {long_a.id, codec.encode_string(
        hosts.strings['node-b']).id}
    # node-b removed the parts planted on its own provider.
    assert sources(hosts.traits('node-b')) == sorted(
        codec.encode_string(hosts.strings['node-b']).parts)
    # Bounded log: 20 lines naming the ignored traits, then a count.
    ignoring = [line for line in err.splitlines() if 'Ignoring' in line]
    assert len(ignoring) == 21, err[-3000:]
    assert 'Ignoring 9981 more traits that do not decode' in ignoring[-1]
