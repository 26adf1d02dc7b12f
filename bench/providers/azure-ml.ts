import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { performance } from 'node:perf_hooks';
import type { JobRecord } from '../../src/lib/core/job.js';
import type { PollReport } from '../../src/lib/ports/provider.js';
import { createAzureMlProvider } from '../../src/lib/providers/azure-ml/provider.js';
import { parseAzureMlSettings } from '../../src/lib/providers/azure-ml/settings.js';
import { FakeAzureMl, type FakeJobStatus } from '../../test/fakes/azure-ml/fake-arm.js';
import { runWhenMain } from './standalone.js';

const TOKEN = 'bench-token';
const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/** Of every ten jobs, which change in the measured cycle, and to what. The rest stay as they were. */
const CHANGES: Readonly<Record<number, FakeJobStatus>> = { 0: 'Running', 3: 'Completed', 7: 'Failed' };

/**
 * API calls of one Azure ML poll cycle with N active jobs, counted at the in-process HTTPS fake of
 * Resource Manager, through the real provider and core REST pipeline. Target: at most
 * ceil(N / page size) list calls plus one get per job that changed state.
 */
export async function benchPollCalls(): Promise<
  Array<{ activeJobs: number; listCalls: number; getCalls: number; otherCalls: number; target: string; ok: boolean }>
> {
  const rows = [];
  for (const n of [10, 100, 1000]) {
    const fake = await FakeAzureMl.start({
      subscriptionId: 'bench-sub',
      resourceGroup: 'bench-rg',
      workspace: 'bench-ws',
      token: TOKEN,
    });
    try {
      const settings = parseAzureMlSettings({
        AZUREML_SUBSCRIPTION_ID: 'bench-sub',
        AZUREML_RESOURCE_GROUP: 'bench-rg',
        AZUREML_WORKSPACE: 'bench-ws',
        AZUREML_ARM_ENDPOINT: fake.endpoint,
        AZUREML_DEFAULT_COMPUTE: 'cpu-cluster',
      });
      const provider = await createAzureMlProvider(settings, {
        credential,
        trustedCa: fake.ca,
        sleep: async () => undefined,
      });
      const now = new Date().toISOString();
      const fresh: JobRecord[] = Array.from({ length: n }, (_, i) => ({
        id: `j-bench${String(i).padStart(6, '0')}`,
        status: 'dispatched',
        source: 'api',
        spec: {
          rows: 1000,
          estimated_runtime_sec: 10,
          priority: 'normal',
          latency_sensitive: false,
          data: {},
          labels: {},
          kind: 'command',
          spec: { command: 'echo hi', environment: 'azureml:bench-env:1' },
        },
        createdAt: now,
        updatedAt: now,
        provider: 'azure-ml',
        attempts: 1,
        eventSeq: 1,
      }));
      const jobs: JobRecord[] = [];
      // Submitting is set-up, not measured: a few at a time keeps the 1 000-job case quick.
      for (let i = 0; i < fresh.length; i += 25) {
        const chunk = fresh.slice(i, i + 25);
        const outcomes = await Promise.all(chunk.map((job) => provider.submit(job)));
        for (const [k, job] of chunk.entries())
          jobs.push({ ...job, status: outcomes[k]!.status, providerRef: outcomes[k]!.ref });
      }
      let changed = 0;
      jobs.forEach((job, i) => {
        const to = CHANGES[i % 10];
        if (to) {
          fake.setStatus(job.id, to);
          changed += 1;
        }
      });
      fake.clearRequests();

      const reports = await provider.poll(jobs);

      if (reports.length !== changed) throw new Error(`expected ${changed} reports, got ${reports.length}`);
      const listCalls = fake.count('list');
      const getCalls = fake.count('get');
      const otherCalls = fake.requests.length - listCalls - getCalls;
      const maxLists = Math.ceil(n / fake.pageSize);
      rows.push({
        activeJobs: n,
        listCalls,
        getCalls,
        otherCalls,
        target: `list ≤ ${maxLists} (page ${fake.pageSize}), get ≤ ${changed} (changed), other 0`,
        ok: listCalls <= maxLists && getCalls <= changed && otherCalls === 0,
      });
    } finally {
      await fake.stop();
    }
  }
  return rows;
}

