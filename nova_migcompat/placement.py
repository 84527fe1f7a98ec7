"""The placement client of nova-migcompat's agent and tools.

A thin layer over a keystoneauth1 adapter built from the same
``[placement]`` options nova-compute uses.  Every response body is read
with a size bound and within an overall deadline (``[placement]timeout``:
keystoneauth's own timeout applies to each socket read, so a response
dripping one byte at a time would pass it), every call is counted
(``requests``), and failures come
back as :mod:`nova_migcompat.exception` errors: ``PlacementUnavailable``
for what may pass (connection errors, 5xx), ``PlacementError`` for the
rest.
"""

import json
import re
import time
from urllib import parse

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_log import log as logging
from oslo_serialization import jsonutils

from nova_migcompat import conf as migcompat_conf
from nova_migcompat import exception

LOG = logging.getLogger(__name__)

#: Providers in one tree, traits on one provider or in one listing: far
#: more than any real deployment has, small enough to bound memory.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024

# in_tree and root_provider_uuid (1.14), required traits (1.18), trait
# listing filters (1.6), provider traits with generation (1.6),
# concurrent_update codes (1.23).
MICROVERSION = '1.23'

#: Seconds one request may take, response body included, when the
#: configuration does not say (``[placement]timeout`` unset).
DEFAULT_DEADLINE = 60
#: Bytes asked of the socket at a time while reading a body.
_CHUNK_BYTES = 65536
#: Bytes of one provider in a listing, at most (placement's are about 900:
#: the uuids, name, generation and links).  A listing of N providers is
#: read up to N times this.
PROVIDER_ENTRY_BYTES = 4096
#: Providers of one trait read by default (the default of
#: ``[migcompat]max_accepting_providers``).
LISTED_PROVIDERS = migcompat_conf.DEFAULT_MAX_ACCEPTING_PROVIDERS
#: The opening of placement's provider listing, up to its first entry.
_LISTING_START = re.compile(r'\s*\{\s*"resource_providers"\s*:\s*\[')
_SPACE = re.compile(r'\s*')
_DECODER = json.JSONDecoder()


