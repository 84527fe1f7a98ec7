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

"""nova-migcompat's traits, as the tests read them.

The tests decide by *equality* of tokens, as the scheduler filter does: a
source device publishing ``CUSTOM_MIGCOMPAT_SRC_<token>`` is accepted by a
provider carrying ``CUSTOM_MIGCOMPAT_ACC_<token>``, whatever the token
means.  That needs only the trait names documented in the product's
README ("Traits"), not the codec.

Decoding a token is the product's codec's business alone
(``nova_migcompat.codec``; there is no second decoder here).  The plugin's
distribution depends on nova-migcompat, so it is normally importable: the
test of well-formed traits decodes with it, and failure messages quote the
decoded strings.  Where it is not importable (the plugin installed with
``--no-deps``), messages quote tokens and that one test is skipped.
"""

try:
    from nova_migcompat import codec
except ImportError:  # pragma: no cover - exercised where it is absent
    codec = None

PREFIX = 'CUSTOM_MIGCOMPAT_'
SRC_PREFIX = PREFIX + 'SRC_'
ACC_PREFIX = PREFIX + 'ACC_'
#: A device of the provider is managed without a string (the reason
#: follows): the filter refuses its servers' live migrations.
NOSRC_PREFIX = PREFIX + 'NOSRC_'
#: On a compute node's root provider: an agent reports the node (and
#: ``AGENT_<identity>`` says which).
REPORTED = PREFIX + 'REPORTED'
AGENT_PREFIX = PREFIX + 'AGENT_'
#: What an agent says of a device provider (not of a node).
_DEVICE_PREFIXES = (SRC_PREFIX, ACC_PREFIX, NOSRC_PREFIX)


def _tokens(traits, prefix):
    return frozenset(name[len(prefix):] for name in traits
                     if name.startswith(prefix) and len(name) > len(prefix))


def src_tokens(traits):
    """The tokens of the ``CUSTOM_MIGCOMPAT_SRC_*`` traits in ``traits``."""
    return _tokens(traits, SRC_PREFIX)


def source_ids(traits, instance=None):
    """The string ids a destination must accept for these source traits.

    A long string's parts (several SRC traits) are one id, the token its
    ACC trait carries.  With ``instance`` (a uuid), where the provider
    has VM markers of the instance, only the instance's own strings.
    """
    ids = frozenset(codec.string_id(t) for t in src_tokens(traits))
    if instance is None or not codec.markers(traits):
        return ids
    refs = codec.markers(traits, instance)
    if not refs:
        return ids
    return frozenset(i for i in ids if codec.ref(i) in refs)


def acc_tokens(traits):
    """The tokens of the ``CUSTOM_MIGCOMPAT_ACC_*`` traits in ``traits``."""
    return _tokens(traits, ACC_PREFIX)


def ours(traits):
    """nova-migcompat's traits among ``traits``, sorted."""
    return sorted(name for name in traits if name.startswith(PREFIX))


def device_claims(traits):
    """The traits that say something of a provider's devices, sorted.

    Strings, acceptances and devices without a string; not the marks of
    the node (``REPORTED``, ``AGENT_*``).
    """
    return sorted(name for name in traits
                  if name.startswith(_DEVICE_PREFIXES))


def nosrc_reasons(traits):
    """The reasons of the ``CUSTOM_MIGCOMPAT_NOSRC_*`` traits, sorted."""
    return sorted(name[len(NOSRC_PREFIX):] for name in traits
                  if name.startswith(NOSRC_PREFIX))


def acc_trait(token):
    """The trait of a provider accepting the string of ``token``."""
    return ACC_PREFIX + token


def describe(token, limit=120):
    """The string of a token for a message (the token if no codec)."""
    if codec is None:
        return 'token %s' % token
    text = codec.describe(token)
    if len(text) > limit:
        text = text[:limit - 3] + '...'
    return repr(text)


def can_decode():
    return codec is not None


def malformed(traits):
    """``{trait: why}`` for the nova-migcompat traits that do not decode.

    :raises RuntimeError: nova_migcompat is not importable.
    """
    if codec is None:
        raise RuntimeError('nova_migcompat is not installed')
    bad = {}
    sources = []
    for name in ours(traits):
        parsed = codec.parse_trait(name)
        if parsed is None:
            bad[name] = 'not a nova-migcompat trait'
        elif parsed[0] == codec.SRC:
            sources.append(parsed[1])
        elif parsed[0] == codec.ACC:
            why = codec.problem(parsed[1])
            if why is not None:
                bad[name] = why[1]
    # A long string's parts are judged together (all of them, once each,
    # matching their digest).
    for key, why in codec.assemble(sources).problems.items():
        if codec.is_group(key):
            bad['%s (a long string, %d parts)' % (
                SRC_PREFIX + key, sum(1 for t in sources
                                      if t.startswith(key)))] = why
        else:
            bad[SRC_PREFIX + key] = why
    return bad
