import { json, readJsonBody } from '../lib/http/http.js';
import { deps, httpFunction } from './define.js';

// Webhook subscriptions: thin handlers over src/lib/app/webhooks/subscriptions.ts.

const useCases = () => import('../lib/app/webhooks/subscriptions.js');

/** POST /api/subscriptions — 201 with the subscription and its secret (shown this once). */
export const subscriptionsCreate = httpFunction({
  name: 'subscriptionsCreate',
  route: 'subscriptions',
  methods: ['POST'],
  handler: async (request) => {
    const [{ createSubscription }, d] = await Promise.all([useCases(), deps()]);
    const created = await createSubscription(d, await readJsonBody(request, d.config));
    return json(201, created, { location: `/api/subscriptions/${created.id}` });
  },
});

/** GET /api/subscriptions — every subscription, without secrets. */
export const subscriptionsList = httpFunction({
  name: 'subscriptionsList',
  route: 'subscriptions',
  methods: ['GET'],
  handler: async () => {
    const [{ listSubscriptions }, d] = await Promise.all([useCases(), deps()]);
    return json(200, { subscriptions: await listSubscriptions(d) });
  },
});

/** GET /api/subscriptions/{id} */
export const subscriptionsGet = httpFunction({
  name: 'subscriptionsGet',
  route: 'subscriptions/{id}',
  methods: ['GET'],
  handler: async (request) => {
    const [{ getSubscription }, d] = await Promise.all([useCases(), deps()]);
    return json(200, await getSubscription(d, request.params.id ?? ''));
  },
});

/** DELETE /api/subscriptions/{id} — 204; queued deliveries for it are dropped. */
export const subscriptionsDelete = httpFunction({
  name: 'subscriptionsDelete',
  route: 'subscriptions/{id}',
  methods: ['DELETE'],
  handler: async (request) => {
    const [{ deleteSubscription }, d] = await Promise.all([useCases(), deps()]);
    await deleteSubscription(d, request.params.id ?? '');
    return { status: 204 };
  },
});

/** GET /api/subscriptions/{id}/deliveries — every attempt for this subscription, newest first. */
export const subscriptionsDeliveries = httpFunction({
  name: 'subscriptionsDeliveries',
  route: 'subscriptions/{id}/deliveries',
  methods: ['GET'],
  handler: async (request) => {
    const [{ subscriptionDeliveries }, d] = await Promise.all([useCases(), deps()]);
    const id = request.params.id ?? '';
    return json(200, { subscriptionId: id, deliveries: await subscriptionDeliveries(d, id, Object.fromEntries(request.query.entries())) });
  },
});

/** GET /api/jobs/{id}/deliveries — every webhook attempt about this job, newest first. */
export const jobsDeliveries = httpFunction({
  name: 'jobsDeliveries',
  route: 'jobs/{id}/deliveries',
  methods: ['GET'],
  handler: async (request) => {
    const [{ jobDeliveries }, d] = await Promise.all([useCases(), deps()]);
    const id = request.params.id ?? '';
    return json(200, { jobId: id, deliveries: await jobDeliveries(d, id, Object.fromEntries(request.query.entries())) });
  },
});
