"""Nova's databases and real Placement in-process, without services.

Nova's own test framework (:class:`nova.test.TestCase`: the API, cell0
and cell1 databases) and its Placement fixture (the real Placement WSGI
application behind wsgi-intercept, reached by the scheduler's report
client and by keystoneauth1 at ``endpoint``).  Import
``nova.tests.functional`` before this module (it monkey patches).
"""

import contextlib
import logging
import uuid

from nova import context as nova_context
from nova import test as nova_test
from nova.tests.functional import fixtures as func_fixtures


class SchedulerSide(nova_test.TestCase):

    def runTest(self):
        pass

    def setUp(self):
        super().setUp()
        self.placement = self.useFixture(func_fixtures.PlacementFixture())
        # As nova-scheduler without [DEFAULT]debug: the test framework
        # formats every DEBUG message (to catch broken ones), which would
        # dominate the figures.
        logging.getLogger().setLevel(logging.INFO)
        self.ctxt = nova_context.get_admin_context()
        self.cell = self.cell_mappings['cell1']
        self.project_id = str(uuid.uuid4())
        self.user_id = str(uuid.uuid4())

    @property
    def endpoint(self):
        return self.placement.endpoint

    def ok(self, method, url, body=None, version='1.36'):
        """A placement request that must succeed; returns the body."""
        api = self.placement.api
        if method in ('put', 'post'):
            resp = getattr(api, method)(url, body, version=version)
        else:
            resp = getattr(api, method)(url, version=version)
        if resp.status >= 300:
            raise RuntimeError('%s %s: %s %s' % (method.upper(), url,
                                                 resp.status, resp.body))
        return resp.body

    def provider(self, name, parent=None, inventories=None, traits=()):
        """Create a provider the way Nova and the agents do; its uuid."""
        rp_uuid = str(uuid.uuid4())
        body = {'name': name, 'uuid': rp_uuid}
        if parent:
            body['parent_provider_uuid'] = parent
        self.ok('post', '/resource_providers', body)
        generation = 0
        if inventories:
            generation = self.ok(
                'put', '/resource_providers/%s/inventories' % rp_uuid,
                {'resource_provider_generation': generation,
                 'inventories': {rc: {'total': total} for rc, total in
                                 inventories.items()}})[
                'resource_provider_generation']
        if traits:
            for trait in traits:
                self.ok('put', '/traits/%s' % trait)
            self.ok('put', '/resource_providers/%s/traits' % rp_uuid,
                    {'resource_provider_generation': generation,
                     'traits': sorted(traits)})
        return rp_uuid


@contextlib.contextmanager
def scheduler_side():
    side = SchedulerSide('runTest')
    side.setUp()
    try:
        yield side
    finally:
        side.doCleanups()
