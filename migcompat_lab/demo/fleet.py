"""The demo's fleet file: hosts, their pGPU driver versions and weights.

::

    source: src                 # the host the server boots on
    hosts:
      - name: src               # a compute host (also its node name)
        pgpus: ["2.1", "2.1"]   # migration version per pGPU (one or two)
        weight: 0               # optional: scheduler preference
"""

import dataclasses
import os
import re

import yaml

DEFAULT = os.path.join(os.path.dirname(__file__), 'fleet.yaml')
_VERSION = re.compile(r'^\d{1,4}\.\d{1,4}$')
_NAME = re.compile(r'^[a-z][a-z0-9-]{0,31}$')
MAX_HOSTS = 16


class FleetError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Host:
    name: str
    pgpus: tuple
    weight: int = 0


@dataclasses.dataclass(frozen=True)
class Fleet:
    source: str
    hosts: tuple

    @property
    def weights(self):
        return {h.name: h.weight for h in self.hosts}

    def host(self, name):
        return next(h for h in self.hosts if h.name == name)


def load(path=None):
    """The fleet of a YAML file (the bundled default without one)."""
    path = path or DEFAULT
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise FleetError('%s: %s' % (path, e))
    return parse(data, path)


def parse(data, where='fleet'):
    def fail(msg):
        raise FleetError('%s: %s' % (where, msg))

    if not isinstance(data, dict) or set(data) != {'source', 'hosts'}:
        fail('expected a mapping with "source" and "hosts"')
    if not isinstance(data['hosts'], list) or not (
            2 <= len(data['hosts']) <= MAX_HOSTS):
        fail('"hosts" must list 2 to %d hosts' % MAX_HOSTS)
    hosts = []
    for i, item in enumerate(data['hosts']):
        if not isinstance(item, dict) or not {'name', 'pgpus'} <= set(item) \
                or not set(item) <= {'name', 'pgpus', 'weight'}:
            fail('hosts[%d]: expected name, pgpus and an optional weight'
                 % i)
        name = item['name']
        if not isinstance(name, str) or not _NAME.match(name):
            fail('hosts[%d].name: %r is not a short lower-case host name'
                 % (i, name))
        pgpus = item['pgpus']
        if not isinstance(pgpus, list) or not 1 <= len(pgpus) <= 2 or \
                not all(isinstance(v, str) and _VERSION.match(v)
                        for v in pgpus):
            fail('hosts[%d].pgpus: one or two "major.minor" strings' % i)
        weight = item.get('weight', 0)
        if not isinstance(weight, int) or isinstance(weight, bool):
            fail('hosts[%d].weight: expected an integer' % i)
        hosts.append(Host(name, tuple(pgpus), weight))
    names = [h.name for h in hosts]
    if len(set(names)) != len(names):
        fail('host names must be unique')
    if data['source'] not in names:
        fail('source %r is not one of the hosts' % data['source'])
    return Fleet(data['source'], tuple(hosts))
