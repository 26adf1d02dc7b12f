import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { afterEach, describe, expect, it } from 'vitest';
import { newJobId } from '../../../src/lib/core/ids.js';
import { createAzureMlProvider } from '../../../src/lib/providers/azure-ml/provider.js';
import { parseAzureMlSettings } from '../../../src/lib/providers/azure-ml/settings.js';
import { TokenBucket } from '../../../src/lib/retry.js';
import { FakeAzureMl } from '../../fakes/azure-ml/fake-arm.js';
import { FakeClock, type RateLimit } from '../../fakes/rate-limit.js';
import { providerJob } from '../../support/jobs.js';
import { drain, MASS_JOBS as N, seedDispatched, throttleConfig, throttleDeps } from '../../support/throttle-harness.js';

const TOKEN = 'throttle-token';
const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
};
const WS = { subscriptionId: 'sub-thr', resourceGroup: 'rg-thr', workspace: 'ws-thr' };

let fake: FakeAzureMl | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

/** N jobs finished at Azure ML at once, polled to the end against a read quota of `quota`. */
async function massCompletion(
  n: number,
  quota: RateLimit,
  client: { ratePerSec: number; burst: number },
  maxCycles: number,
) {
  const clock = new FakeClock();
  fake = await FakeAzureMl.start({ ...WS, token: TOKEN, pageSize: 100, readLimit: quota, clock: clock.now });
  const env = {
    AZUREML_SUBSCRIPTION_ID: WS.subscriptionId,
    AZUREML_RESOURCE_GROUP: WS.resourceGroup,
    AZUREML_WORKSPACE: WS.workspace,
    AZUREML_ARM_ENDPOINT: fake.endpoint,
    AZUREML_DEFAULT_COMPUTE: 'cpu-cluster',
    AZUREML_READ_RATE_PER_SEC: String(client.ratePerSec),
    AZUREML_READ_BURST: String(client.burst),
  };
  const config = throttleConfig(env);
  const settings = parseAzureMlSettings(env);
  const readLimiter = new TokenBucket({
    ratePerSec: settings.readRatePerSec,
    burst: settings.readBurst,
    now: clock.now,
    sleep: clock.sleep,
  });
  const provider = await createAzureMlProvider(settings, {
    credential,
    trustedCa: fake.ca,
    sleep: clock.sleep,
    readLimiter,
  });
  const deps = await throttleDeps(config, provider, clock);
  const records = Array.from({ length: n }, () =>
    providerJob(
      'azure-ml',
      newJobId(),
      'command',
      { command: 'echo hi', environment: 'azureml:env:1' },
      { createdAt: new Date(clock.now()).toISOString() },
    ),
  );
  const jobs = await seedDispatched(deps, provider, records);
  for (const job of jobs) fake.setStatus(String(job.providerRef?.jobName), 'Completed');
  fake.clearRequests();

  const outcome = await drain(
    deps,
    'azure-ml',
    jobs.map((j) => j.id),
    clock,
    { maxCycles },
  );
  const throttled = [...fake.throttled.values()].reduce((a, b) => a + b, 0);
  return { ...outcome, throttled, creates: fake.count('put'), gets: fake.count('get') };
}

describe('Azure ML polling under Resource Manager read throttling', () => {
  it('finishes 60 jobs completed at once against 10 reads/s (burst 10) although the client paces for the real 25/s', async () => {
    // The set-up: the fake is stricter than the quota the client is sized for, so 429s come.
    const r = await massCompletion(60, { perSec: 10, burst: 10 }, { ratePerSec: 25, burst: 250 }, 15);

    expect(r.statuses).toEqual({ succeeded: 60 });
    expect(r.throttled).toBeGreaterThan(0);
    // Throttled cycles still applied what they had read: progress every time, nothing starves.
    expect(r.partialCycles).toBeGreaterThan(0);
    expect(r.emptyThrottledCycles).toBe(0);
    expect(r.cycles).toBeLessThanOrEqual(15);
  });

  it(`finishes ${N} jobs completed at once with the client limiter sized to the quota, without a single 429`, async () => {
    const limit = { perSec: 20, burst: 20 };
    const r = await massCompletion(N, limit, { ratePerSec: limit.perSec, burst: limit.burst }, 50);

    expect(r.statuses).toEqual({ succeeded: N });
    expect(r.throttled).toBe(0);
    expect(r.gets).toBe(N);
    console.info(
      `azure-ml: ${N} jobs, ${limit.perSec} reads/s: ${r.cycles} cycle(s), ${(r.elapsedMs / 1000).toFixed(1)} s on the fake clock (N/limit = ${N / limit.perSec} s)`,
    );
  });
});
