import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../src/functions/all.js';
import type { JobRecord } from '../../src/lib/core/job.js';
import { startTestRunner, TERMINAL, waitFor, type TestRunner } from '../support/runner.js';

const KEY = 'key-for-the-execute-gate-tests';
const auth = { 'x-functions-key': KEY };

/** Everything but the dispatchers: jobs are classified and then wait, queued, for a later runner. */
const WITHOUT_DISPATCH = FUNCTIONS.filter((f) => f.name !== 'dispatchMl' && f.name !== 'dispatchBatch');

/** A command that leaves a file behind: the proof that it ran. */
function markerCommand(): { marker: string; command: string } {
  const marker = join(mkdtempSync(join(tmpdir(), 'cjo-gate-')), 'ran');
  return { marker, command: `id; touch ${marker}` };
}

/** The runner's table, queue and container names, so a second runner takes over its queued jobs. */
function sameResources(r: TestRunner): Record<string, string> {
  const names = [
    'JOBS_TABLE',
    'IDEMPOTENCY_TABLE',
    'RESULTS_CONTAINER',
    'PAYLOADS_CONTAINER',
    'QUEUE_INTAKE',
    'QUEUE_ACTOR',
    'QUEUE_SPARK',
    'QUEUE_ML',
    'QUEUE_BATCH',
    'LOCAL_PROVIDER_DIR',
  ];
  return Object.fromEntries(names.map((n) => [n, r.deps.config.env[n]!]));
}

async function waitQueued(r: TestRunner, id: string): Promise<void> {
  await waitFor(
    () => r.deps.store.get(id),
    (j) => j?.status === 'queued',
    30_000,
    `job ${id} queued`,
  );
}

async function waitEnded(r: TestRunner, id: string): Promise<JobRecord> {
  return (await waitFor(
    () => r.deps.store.get(id),
    (j) => TERMINAL.includes(j?.status ?? ''),
    60_000,
    `job ${id} finished`,
  ))!;
}

