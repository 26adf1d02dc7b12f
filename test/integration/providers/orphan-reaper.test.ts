import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelJob } from '../../../src/lib/app/cancel-job.js';
import { resendUnconfirmedCancels } from '../../../src/lib/app/reconcile.js';
import { reapOrphans, resetReaperCursors } from '../../../src/lib/app/reap-orphans.js';
import { loadConfig } from '../../../src/lib/config.js';
import type { JobRecord, JobStatus } from '../../../src/lib/core/job.js';
import { creationEvent } from '../../../src/lib/core/state-machine.js';
import type { Deps } from '../../../src/lib/deps.js';
import type { JobProvider } from '../../../src/lib/ports/provider.js';
import { parseReaperSettings } from '../../../src/lib/reaper-settings.js';
import type { ProviderHarness } from '../../contract/provider.contract.js';
import { InMemoryQueueTransport } from '../../fakes/in-memory-queue.js';
import { InMemoryBlobStore, InMemoryJobStore } from '../../fakes/in-memory-stores.js';
import {
  azureBatchHarness,
  azureMlHarness,
  sageMakerHarness,
  vertexHarness,
} from '../../support/provider-harnesses.js';

// The orphan reaper and the cancel re-send against each provider's wire fake, through the real SDK
// clients: the reaper lists what the provider created, reads our records, and stops only orphans.

const harnesses: Array<[string, () => ProviderHarness]> = [
  ['SageMaker', sageMakerHarness],
  ['Azure ML', azureMlHarness],
  ['Azure Batch', azureBatchHarness],
  ['Vertex AI (REST)', () => vertexHarness('rest')],
];

const ENV = {
  JOB_STUCK_AFTER_SEC: '60',
  ORPHAN_GRACE_SEC: '600',
  CANCEL_CONFIRM_TIMEOUT_SEC: '120',
  CANCEL_MAX_RESENDS: '2',
};

