import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderCapacityError } from '../../../src/lib/errors.js';
import {
  azureBatchHarness,
  azureMlHarness,
  type CapacityHarness,
  sageMakerHarness,
  vertexHarness,
} from '../../support/provider-harnesses.js';

// Each provider's documented capacity and quota refusals, injected into its wire fake and read back
// through its real SDK client: submit throws ProviderCapacityError with the provider's code (so
// dispatch fails over instead of failing the job), lasting only where waiting cannot help, and
// nothing is started at the provider.

async function expectRefusal(h: CapacityHarness, index: number): Promise<void> {
  const c = h.capacityRefusals[index]!;
  c.inject();
  const job = h.newJob();
  const error = await h
    .provider()
    .submit(job)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error, `expected a capacity refusal for ${c.code}, got ${String(error)}`).toBeInstanceOf(
    ProviderCapacityError,
  );
  expect(error).toMatchObject({ code: 'PROVIDER_CAPACITY', providerCode: c.code, lasting: c.lasting, retriable: true });
  expect(h.runsNamed(h.derivedName(job.id))).toEqual([]);
}

/** One started harness for the whole provider: its refusals are one-off replies to the next create. */
function sharedHarness(name: string, make: () => CapacityHarness): void {
  describe(name, () => {
    const h = make();
    beforeAll(() => h.start());
    afterAll(() => h.stop());
    h.capacityRefusals.forEach((c, i) => {
      it(`refuses for capacity on ${c.code} (${c.what})${c.lasting ? ', lasting' : ''}`, async () => {
        await expectRefusal(h, i);
      });
    });
    it('submits normally once the refusals are over: a refusal started nothing and left nothing behind', async () => {
      const job = h.newJob();
      await expect(h.provider().submit(job)).resolves.toMatchObject({ attached: false });
      expect(h.runsNamed(h.derivedName(job.id))).toHaveLength(1);
    });
  });
}

sharedHarness('SageMaker', sageMakerHarness);
sharedHarness('Azure ML', azureMlHarness);
sharedHarness('Vertex AI (REST)', () => vertexHarness('rest'));
sharedHarness('Vertex AI (gRPC)', () => vertexHarness('grpc'));

describe('Vertex AI: the request-rate quota is throttling, not capacity', () => {
  const h = vertexHarness('rest');
  beforeAll(() => h.start());
  afterAll(() => h.stop());
  it('answers RESOURCE_EXHAUSTED on the CRUD request quota with a retriable throttle, never a failover', async () => {
    h.throttleNext('submit');
    const error = await h
      .provider()
      .submit(h.newJob())
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).not.toBeInstanceOf(ProviderCapacityError);
    expect(error).toMatchObject({ code: 'PROVIDER_THROTTLED' });
  });
});

describe('Azure Batch', () => {
  // Pool creation, the pool job and the pool's capacity look are done once per provider: each case
  // gets a provider of its own.
  for (const [i, c] of azureBatchHarness().capacityRefusals.entries()) {
    it(`refuses for capacity on ${c.code} (${c.what})`, async () => {
      const h = azureBatchHarness();
      await h.start();
      try {
        await expectRefusal(h, i);
      } finally {
        await h.stop();
      }
    });
  }
});