// `npx tsx bench/providers/azure-ml.ts` prints the table on its own.
runWhenMain(import.meta.url, benchPollCalls);

/**
 * Throttled finish: N jobs completing in the same cycle against a Resource Manager read quota,
 * polled cycle after cycle (reports applied, throttled remainder carried) until every job finished.
 * Time runs on a fake clock shared by the fake's quota and the client limiter, so the figure is the
 * quota-bound time, compared with N / limit.
 */
export async function benchThrottledFinish(): Promise<Array<Record<string, unknown>>> {
  const { FakeClock } = await import('../../test/fakes/rate-limit.js');
  const { TokenBucket } = await import('../../src/lib/retry.js');
  const { PollThrottledError } = await import('../../src/lib/errors.js');
  const rows: Array<Record<string, unknown>> = [];
  for (const [n, limit] of [
    [1000, 25],
    [1000, 10],
  ] as const) {
    const clock = new FakeClock();
    const fake = await FakeAzureMl.start({
      subscriptionId: 'bench-sub',
      resourceGroup: 'bench-rg',
      workspace: 'bench-ws',
      token: TOKEN,
      pageSize: 100,
      readLimit: { perSec: limit, burst: limit },
      clock: clock.now,
    });
    try {
      const settings = parseAzureMlSettings({
        AZUREML_SUBSCRIPTION_ID: 'bench-sub',
        AZUREML_RESOURCE_GROUP: 'bench-rg',
        AZUREML_WORKSPACE: 'bench-ws',
        AZUREML_ARM_ENDPOINT: fake.endpoint,
        AZUREML_DEFAULT_COMPUTE: 'cpu-cluster',
      });
      const readLimiter = new TokenBucket({ ratePerSec: limit, burst: limit, now: clock.now, sleep: clock.sleep });
      const provider = await createAzureMlProvider(settings, {
        credential,
        trustedCa: fake.ca,
        sleep: clock.sleep,
        readLimiter,
      });
      const at = new Date(clock.now()).toISOString();
      let open: JobRecord[] = [];
      for (let i = 0; i < n; i += 25) {
        const chunk: JobRecord[] = Array.from({ length: Math.min(25, n - i) }, (_, k) => ({
          id: `j-thr${String(i + k).padStart(6, '0')}`,
          status: 'dispatched',
          source: 'api',
          spec: {
            rows: 1,
            estimated_runtime_sec: 1,
            priority: 'normal',
            latency_sensitive: false,
            data: {},
            labels: {},
            kind: 'command',
            spec: { command: 'echo hi', environment: 'azureml:bench-env:1' },
          },
          createdAt: at,
          updatedAt: at,
          provider: 'azure-ml',
          attempts: 1,
          eventSeq: 1,
        }));
        const outcomes = await Promise.all(chunk.map((job) => provider.submit(job)));
        open.push(...chunk.map((job, k) => ({ ...job, providerRef: outcomes[k]!.ref })));
      }
      for (const job of open) fake.setStatus(String(job.providerRef?.jobName), 'Completed');
      const start = clock.now();
      const wall = performance.now();
      let cycles = 0;
      while (open.length > 0 && cycles < 500) {
        cycles++;
        let reports: readonly PollReport[];
        let wait = 0;
        try {
          reports = await provider.poll(open);
        } catch (error) {
          if (!(error instanceof PollThrottledError)) throw error;
          reports = error.reports;
          wait = error.retryAfterMs;
        }
        const done = new Set(reports.filter((r) => r.status === 'succeeded').map((r) => r.jobId));
        open = open.filter((j) => !done.has(j.id));
        clock.advance(wait);
      }
      const elapsedSec = (clock.now() - start) / 1000;
      rows.push({
        jobs: n,
        'reads/s': limit,
        cycles,
        'elapsed s (quota clock)': elapsedSec.toFixed(1),
        'N/limit s': n / limit,
        '429s': [...fake.throttled.values()].reduce((a, b) => a + b, 0),
        'wall ms': Math.round(performance.now() - wall),
        unfinished: open.length,
        ok: open.length === 0 && elapsedSec <= (n / limit) * 1.2,
      });
    } finally {
      await fake.stop();
    }
  }
  return rows;
}