interface LogLine {
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

describe.each(harnesses)('orphan reaper on %s', (_label, makeHarness) => {
  const h = makeHarness();
  let provider: JobProvider;
  let deps: Deps;
  let store: InMemoryJobStore;
  const logs: LogLine[] = [];
  // The cloud stamps creation times with the real clock; ours starts past the grace age.
  let t = Date.now() + 3_600_000;

  beforeAll(async () => {
    await h.start();
    provider = h.provider();
    store = new InMemoryJobStore();
    const config = loadConfig(ENV);
    const log = (message: string, fields: Record<string, unknown> = {}) => void logs.push({ message, fields });
    deps = {
      config,
      store,
      queues: new InMemoryQueueTransport({ now: () => t }),
      blobs: new InMemoryBlobStore(),
      providers: { configured: () => [provider.name], get: async () => provider },
      now: () => new Date(t),
      log: { info: log, warn: log, error: log },
    };
    resetReaperCursors();
  });
  afterAll(async () => h.stop());

  /** Starts a run at the provider and stores its record as `status` (or stores none). */
  async function runWithRecord(status: JobStatus | 'none', attempts = 1): Promise<JobRecord> {
    const job = h.newJob();
    const outcome = await provider.submit(job);
    await h.startRun({ ...job, providerRef: outcome.ref });
    const at = new Date(t).toISOString();
    const record: JobRecord = {
      ...job,
      status: status === 'none' ? 'running' : status,
      attempts,
      providerRef: outcome.ref,
      createdAt: at,
      updatedAt: at,
      ...(status === 'queued' && { attempts: 0, providerRef: undefined, dispatchedAt: undefined }),
    };
    if (status !== 'none') await store.create(record, creationEvent(record, 'seeded'));
    return { ...record, status: 'running', attempts: 1, providerRef: outcome.ref };
  }

  /** Whether the provider still runs the job (a poll of it as `running` reports nothing new, or running). */
  async function stillRuns(job: JobRecord): Promise<boolean> {
    const reports = await provider.poll([job]);
    const mine = reports.find((r) => r.jobId === job.id);
    return mine === undefined || mine.status === 'running' || mine.status === 'dispatched';
  }

  /** The creation time the provider lists for the job's run. */
  async function listedCreatedAt(jobId: string): Promise<string> {
    let cursor: string | undefined;
    for (let i = 0; i < 50; i++) {
      const page = await provider.listOwnedJobs!(cursor);
      const found = page.jobs.find((j) => j.jobId === jobId);
      if (found?.createdAt) return found.createdAt;
      if (!page.next) break;
      cursor = page.next;
    }
    throw new Error(`the provider does not list ${jobId}`);
  }

  async function reapAll(): Promise<void> {
    // Enough passes to walk every page of every kind from wherever the cursor stands.
    for (let i = 0; i < 6; i++) await reapOrphans(deps);
  }

  it('stops a run whose job ended and a run no record owns; leaves the owned and the in-flight ones alone', async () => {
    const owned = await runWithRecord('running');
    const inFlight = await runWithRecord('queued');
    const ended = await runWithRecord('cancelled');
    const nobody = await runWithRecord('none');
    const before = logs.length;

    await reapAll();

    expect(await stillRuns(owned)).toBe(true);
    expect(await stillRuns(inFlight)).toBe(true);
    expect(await stillRuns(ended)).toBe(false);
    expect(await stillRuns(nobody)).toBe(false);

    const events = await store.events(ended.id);
    expect(events.at(-1)).toMatchObject({ type: 'note', from: 'cancelled', to: 'cancelled' });
    expect(events.at(-1)?.reason).toMatch(/orphaned .* stopped: .*ended cancelled/);
    expect((await store.events(owned.id)).some((e) => /orphan/.test(e.reason))).toBe(false);
    const lines = logs.slice(before).filter((l) => l.message.startsWith('orphan cloud job stopped'));
    expect(lines.map((l) => l.fields.jobId)).toEqual([nobody.id]);
    expect(lines[0]?.fields).toMatchObject({ provider: provider.name });
  });

  it('leaves a run younger than the grace age alone even when nothing owns it', async () => {
    const saved = t;
    try {
      const young = await runWithRecord('none');
      // Each fake stamps creation times with a clock of its own: "now" is just after the run's birth.
      t = Date.parse(await listedCreatedAt(young.id)) + 1000;
      await reapAll();
      expect(await stillRuns(young)).toBe(true);
      // Once past the grace age it is an orphan like any other.
      t = Date.now() + 3_600_000;
      await reapAll();
      expect(await stillRuns(young)).toBe(false);
    } finally {
      t = saved;
    }
  });

  it('stops at most ORPHAN_STOPS_PER_PASS per pass and resumes where the last pass stopped', async () => {
    const orphans = [];
    for (let i = 0; i < 4; i++) orphans.push(await runWithRecord('failed'));
    const limited = { ...parseReaperSettings(ENV), stopsPerPass: 2 };

    let first = await reapOrphans(deps, limited);
    // The cursor may stand at the end of the last pass's listing: a pass that listed none starts over.
    for (let i = 0; i < 4 && first.orphans === 0; i++) first = await reapOrphans(deps, limited);
    expect(first.stopped).toBe(2);
    const running = await Promise.all(orphans.map(stillRuns));
    expect(running.filter(Boolean)).toHaveLength(2);

    for (let i = 0; i < 6; i++) await reapOrphans(deps, limited);
    expect((await Promise.all(orphans.map(stillRuns))).some(Boolean)).toBe(false);
  });

  it('re-sends a stop the provider never confirmed, once the confirm timeout passed, with a note', async () => {
    const job = await runWithRecord('running');
    // The first stop request is lost (throttled past the in-call retries).
    h.throttleNext('cancel');
    const cancelling = await cancelJob(deps, job.id);
    expect(cancelling.status).toBe('cancelling');
    expect(await stillRuns(job)).toBe(true);

    const settings = parseReaperSettings(ENV);
    t += 60_000;
    expect(await resendUnconfirmedCancels(deps, settings)).toBe(0);
    t += 61_000;
    expect(await resendUnconfirmedCancels(deps, settings)).toBe(1);

    expect(await stillRuns(job)).toBe(false);
    const after = await store.get(job.id);
    expect(after).toMatchObject({ status: 'cancelling', cancelResends: 1 });
    const notes = (await store.events(job.id)).filter((e) => /re-sent/.test(e.reason));
    expect(notes).toHaveLength(1);
    expect(notes[0]?.detail).toMatchObject({ resend: 1, maxResends: 2 });
    // The reaper never touches it: an active record owns it.
    const reaped = await reapOrphans(deps);
    expect(reaped.stopFailed).toBe(0);
    expect((await store.events(job.id)).some((e) => /orphan/.test(e.reason))).toBe(false);
  });
});