describe('the /execute gate: a command job is created only by POST /api/execute', () => {
  let off: TestRunner;
  let on: TestRunner;
  beforeAll(async () => {
    [off, on] = await Promise.all([
      startTestRunner({ LOCAL_API_KEY: KEY }),
      startTestRunner({ ESSEDUM_EXECUTE_ENABLED: 'true', LOCAL_API_KEY: KEY }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([off?.stop(), on?.stop()]);
  });

  it.each([
    ['on a worker queue', {}],
    ['on the local provider', { target: 'local' }],
    ['on Azure Batch', { target: 'azure-batch' }],
  ])(
    'refuses a command job smuggled through /api/jobs and /api/submit-job %s, with /execute off or on, and runs nothing',
    async (_where, target) => {
      for (const r of [off, on]) {
        const { marker, command } = markerCommand();
        const exploit = { latency_sensitive: true, kind: 'essedum-execute', spec: { command }, ...target };
        for (const path of ['/api/jobs', '/api/submit-job']) {
          for (const kind of ['essedum-execute', ' Essedum-Execute ']) {
            const res = await r.post(path, { ...exploit, kind }, auth);
            expect(res.status, `${path} kind '${kind}'`).toBe(400);
            expect(res.headers.get('content-type')).toContain('application/problem+json');
            const problem = (await res.json()) as { errors: Array<{ field: string; message: string }> };
            expect(problem.errors.map((e) => e.field)).toEqual(['kind']);
            expect(problem.errors[0]!.message).toContain('/api/execute');
          }
        }
        expect((await r.deps.store.list({ limit: 10 })).jobs).toEqual([]);
        // Give a worker that wrongly took it the time to run `touch`.
        await new Promise((done) => setTimeout(done, 500));
        expect(existsSync(marker)).toBe(false);
      }
    },
  );
});

describe('replies carry no host paths', () => {
  it('shows the job folder by a neutral name in logs, getStatus and errors, on a worker and on the local provider', async () => {
    const r = await startTestRunner({ ESSEDUM_EXECUTE_ENABLED: 'true', LOCAL_API_KEY: KEY });
    try {
      const ids: string[] = [];
      for (const configs of [{ latency_sensitive: true }, { target: 'local' }]) {
        const res = await r.post(
          '/api/execute',
          { command: 'pwd; echo "cwd=$PWD" >&2; exit 3', storage: 'local', configs },
          auth,
        );
        expect(res.status).toBe(201);
        const accepted = (await res.json()) as { task_id: string; log_path: string };
        expect(accepted.log_path.startsWith('/')).toBe(false);
        ids.push(accepted.task_id);
      }
      for (const id of ids) {
        const job = await waitEnded(r, id);
        expect(job.status).toBe('failed');
        const status = (await (await r.api(`/api/execute/${id}/getStatus`, { headers: auth })).json()) as {
          log_path: string;
        };
        const log = (await (await r.api(`/api/execute/${id}/getLog`, { headers: auth })).json()) as {
          logs: { content: string };
        };
        const replies = [JSON.stringify(status), log.logs.content, JSON.stringify(job.error)];
        expect(log.logs.content).toContain('<job folder>');
        for (const text of replies) {
          expect(text).not.toContain(tmpdir());
          expect(text).not.toContain(r.deps.config.localProviderDir);
        }
      }
    } finally {
      await r.stop();
    }
  });
});

describe('the /execute gate at run time', () => {
  it('fails command jobs still queued when /execute is switched off, with EXECUTE_DISABLED, on a worker and on the local provider', async () => {
    const { marker, command } = markerCommand();
    const before = await startTestRunner(
      { ESSEDUM_EXECUTE_ENABLED: 'true', LOCAL_API_KEY: KEY },
      { workers: false, functions: WITHOUT_DISPATCH },
    );
    let ids: string[];
    let resources: Record<string, string>;
    try {
      ids = [];
      for (const configs of [{ target: before.deps.config.queues.spark }, { target: 'local' }]) {
        const res = await before.post('/api/execute', { command, storage: 'local', configs }, auth);
        expect(res.status).toBe(201);
        ids.push(((await res.json()) as { task_id: string }).task_id);
      }
      for (const id of ids) await waitQueued(before, id);
      resources = sameResources(before);
    } finally {
      await before.stop();
    }

    const after = await startTestRunner({ ...resources, ESSEDUM_EXECUTE_ENABLED: 'false', LOCAL_API_KEY: KEY });
    try {
      for (const id of ids) {
        const job = await waitEnded(after, id);
        expect(job.status).toBe('failed');
        expect(job.error?.code).toBe('EXECUTE_DISABLED');
      }
      expect(existsSync(marker)).toBe(false);
    } finally {
      await after.stop();
    }
  });

  it('refuses a record tampered in storage to the command kind without the /execute origin, on a worker and on the local provider', async () => {
    const { marker, command } = markerCommand();
    const before = await startTestRunner({ LOCAL_API_KEY: KEY }, { workers: false, functions: WITHOUT_DISPATCH });
    let ids: string[];
    let resources: Record<string, string>;
    try {
      ids = [];
      for (const target of [before.deps.config.queues.spark, 'local']) {
        const res = await before.post('/api/jobs', { rows: 10, estimated_runtime_sec: 1, target }, auth);
        expect(res.status).toBe(202);
        ids.push(((await res.json()) as { id: string }).id);
      }
      for (const id of ids) {
        await waitQueued(before, id);
        // An attacker with write access to the table turns the job into a command job.
        await before.deps.store.update(id, (c) => ({
          job: { ...c, spec: { ...c.spec, kind: 'essedum-execute', spec: { command, storage: 'local' } } },
          quiet: true,
        }));
        expect((await before.deps.store.get(id))?.spec.kind).toBe('essedum-execute');
      }
      resources = sameResources(before);
    } finally {
      await before.stop();
    }

    // /execute is on: the origin check alone must stop these.
    const after = await startTestRunner({ ...resources, ESSEDUM_EXECUTE_ENABLED: 'true', LOCAL_API_KEY: KEY });
    try {
      for (const id of ids) {
        const job = await waitEnded(after, id);
        expect(job.status).toBe('failed');
        expect(job.error?.code).toBe('COMMAND_NOT_FROM_EXECUTE');
      }
      expect(existsSync(marker)).toBe(false);
    } finally {
      await after.stop();
    }
  });
});
