import { grpc } from 'google-gax';
import { afterEach, describe, expect, it } from 'vitest';
import { newJobId } from '../../../src/lib/core/ids.js';
import { parseVertexSettings } from '../../../src/lib/providers/vertex/settings.js';
import { createSdkVertexApi } from '../../../src/lib/providers/vertex/client.js';
import { VertexProvider } from '../../../src/lib/providers/vertex/provider.js';
import { TokenBucket } from '../../../src/lib/retry.js';
import { FakeClock, type RateLimit } from '../../fakes/rate-limit.js';
import { CUSTOM_SPEC, staticAuthClient } from '../../fakes/vertex/fixtures.js';
import { VertexGrpcFake } from '../../fakes/vertex/vertex-grpc-fake.js';
import { VertexRestFake } from '../../fakes/vertex/vertex-rest-fake.js';
import { providerJob } from '../../support/jobs.js';
import { drain, MASS_JOBS as N, seedDispatched, throttleConfig, throttleDeps } from '../../support/throttle-harness.js';

type Transport = 'rest' | 'grpc';

let fake: VertexRestFake | VertexGrpcFake | undefined;
let provider: VertexProvider | undefined;
afterEach(async () => {
  await provider?.close();
  await fake?.stop();
  provider = undefined;
  fake = undefined;
});

/**
 * N CustomJobs finished at Vertex AI at once, polled to the end against a per-region CRUD quota of
 * `quota` (switched on once the jobs are created, so seeding is not what gets throttled).
 */
async function massCompletion(
  transport: Transport,
  n: number,
  quota: RateLimit,
  client: { ratePerSec: number; burst: number; retries?: number },
  maxCycles: number,
) {
  const clock = new FakeClock();
  const f =
    transport === 'rest'
      ? await new VertexRestFake({ quotaClock: clock.now }).start()
      : await new VertexGrpcFake({ quotaClock: clock.now }).start();
  fake = f;
  const env = {
    VERTEX_PROJECT: f.service.project,
    VERTEX_LOCATION: f.service.location,
    VERTEX_API_ENDPOINT: '127.0.0.1',
    VERTEX_API_PORT: String(f.port),
    VERTEX_TRANSPORT: transport,
    ...(transport === 'rest' && { VERTEX_API_PROTOCOL: 'http' }),
    VERTEX_READ_RATE_PER_SEC: String(client.ratePerSec),
    VERTEX_READ_BURST: String(client.burst),
    ...(client.retries !== undefined && { VERTEX_READ_RETRIES: String(client.retries) }),
  };
  const config = throttleConfig(env);
  const settings = parseVertexSettings(env);
  const api = await createSdkVertexApi(settings, {
    authClient: staticAuthClient(),
    ...(transport === 'grpc' && { sslCreds: grpc.credentials.createInsecure() }),
  });
  const readLimiter = new TokenBucket({
    ratePerSec: settings.readRatePerSec,
    burst: settings.readBurst,
    now: clock.now,
    sleep: clock.sleep,
  });
  const p = new VertexProvider(settings, api, clock.sleep, readLimiter);
  provider = p;
  const deps = await throttleDeps(config, p, clock);
  const records = Array.from({ length: n }, () =>
    providerJob('vertex', newJobId(), 'custom', CUSTOM_SPEC, { createdAt: new Date(clock.now()).toISOString() }),
  );
  const jobs = await seedDispatched(deps, p, records);
  for (const job of jobs) f.service.setState(String(job.providerRef?.name), 'JOB_STATE_SUCCEEDED');
  f.service.setCrudLimit(quota);
  const from = f.service.calls.length;

  const outcome = await drain(
    deps,
    'vertex',
    jobs.map((j) => j.id),
    clock,
    { maxCycles },
  );
  const calls = f.service.calls.slice(from);
  return {
    ...outcome,
    throttled: f.service.throttledByQuota,
    exhaustedCalls: calls.filter((c) => c.outcome === 'RESOURCE_EXHAUSTED').length,
    creates: calls.filter((c) => c.verb === 'create').length,
    gets: calls.filter((c) => c.verb === 'get' && c.outcome === 'OK').length,
    // Look-ups of finished jobs by label (`labels.<key>="…" OR …`), as opposed to the not-finished list.
    lookups: calls.filter((c) => c.verb === 'list' && c.outcome === 'OK' && !(c.filter ?? '').includes(':*')).length,
  };
}

describe('Vertex AI polling under the per-region CRUD request quota', () => {
  for (const transport of ['rest', 'grpc'] as const) {
    it(`finishes 60 jobs completed at once against 1 request/s (burst 2) although the client paces for the documented 10/s (${transport})`, async () => {
      // The fake is stricter than the quota the client is sized for, so RESOURCE_EXHAUSTED comes:
      // a cycle is one list of not-finished resources and one look-up per 20 finished jobs, so a
      // burst of 2 cuts the first cycle after its first look-up.
      // No in-cycle retries: every throttle ends its cycle, so what is exercised is the cycle keeping
      // what it read and carrying the rest (with retries, backoff inside the cycle often absorbs them).
      const r = await massCompletion(
        transport,
        60,
        { perSec: 1, burst: 2 },
        { ratePerSec: 10, burst: 10, retries: 0 },
        30,
      );

      expect(r.statuses).toEqual({ succeeded: 60 });
      expect(r.throttled).toBeGreaterThan(0);
      expect(r.exhaustedCalls).toBe(r.throttled);
      // Throttled cycles still applied what they had read: progress every time, nothing starves.
      expect(r.partialCycles).toBeGreaterThan(0);
      expect(r.emptyThrottledCycles).toBe(0);
      expect(r.cycles).toBeLessThanOrEqual(30);
      // Polling never creates.
      expect(r.creates).toBe(0);
    });
  }

  it(`finishes ${N} jobs completed at once with the client limiter sized to the quota, without a single RESOURCE_EXHAUSTED`, async () => {
    const limit = { perSec: 10, burst: 10 };
    const r = await massCompletion('rest', N, limit, { ratePerSec: limit.perSec, burst: limit.burst }, 50);

    expect(r.statuses).toEqual({ succeeded: N });
    expect(r.throttled).toBe(0);
    // Finished jobs are read back 20 to a list call, never with a get each.
    expect(r.gets).toBe(0);
    expect(r.lookups).toBe(Math.ceil(N / 20));
    console.info(
      `vertex: ${N} jobs, ${limit.perSec} requests/s: ${r.cycles} cycle(s), ${(r.elapsedMs / 1000).toFixed(1)} s on the fake clock (N/limit = ${N / limit.perSec} s)`,
    );
  });
});
