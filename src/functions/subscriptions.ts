import { json, readJsonBody } from '../lib/http/http.js';
import { httpFunction } from './define.js';

// Webhook subscriptions: thin handlers over src/lib/app/webhooks/subscriptions.ts.

/** POST /api/subscriptions — 201 with the subscription and its secret (shown this once). */
export const subscriptionsCreate = httpFunction({
  name: 'subscriptionsCreate',
  route: 'subscriptions',
  methods: ['POST'],
  load: () => import('../lib/app/webhooks/subscriptions.js'),
  handler: async ({ use, deps: d, request }) => {
    const { createSubscription } = use;
    const created = await createSubscription(d, await readJsonBody(request, d.config));
    return json(201, created, { location: `/api/subscriptions/${created.id}` });
  },
});

/** GET /api/subscriptions — every subscription, without secrets. */
export const subscriptionsList = httpFunction({
  name: 'subscriptionsList',
  route: 'subscriptions',
  methods: ['GET'],
  load: () => import('../lib/app/webhooks/subscriptions.js'),
  handler: async ({ use, deps: d }) => {
    const { listSubscriptions } = use;
    return json(200, { subscriptions: await listSubscriptions(d) });
  },
});

/** GET /api/subscriptions/{id} */
export const subscriptionsGet = httpFunction({
  name: 'subscriptionsGet',
  route: 'subscriptions/{id}',
  methods: ['GET'],
  load: () => import('../lib/app/webhooks/subscriptions.js'),
  handler: async ({ use, deps: d, request }) => {
    const { getSubscription } = use;
    return json(200, await getSubscription(d, request.params.id ?? ''));
  },
});

/** DELETE /api/subscriptions/{id} — 204; queued deliveries for it are dropped. */
export const subscriptionsDelete = httpFunction({
  name: 'subscriptionsDelete',
  route: 'subscriptions/{id}',
  methods: ['DELETE'],
  load: () => import('../lib/app/webhooks/subscriptions.js'),
  handler: async ({ use, deps: d, request }) => {
    const { deleteSubscription } = use;
    await deleteSubscription(d, request.params.id ?? '');
    return { status: 204 };
  },
});

/** GET /api/subscriptions/{id}/deliveries — every attempt for this subscription, newest first. */
export const subscriptionsDeliveries = httpFunction({
  name: 'subscriptionsDeliveries',
  route: 'subscriptions/{id}/deliveries',
  methods: ['GET'],
  load: () => import('../lib/app/webhooks/subscriptions.js'),
  handler: async ({ use, deps: d, request }) => {
    const { subscriptionDeliveries } = use;
    const id = request.params.id ?? '';
    return json(200, {
      subscriptionId: id,
      deliveries: await subscriptionDeliveries(d, id, Object.fromEntries(request.query.entries())),
    });
  },
});

/** GET /api/jobs/{id}/deliveries — every webhook attempt about this job, newest first. */
export const jobsDeliveries = httpFunction({
  name: 'jobsDeliveries',
  route: 'jobs/{id}/deliveries',
  methods: ['GET'],
  load: () => import('../lib/app/webhooks/subscriptions.js'),
  handler: async ({ use, deps: d, request }) => {
    const { jobDeliveries } = use;
    const id = request.params.id ?? '';
    return json(200, {
      jobId: id,
      deliveries: await jobDeliveries(d, id, Object.fromEntries(request.query.entries())),
    });
  },
});
