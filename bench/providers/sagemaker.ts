/**
 * API calls per poll cycle of the SageMaker provider, counted at the wire fake.
 *
 * For N active jobs spread over the three kinds (training, AutoML, transform), of which every tenth
 * has just finished, one poll cycle should cost at most ceil(N_kind / 100) List calls per kind plus
 * one Describe per job that changed state, and nothing else.
 */
import type { Config } from '../../src/lib/config.js';
import type { JobRecord } from '../../src/lib/core/job.js';
import { createProvider } from '../../src/lib/providers/sagemaker/provider.js';
import { sageMakerJobName, SAGEMAKER_KINDS, type SageMakerKind } from '../../src/lib/providers/sagemaker/names.js';
import { FakeSageMaker } from '../../test/fakes/sagemaker/fake-sagemaker.js';

export interface PollCallsRow {
  activeJobs: number;
  listCalls: number;
  getCalls: number;
  otherCalls: number;
  target: string;
  ok: boolean;
}

const CREATED = '2026-11-23T11:00:00.000Z';

function record(id: string, kind: SageMakerKind, name: string): JobRecord {
  return {
    id,
    status: 'running',
    source: 'api',
    spec: {
      rows: 1000,
      estimated_runtime_sec: 10,
      priority: 'normal',
      latency_sensitive: false,
      data: {},
      labels: {},
      kind,
      spec: {},
    },
    createdAt: CREATED,
    updatedAt: CREATED,
    provider: 'sagemaker',
    providerRef: { kind, name },
    attempts: 1,
    eventSeq: 3,
  };
}

async function measure(fake: FakeSageMaker, n: number, runId: number): Promise<PollCallsRow> {
  const config = {
    env: {
      SAGEMAKER_REGION: fake.region,
      SAGEMAKER_ENDPOINT: fake.endpoint,
      SAGEMAKER_ACCESS_KEY_ID: 'AKIDBENCH',
      SAGEMAKER_SECRET_ACCESS_KEY: 'bench-secret',
      // A distinct prefix per size keeps the runs from seeing each other's jobs.
      SAGEMAKER_NAME_PREFIX: `b${runId}`,
      SAGEMAKER_MAX_ATTEMPTS: '1',
      SAGEMAKER_LIST_RATE_PER_SEC: '10000',
      SAGEMAKER_API_RATE_PER_SEC: '10000',
    },
    defaultMaxRuntimeSec: 3600,
  } as unknown as Config;
  const provider = await createProvider({ config, blobs: undefined as never });

  const jobs: JobRecord[] = [];
  const perKind = new Map<SageMakerKind, number>();
  let changed = 0;
  for (let i = 0; i < n; i++) {
    const kind = SAGEMAKER_KINDS[i % SAGEMAKER_KINDS.length]!;
    const id = `j-${String(runId).padStart(2, '0')}bench${String(i).padStart(19, '0')}`;
    const name = sageMakerJobName(`b${runId}`, kind, id);
    fake.seedJob(kind, name);
    if (i % 10 === 9) {
      fake.setStatus(kind, name, 'Completed');
      changed++;
    }
    perKind.set(kind, (perKind.get(kind) ?? 0) + 1);
    jobs.push(record(id, kind, name));
  }

  fake.resetRequests();
  const reports = await provider.poll(jobs);
  const calls = fake.callsTo();
  const listCalls = calls.filter((c) => c.op.startsWith('List')).length;
  const getCalls = calls.filter((c) => c.op.startsWith('Describe')).length;
  const otherCalls = calls.length - listCalls - getCalls;
  const maxLists = [...perKind.values()].reduce((sum, k) => sum + Math.ceil(k / 100), 0);
  const finished = reports.filter((r) => r.status === 'succeeded').length;
  return {
    activeJobs: n,
    listCalls,
    getCalls,
    otherCalls,
    target: `list ≤ ${maxLists} (ceil(N/100) per kind), describe ≤ ${changed} (jobs that changed state)`,
    ok: listCalls <= maxLists && getCalls <= changed && otherCalls === 0 && finished === changed,
  };
}

/** Starts the fake in-process and measures one poll cycle for 10, 100 and 1 000 active jobs. */
export async function benchPollCalls(): Promise<PollCallsRow[]> {
  const fake = await new FakeSageMaker().start();
  try {
    const rows: PollCallsRow[] = [];
    let runId = 0;
    for (const n of [10, 100, 1000]) rows.push(await measure(fake, n, ++runId));
    return rows;
  } finally {
    await fake.close();
  }
}
