"""Stand-ins for Glance and Neutron: the system's boundaries, not its subject.

Nova needs an image service and a network service to boot and to
live-migrate a server; nova-migcompat has nothing to do with either, so
the multi-process cloud serves two tiny WSGI apps in their place (each in
its own gunicorn process, registered in Keystone's catalog as ``image``
and ``network``).  They do not validate tokens and they hold no state.

* ``image_app``: the image API v2 for one active image (``IMAGE_ID``,
  raw, bare): ``GET /`` and ``/versions`` (version discovery),
  ``GET /v2/images`` (the list, filtered by ``id``/``name``/``status``
  as clients ask), ``GET /v2/images/<id>``, ``GET /v2/schemas/image``
  (glanceclient builds its image model from it) and
  ``GET /v2/images/<id>/file`` (zero bytes).
* ``network_app``: the network API v2.0 as Nova calls it for servers
  created with ``networks='none'`` (``nova/network/neutron.py``): every
  collection (``/v2.0/ports``, ``/networks``, ``/subnets``,
  ``/floatingips``, ``/security-groups``, ``/extensions``, ...) is empty,
  ``/v2.0/quotas/<project>`` is unlimited, any single resource is 404,
  and the writes Nova would only make for ports (``PUT``/``POST``/
  ``DELETE``) answer 404 as there are none.

Both are served by one gunicorn process (``app`` dispatches on the port;
it saves a Python process, 40 MiB).  Every request is logged
(``<logdir>/standins.log``), so a test can see what Nova asked of them.
"""

import json
import os
import re
import sys
import urllib.parse

IMAGE_ID = '155d900f-4e14-4e4c-a73d-069cbf4541e6'
IMAGE_NAME = 'cirros-standin'
_CREATED = '2026-01-01T00:00:00Z'


def _image():
    return {
        'id': IMAGE_ID, 'name': IMAGE_NAME, 'status': 'active',
        'visibility': 'public', 'protected': False, 'os_hidden': False,
        'disk_format': 'raw', 'container_format': 'bare',
        'size': 0, 'virtual_size': 0, 'min_disk': 0, 'min_ram': 0,
        'checksum': None, 'os_hash_algo': None, 'os_hash_value': None,
        'owner': None, 'tags': [],
        'created_at': _CREATED, 'updated_at': _CREATED,
        'self': '/v2/images/' + IMAGE_ID,
        'file': '/v2/images/%s/file' % IMAGE_ID,
        'schema': '/v2/schemas/image',
    }


_IMAGE_SCHEMA = {
    'name': 'image',
    'additionalProperties': {'type': 'string'},
    'properties': {
        'id': {'type': 'string'}, 'name': {'type': ['null', 'string']},
        'status': {'type': 'string'},
        'visibility': {'type': 'string'},
        'protected': {'type': 'boolean'}, 'os_hidden': {'type': 'boolean'},
        'checksum': {'type': ['null', 'string']},
        'os_hash_algo': {'type': ['null', 'string']},
        'os_hash_value': {'type': ['null', 'string']},
        'owner': {'type': ['null', 'string']},
        'size': {'type': ['null', 'integer']},
        'virtual_size': {'type': ['null', 'integer']},
        'container_format': {'type': ['null', 'string']},
        'disk_format': {'type': ['null', 'string']},
        'created_at': {'type': 'string'}, 'updated_at': {'type': 'string'},
        'tags': {'type': 'array', 'items': {'type': 'string'}},
        'direct_url': {'type': 'string'},
        'min_ram': {'type': 'integer'}, 'min_disk': {'type': 'integer'},
        'self': {'type': 'string'}, 'file': {'type': 'string'},
        'schema': {'type': 'string'},
        'locations': {'type': 'array'},
    },
    'links': [{'rel': 'self', 'href': '{self}'},
              {'rel': 'enclosure', 'href': '{file}'},
              {'rel': 'describedby', 'href': '{schema}'}],
}


