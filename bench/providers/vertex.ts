import type { JobRecord } from '../../src/lib/core/job.js';
import { createVertexProvider } from '../../src/lib/providers/vertex/provider.js';
import type { VertexKind } from '../../src/lib/providers/vertex/spec.js';
import { fakeSettings, staticAuthClient } from '../../test/fakes/vertex/fixtures.js';
import type { FakeKind } from '../../test/fakes/vertex/vertex-fake-service.js';
import { VertexRestFake } from '../../test/fakes/vertex/vertex-rest-fake.js';
import { runWhenMain } from './standalone.js';

const PAGE = 100;
const KINDS: readonly { kind: VertexKind; collection: FakeKind; running: string; succeeded: string; failed: string }[] =
  [
    {
      kind: 'custom',
      collection: 'customJobs',
      running: 'JOB_STATE_RUNNING',
      succeeded: 'JOB_STATE_SUCCEEDED',
      failed: 'JOB_STATE_FAILED',
    },
    {
      kind: 'training_pipeline',
      collection: 'trainingPipelines',
      running: 'PIPELINE_STATE_RUNNING',
      succeeded: 'PIPELINE_STATE_SUCCEEDED',
      failed: 'PIPELINE_STATE_FAILED',
    },
    {
      kind: 'batch_prediction',
      collection: 'batchPredictionJobs',
      running: 'JOB_STATE_RUNNING',
      succeeded: 'JOB_STATE_SUCCEEDED',
      failed: 'JOB_STATE_FAILED',
    },
  ];

/**
 * API calls of one Vertex AI poll cycle with N active jobs, counted at the in-process REST fake
 * through the real `@google-cloud/aiplatform` client. Jobs are spread round-robin over the three
 * resource kinds; of every ten jobs one starts running, one succeeds and one fails, the rest are
 * unchanged. Target: at most ceil(n/100) list calls per resource kind plus one get per job that
 * changed state (only finished jobs need one: they leave the list of unfinished resources).
 */
export async function benchPollCalls(): Promise<
  Array<{ activeJobs: number; listCalls: number; getCalls: number; otherCalls: number; target: string; ok: boolean }>
> {
  const rows = [];
  for (const n of [10, 100, 1000]) {
    const fake = await new VertexRestFake().start();
    const provider = await createVertexProvider(fakeSettings(fake), { authClient: staticAuthClient() });
    try {
      const now = new Date().toISOString();
      const perKind = new Map<VertexKind, number>();
      let changed = 0;
      const jobs: JobRecord[] = [];
      for (let i = 0; i < n; i++) {
        const k = KINDS[i % KINDS.length]!;
        perKind.set(k.kind, (perKind.get(k.kind) ?? 0) + 1);
        const id = `j-01jd3m2x7k9q8w4e5r${String(i).padStart(8, '0')}`;
        const resource = fake.service.seed(k.collection, { displayName: id, labels: { cjo_job_id: id } });
        // What the last poll saw: the state the resource was created in.
        const seen = String(resource.body.state);
        const step = Math.floor(i / KINDS.length) % 10;
        if (step === 0 || step === 3 || step === 7) {
          changed += 1;
          fake.service.setState(resource, k.running);
          if (step === 3) fake.service.setState(resource, k.succeeded);
          if (step === 7) fake.service.setState(resource, k.failed, { error: { code: 3, message: 'bench failure' } });
        }
        jobs.push({
          id,
          status: 'dispatched',
          source: 'api',
          spec: {
            rows: 1000,
            estimated_runtime_sec: 10,
            priority: 'normal',
            latency_sensitive: false,
            data: {},
            labels: {},
            kind: k.kind,
          },
          createdAt: now,
          updatedAt: now,
          dispatchedAt: now,
          provider: 'vertex',
          providerRef: { kind: k.kind, name: resource.name, labelValue: id, state: seen },
          attempts: 1,
          eventSeq: 1,
        });
      }
      fake.service.calls.length = 0;

      const reports = await provider.poll(jobs);

      if (reports.length !== changed) throw new Error(`expected ${changed} reports, got ${reports.length}`);
      const list = fake.service.count('list');
      const get = fake.service.count('get');
      const other = fake.service.calls.length - list - get;
      const maxLists = [...perKind.values()].reduce((sum, k) => sum + Math.ceil(k / PAGE), 0);
      rows.push({
        activeJobs: n,
        listCalls: list,
        getCalls: get,
        otherCalls: other,
        target: `list ≤ ${maxLists} (Σ ceil(n/${PAGE}) over ${perKind.size} kinds), get ≤ ${changed} (changed), other 0`,
        ok: list <= maxLists && get <= changed && other === 0,
      });
    } finally {
      await provider.close();
      await fake.stop();
    }
  }
  return rows;
}

// `npx tsx bench/providers/vertex.ts` prints the table on its own.
runWhenMain(import.meta.url, benchPollCalls);
