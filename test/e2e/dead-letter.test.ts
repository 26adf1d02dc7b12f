import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProviderRegistry } from '../../src/lib/providers/registry.js';
import { loadConfig } from '../../src/lib/config.js';
import { ProviderUnavailableError } from '../../src/lib/errors.js';
import type { JobProvider } from '../../src/lib/ports/provider.js';
import { startTestRunner, waitFor, type TestRunner } from '../support/runner.js';

/** A provider that is always down: dispatch keeps failing retriably until the message is poisoned. */
const downProvider: JobProvider = {
  name: 'local',
  submit: async () => {
    throw new ProviderUnavailableError('local', 'connection refused');
  },
  poll: async () => [],
  cancel: async () => undefined,
};

describe('messages that cannot be processed end in the poison queue and fail their job', () => {
  let r: TestRunner;
  beforeAll(async () => {
    const providers = createProviderRegistry(
      { config: loadConfig({}), blobs: undefined as never },
      { local: downProvider },
    );
    r = await startTestRunner({ QUEUE_MAX_DELIVERIES: '3' }, { workers: false, overrides: { providers } });
  });
  afterAll(async () => r?.stop());

  it('fails a job whose dispatch failed on every delivery, with the dead-letter reason in its history', async () => {
    const created = (await (await r.post('/api/jobs', { rows: 10, estimated_runtime_sec: 1 })).json()) as {
      id: string;
    };
    const job = await waitFor(
      async () =>
        (await (await r.api(`/api/jobs/${created.id}`)).json()) as {
          status: string;
          error?: { code: string; message: string };
        },
      (j) => j.status === 'failed',
      60_000,
      'job to fail',
    );
    expect(job.error?.code).toBe('DEAD_LETTERED');
    expect(job.error?.message).toContain('MaxDeliveryCountExceeded');
    expect(job.error?.message).toContain('connection refused');
    const { events } = (await (await r.api(`/api/jobs/${created.id}/events`)).json()) as {
      events: Array<{ to: string; reason: string }>;
    };
    expect(events.at(-1)?.reason).toMatch(/dead-lettered from .*batch-jobs.*MaxDeliveryCountExceeded/);
  });

  it('poisons a malformed message without losing track of it', async () => {
    const q = r.deps.config.queues.intake;
    await r.deps.queues.send(q, [{ notAJob: true }]);
    await waitFor(
      () => r.deps.queues.depth(q),
      (d) => d.deadLetter === 0 && d.active === 0,
      30_000,
      'the poison handler to consume it',
    );
    // The poison handler consumed it (logged); nothing crashed and the intake keeps working.
    const ok = (await (await r.post('/api/jobs', { rows: 1, latency_sensitive: true })).json()) as { id: string };
    await waitFor(
      async () => ((await (await r.api(`/api/jobs/${ok.id}`)).json()) as { status: string }).status,
      (s) => s === 'queued',
    );
  });
});

describe('redelivered messages never start a second run', () => {
  let r: TestRunner;
  beforeAll(async () => {
    r = await startTestRunner({}, { workers: false });
  });
  afterAll(async () => r?.stop());

  it('re-attaches duplicate dispatch deliveries to the one local run', async () => {
    const created = (await (
      await r.post('/api/jobs', { rows: 10, estimated_runtime_sec: 200, target: 'local' })
    ).json()) as { id: string };
    await waitFor(
      async () => ((await (await r.api(`/api/jobs/${created.id}`)).json()) as { status: string }).status,
      (s) => s === 'running' || s === 'dispatched',
    );
    // The same dispatch message delivered again, several times at once.
    const q = r.deps.config.queues.ml;
    const job = (await (await r.api(`/api/jobs/${created.id}`)).json()) as { queue: string };
    await r.deps.queues.send(job.queue ?? q, [{ jobId: created.id }, { jobId: created.id }, { jobId: created.id }]);
    const provider = await r.deps.providers.get('local');
    const again = await provider.submit((await r.deps.store.get(created.id))!);
    expect(again.attached).toBe(true);
    await waitFor(
      () => r.deps.queues.depth(job.queue),
      (d) => d.active === 0,
      30_000,
      'duplicates to be consumed',
    );
    const { events } = (await (await r.api(`/api/jobs/${created.id}/events`)).json()) as {
      events: Array<{ to: string; type: string }>;
    };
    expect(events.filter((e) => e.type === 'transition' && e.to === 'dispatched')).toHaveLength(1);
    expect((await r.deps.store.get(created.id))!.attempts).toBe(1);
    await r.post(`/api/jobs/${created.id}/cancel`, {});
  });
});