def _base(environ):
    return '%s://%s' % (environ.get('wsgi.url_scheme', 'http'),
                        environ.get('HTTP_HOST', '127.0.0.1'))


def _reply(start_response, status, body=None, ctype='application/json'):
    data = b'' if body is None else (
        body if isinstance(body, bytes) else json.dumps(body).encode())
    start_response(status, [('Content-Type', ctype),
                            ('Content-Length', str(len(data)))])
    return [data]


def _log(environ, status):
    print('%s %s?%s -> %s' % (environ['REQUEST_METHOD'],
                              environ.get('PATH_INFO', ''),
                              environ.get('QUERY_STRING', ''), status),
          file=sys.stderr, flush=True)


def image_app(environ, start_response):
    method = environ['REQUEST_METHOD']
    path = environ.get('PATH_INFO', '/').rstrip('/') or '/'
    query = urllib.parse.parse_qs(environ.get('QUERY_STRING', ''))
    base = _base(environ)
    status, body, ctype = '404 Not Found', {'message': 'not found'}, None
    if method in ('GET', 'HEAD'):
        if path in ('/', '/versions', '/v2'):
            status = '300 Multiple Choices' if path != '/v2' else '200 OK'
            body = {'versions': [{
                'id': 'v2.16', 'status': 'CURRENT',
                'links': [{'rel': 'self', 'href': base + '/v2/'}]}]}
        elif path == '/v2/schemas/image':
            status, body = '200 OK', _IMAGE_SCHEMA
        elif path == '/v2/images':
            image = _image()
            keep = all(str(image.get(k)) in v for k, v in query.items()
                       if k in ('id', 'name', 'status', 'visibility'))
            status = '200 OK'
            body = {'images': [image] if keep else [],
                    'first': '/v2/images', 'schema': '/v2/schemas/images'}
        elif path == '/v2/images/' + IMAGE_ID:
            status, body = '200 OK', _image()
        elif path == '/v2/images/%s/file' % IMAGE_ID:
            status, body, ctype = '200 OK', b'', 'application/octet-stream'
    _log(environ, status)
    return _reply(start_response, status, body,
                  ctype or 'application/json')


_COLLECTION = re.compile(r'^/v2\.0/([a-z_-]+)$')
_QUOTA = re.compile(r'^/v2\.0/quotas/([^/]+)$')


def network_app(environ, start_response):
    method = environ['REQUEST_METHOD']
    path = environ.get('PATH_INFO', '/').rstrip('/') or '/'
    if path.endswith('.json'):
        path = path[:-len('.json')]
    base = _base(environ)
    status, body = '404 Not Found', {'NeutronError': {
        'type': 'NotFound', 'message': 'stand-in: no such resource',
        'detail': ''}}
    if method in ('GET', 'HEAD'):
        m = _COLLECTION.match(path)
        q = _QUOTA.match(path)
        if path == '/':
            status, body = '200 OK', {'versions': [{
                'id': 'v2.0', 'status': 'CURRENT',
                'links': [{'rel': 'self', 'href': base + '/v2.0/'}]}]}
        elif path == '/v2.0':
            status, body = '200 OK', {'resources': []}
        elif q:
            status, body = '200 OK', {'quota': {
                'port': -1, 'network': -1, 'subnet': -1, 'floatingip': -1,
                'security_group': -1, 'security_group_rule': -1,
                'router': -1}}
        elif m:
            key = m.group(1).replace('-', '_')
            status, body = '200 OK', {key: []}
    _log(environ, status)
    return _reply(start_response, status, body)


def app(environ, start_response):
    """Both stand-ins in one process, dispatched on the server port.

    The image API on ``MC_IMAGE_PORT``, the network API on the others.
    """
    if environ.get('SERVER_PORT') == os.environ.get('MC_IMAGE_PORT'):
        return image_app(environ, start_response)
    return network_app(environ, start_response)