class AdapterTransport(object):
    """Requests through a keystoneauth1 adapter, bodies read with a bound.

    :param deadline: seconds one request may take in all, from sending it
        to the last byte of the response body.
    """

    def __init__(self, adapter, deadline=None):
        self.adapter = adapter
        self.deadline = deadline or DEFAULT_DEADLINE
        #: The ``Last-Modified`` header of the last response, or None.
        self.last_modified = None

    def send(self, method, url, body, microversion,
             limit=MAX_RESPONSE_BYTES):
        kwargs = {'microversion': microversion, 'stream': True,
                  'headers': {'Accept': 'application/json'}}
        if body is not None:
            kwargs['json'] = body
        deadline = time.monotonic() + self.deadline
        self.last_modified = None
        try:
            resp = self.adapter.request(url, method, **kwargs)
        except ks_exc.ClientException as e:
            raise exception.PlacementUnavailable(
                '%s %s: placement unreachable: %s' % (method, url, e))
        try:
            if getattr(resp, '_content_consumed', False):
                # keystoneauth read the body already (its DEBUG logging).
                data = resp.content or b''
            else:
                data = self._read_body(resp.raw, deadline, method, url,
                                       limit)
        except exception.PlacementUnavailable:
            raise
        except Exception as e:
            if time.monotonic() >= deadline:
                raise self._late(method, url)
            raise exception.PlacementUnavailable(
                '%s %s: reading the response failed: %s' % (method, url, e))
        finally:
            resp.close()
        self.last_modified = resp.headers.get('Last-Modified')
        return resp.status_code, data

    def _late(self, method, url):
        return exception.PlacementUnavailable(
            '%s %s: no complete response within the %s s deadline '
            '([placement]timeout); abandoned' % (method, url, self.deadline))

    def _read_body(self, raw, deadline, method, url, limit):
        """At most ``limit`` + 1 bytes, before the deadline.

        Small reads, each with a socket timeout of the time left: a read
        of N bytes would wait for all N however slowly they come.
        """
        chunks, size = [], 0
        while size <= limit:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._late(method, url)
            sock = getattr(getattr(raw, 'connection', None), 'sock', None)
            if sock is not None:
                sock.settimeout(left)
            chunk = raw.read1(min(_CHUNK_BYTES, limit + 1 - size),
                              decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b''.join(chunks)


class ReportClientTransport(object):
    """Reads through nova's scheduler report client (in the scheduler).

    The scheduler only reads; the report client reads whole bodies, so the
    bound is checked after.
    """

    def __init__(self, report_client):
        self.report_client = report_client

    def send(self, method, url, body, microversion,
             limit=MAX_RESPONSE_BYTES):
        if method != 'GET':
            raise ValueError('the scheduler side of nova-migcompat only '
                             'reads placement (%s %s)' % (method, url))
        try:
            resp = self.report_client.get(url, version=microversion)
        except ks_exc.ClientException as e:
            raise exception.PlacementUnavailable(
                '%s %s: placement unreachable: %s' % (method, url, e))
        return resp.status_code, resp.content or b''


class PlacementClient(object):

    def __init__(self, transport):
        self._transport = transport
        #: Number of HTTP requests sent, for the reports and the benchmark.
        self.requests = 0

    @classmethod
    def from_conf(cls, conf):
        """Over the ``[placement]`` options (nova-compute's credentials).

        :raises PlacementNotConfigured: ``[placement]`` has neither an
            ``auth_type`` nor an ``endpoint_override``.
        """
        group = migcompat_conf.PLACEMENT_GROUP
        auth = ks_loading.load_auth_from_conf_options(conf, group)
        if auth is None and not conf[group].endpoint_override:
            raise exception.PlacementNotConfigured(
                'placement is not configured: [%s] has no auth_type (give '
                'the configuration file that holds nova-compute\'s '
                '[%s] credentials with --config-file)' % (group, group))
        session = ks_loading.load_session_from_conf_options(conf, group,
                                                            auth=auth)
        adapter = ks_loading.load_adapter_from_conf_options(
            conf, group, session=session, auth=auth, raise_exc=False)
        return cls(AdapterTransport(adapter,
                                    deadline=conf[group].timeout))

    @classmethod
    def from_session(cls, session, region_name=None, interface=None,
                     endpoint_override=None):
        """Over an existing keystoneauth1 session (OpenStackClient's)."""
        adapter = ks_adapter.Adapter(
            session, service_type='placement', region_name=region_name,
            interface=interface, endpoint_override=endpoint_override,
            raise_exc=False)
        return cls(AdapterTransport(adapter))

    @classmethod
    def from_report_client(cls, report_client):
        return cls(ReportClientTransport(report_client))

    def _request(self, method, url, body=None, ok=(200,),
                 microversion=MICROVERSION):
        """Send a request; return ``(status, decoded body or None)``."""
        status, data = self._send(method, url, body, microversion,
                                  MAX_RESPONSE_BYTES)
        decoded = self._decode(method, url, status, data)
        if status not in ok:
            raise self._error(method, url, status, decoded)
        return status, decoded

    def _send(self, method, url, body, microversion, limit):
        """Send a request; ``(status, raw body)`` of at most ``limit``."""
        self.requests += 1
        status, data = self._transport.send(method, url, body, microversion,
                                            limit)
        if len(data) > limit:
            raise exception.ResponseTooLarge(
                '%s %s: response larger than %d bytes'
                % (method, url, limit))
        if status >= 500:
            raise exception.PlacementUnavailable(
                '%s %s: placement failed with %d' % (method, url, status))
        return status, data

    @staticmethod
    def _decode(method, url, status, data):
        if not data:
            return None
        try:
            return jsonutils.loads(data)
        except ValueError:
            raise exception.PlacementError(
                '%s %s: %d with a body that is not JSON'
                % (method, url, status))

    @staticmethod
    def _error(method, url, status, body):
        detail, code = '', None
        if isinstance(body, dict) and body.get('errors'):
            err = body['errors'][0]
            detail = ': %s' % str(err.get('detail', ''))[:500]
            code = err.get('code')
        msg = '%s %s: %d%s' % (method, url, status, detail)
        if status == 404:
            return exception.NotFound(msg, status)
        if status == 409 and code == 'placement.concurrent_update':
            return exception.GenerationConflict(msg, status)
        return exception.PlacementError(msg, status)

    @staticmethod
    def _list(body, key, url):
        if not isinstance(body, dict) or not isinstance(body.get(key), list):
            raise exception.PlacementError('GET %s: no %r list in the '
                                           'response' % (url, key))
        return body[key]

    def find_provider(self, name):
        """The provider named ``name``, or None."""
        url = '/resource_providers?name=%s' % parse.quote(name, safe='')
        _, body = self._request('GET', url)
        found = self._list(body, 'resource_providers', url)
        return found[0] if found else None

    def providers(self):
        """Every resource provider."""
        url = '/resource_providers'
        _, body = self._request('GET', url)
        return self._list(body, 'resource_providers', url)

    def provider_tree(self, uuid):
        """``(providers, Last-Modified)`` of the tree that holds ``uuid``.

        Every provider of the tree (empty when placement has no provider
        ``uuid``), and the response's ``Last-Modified`` header as sent:
        placement (1.15 and later) gives the newest ``updated_at`` or
        ``created_at`` of the listed providers, to the second; None when
        the transport or the answer has none.
        """
        url = '/resource_providers?in_tree=%s' % parse.quote(uuid, safe='')
        _, body = self._request('GET', url)
        modified = getattr(self._transport, 'last_modified', None)
        return self._list(body, 'resource_providers', url), modified

    def provider(self, uuid):
        """The provider ``uuid`` (name, generation...), or None."""
        url = '/resource_providers/%s' % uuid
        try:
            _, body = self._request('GET', url)
        except exception.NotFound:
            return None
        if not isinstance(body, dict) or not isinstance(
                body.get('generation'), int):
            raise exception.PlacementError('GET %s: no generation in the '
                                           'response' % url)
        return body

    def create_provider(self, uuid, name):
        """Create a root provider; False if its uuid or name is taken."""
        try:
            self._request('POST', '/resource_providers',
                          {'uuid': uuid, 'name': name}, ok=(200, 201))
        except exception.PlacementError as e:
            if e.status == 409:
                return False
            raise
        return True

    def delete_provider(self, uuid):
        """Delete a provider (a no-op if there is none)."""
        try:
            self._request('DELETE', '/resource_providers/%s' % uuid,
                          ok=(204,))
        except exception.NotFound:
            pass

    def touch_provider(self, uuid, generation):
        """Move a provider's generation on, changing nothing else.

        Placement increments the generation of a provider whose
        aggregates are set with its generation (1.19 and later), even to
        the same aggregates: the provider has none, and keeps none.

        :raises GenerationConflict: the generation moved since it was
            read.
        """
        self._request('PUT', '/resource_providers/%s/aggregates' % uuid,
                      {'aggregates': [],
                       'resource_provider_generation': generation})

    def provider_traits(self, uuid):
        """``(set of trait names, generation)`` of a provider."""
        url = '/resource_providers/%s/traits' % uuid
        _, body = self._request('GET', url)
        traits = self._list(body, 'traits', url)
        return set(traits), body.get('resource_provider_generation')

    def set_provider_traits(self, uuid, traits, generation):
        """Replace a provider's traits; returns the new generation.

        :raises GenerationConflict: the provider changed since
            ``generation`` was read.
        """
        url = '/resource_providers/%s/traits' % uuid
        _, body = self._request(
            'PUT', url, {'traits': sorted(traits),
                         'resource_provider_generation': generation})
        return body.get('resource_provider_generation')

    def ensure_trait(self, name):
        """Create a custom trait (a no-op if it exists)."""
        self._request('PUT', '/traits/%s' % name, ok=(201, 204))

    def traits(self, prefix, associated=None):
        """Names of the traits starting with ``prefix``.

        :param associated: True: only traits some provider has; False: only
            traits no provider has; None: all.
        """
        url = '/traits?name=startswith:%s' % parse.quote(prefix, safe='')
        if associated is not None:
            url += '&associated=%s' % ('true' if associated else 'false')
        _, body = self._request('GET', url)
        return set(self._list(body, 'traits', url))

    def providers_with_trait(self, name, most=LISTED_PROVIDERS):
        """``{uuid: root provider uuid}`` of the providers with trait ``name``.

        The listing grows with the fleet (about 900 bytes a provider), so
        it is exempt from :data:`MAX_RESPONSE_BYTES`: it is read up to
        ``most`` providers (:data:`PROVIDER_ENTRY_BYTES` each) and decoded
        one provider at a time, keeping only the two uuids.  A trait that
        does not exist (nobody ever accepted the string, or it was
        garbage-collected) has no provider.

        :raises TooManyProviders: placement lists more than ``most``.
        """
        url = '/resource_providers?required=%s' % parse.quote(name, safe='')
        limit = most * PROVIDER_ENTRY_BYTES + 64
        try:
            status, data = self._send('GET', url, None, MICROVERSION, limit)
        except exception.ResponseTooLarge:
            raise exception.TooManyProviders(
                'GET %s: placement lists more than %d providers (an answer '
                'of more than %d bytes)' % (url, most, limit), most)
        if status != 200:
            error = self._error('GET', url, status,
                                self._decode('GET', url, status, data))
            if error.status == 400 and 'Invalid trait' in str(error):
                return ProviderRoots()
            raise error
        return listed_roots(data, url, most)

    def allocations(self, consumer_uuid):
        """A consumer's ``{provider uuid: {'resources': {...}}}``."""
        url = '/allocations/%s' % consumer_uuid
        _, body = self._request('GET', url)
        allocs = body.get('allocations') if isinstance(body, dict) else None
        if not isinstance(allocs, dict):
            raise exception.PlacementError('GET %s: no allocations in the '
                                           'response' % url)
        return allocs

    def delete_trait(self, name):
        """Delete a custom trait; False if a provider still has it."""
        try:
            self._request('DELETE', '/traits/%s' % name, ok=(204,))
        except exception.NotFound:
            pass
        except exception.PlacementError as e:
            if e.status == 409:
                return False
            raise
        return True


class ProviderRoots(dict):
    """``{provider uuid: its root provider uuid}``, as placement listed them.

    :meth:`by_root` gives the other way round, worked out once per listing
    (the scheduler keeps a listing for many requests).
    """

    #: A tree's providers are a tuple up to this many (faster to search than
    #: a set, and a quarter of its size), then a frozenset.
    TUPLE_MOST = 8
    _by_root = None

    def by_root(self):
        """``{root uuid: the listed providers of that tree}``.

        A provider whose root is not known is on no host.
        """
        index = self._by_root
        if index is None:
            grouped = {}
            for rp, root in self.items():
                if root is not None:
                    grouped.setdefault(root, []).append(rp)
            index = {root: (tuple(rps) if len(rps) <= self.TUPLE_MOST
                            else frozenset(rps))
                     for root, rps in grouped.items()}
            self._by_root = index
        return index


def listed_roots(data, url, most):
    """The :class:`ProviderRoots` of a provider listing's body.

    :raises TooManyProviders: it lists more than ``most``.
    """
    found = ProviderRoots()
    for rp in _listed_providers(data, url):
        if not isinstance(rp, dict) or not isinstance(rp.get('uuid'), str):
            raise exception.PlacementError(
                'GET %s: a provider without a uuid in the response' % url)
        if not isinstance(rp.get('root_provider_uuid'), str):
            raise exception.PlacementError(
                'GET %s: provider %s without a root provider uuid in the '
                'response' % (url, rp['uuid']))
        found[rp['uuid']] = rp['root_provider_uuid']
    if len(found) > most:
        raise exception.TooManyProviders(
            'GET %s: placement lists %d providers, more than %d'
            % (url, len(found), most), most)
    return found


def _listed_providers(data, url):
    """The entries of a provider listing, decoded one at a time.

    Decoding the whole answer would build every provider's dictionary and
    links at once (several times the answer's size); this holds one.  An
    answer of another shape is decoded whole.
    """
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        raise exception.PlacementError('GET %s: a body that is not UTF-8'
                                       % url)
    start = _LISTING_START.match(text)
    if start is None:
        body = PlacementClient._decode('GET', url, 200, data)
        yield from PlacementClient._list(body, 'resource_providers', url)
        return
    pos = _SPACE.match(text, start.end()).end()
    try:
        if text.startswith(']', pos):
            pos += 1
        else:
            while True:
                item, pos = _DECODER.raw_decode(text, pos)
                yield item
                pos = _SPACE.match(text, pos).end()
                if text.startswith(']', pos):
                    pos += 1
                    break
                if not text.startswith(',', pos):
                    raise ValueError('expected , or ] at %d' % pos)
                pos = _SPACE.match(text, pos + 1).end()
        if text[pos:].strip() != '}':
            raise ValueError('unexpected data after the list at %d' % pos)
    except ValueError as e:
        raise exception.PlacementError('GET %s: a provider listing that is '
                                       'not JSON: %s' % (url, e))