describe('Service Bus dead letters', () => {
  let r: TestRunner;
  beforeAll(async () => {
    r = await startTestRunner({}, { workers: false });
  });
  afterAll(async () => r?.stop());

  it('fail the job with the reason Service Bus recorded in the message properties', async () => {
    const { deadLetterActor } = await import('../../src/functions/dead-letter.js');
    const functions = (await import('@azure/functions')).default;
    const created = (await (await r.post('/api/jobs', { rows: 1, latency_sensitive: true })).json()) as { id: string };
    await waitFor(
      async () => ((await (await r.api(`/api/jobs/${created.id}`)).json()) as { status: string }).status,
      (s) => s === 'queued',
    );
    // What the host hands the dead-letter trigger: the original body, the reason in metadata.
    const context = new functions.InvocationContext({
      functionName: 'deadLetterActor',
      triggerMetadata: {
        deliveryCount: 5,
        applicationProperties: {
          DeadLetterReason: 'MaxDeliveryCountExceeded',
          DeadLetterErrorDescription: 'Message could not be consumed after 5 delivery attempts.',
        },
      },
    });
    await deadLetterActor.handler({ jobId: created.id }, context);
    const job = (await (await r.api(`/api/jobs/${created.id}`)).json()) as {
      status: string;
      error: { message: string };
    };
    expect(job.status).toBe('failed');
    expect(job.error.message).toBe(
      'MaxDeliveryCountExceeded: Message could not be consumed after 5 delivery attempts.',
    );
  });

  it('never fail a job whose run is alive when a duplicate of its message is dead-lettered', async () => {
    const { deadLetterSpark } = await import('../../src/functions/dead-letter.js');
    const { transition } = await import('../../src/lib/core/state-machine.js');
    const functions = (await import('@azure/functions')).default;
    const created = (await (await r.post('/api/jobs', { rows: 1, target: r.deps.config.queues.spark })).json()) as {
      id: string;
    };
    await waitFor(
      async () => ((await (await r.api(`/api/jobs/${created.id}`)).json()) as { status: string }).status,
      (s) => s === 'queued',
    );
    // A worker is running it under a live lease.
    const lease = { owner: 'spark-a/run1', until: new Date(Date.now() + 60_000).toISOString() };
    await r.deps.store.update(created.id, (c) =>
      transition(c, 'dispatched', 'claimed', { patch: { lease, provider: 'worker' } }),
    );
    await r.deps.store.update(created.id, (c) => transition(c, 'running', 'running'));
    const context = new functions.InvocationContext({
      functionName: 'deadLetterSpark',
      triggerMetadata: { applicationProperties: { DeadLetterReason: 'MaxDeliveryCountExceeded' } },
    });
    await deadLetterSpark.handler({ jobId: created.id }, context);
    const job = await r.deps.store.get(created.id);
    expect(job?.status).toBe('running');
    expect((await r.deps.store.events(created.id)).at(-1)?.reason).toContain('the run under spark-a/run1 is alive');
    // Once the lease has run out (the worker died), the same dead letter fails the job.
    await r.deps.store.update(created.id, (c) => ({
      job: { ...c, lease: { ...lease, until: new Date(Date.now() - 1000).toISOString() } },
      quiet: true as const,
    }));
    await deadLetterSpark.handler({ jobId: created.id }, context);
    expect((await r.deps.store.get(created.id))?.status).toBe('failed');
  });
});
