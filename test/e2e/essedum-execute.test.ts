import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeS3 } from '../fakes/s3/fake-s3.js';
import { EssedumExecutorClient, type RemoteBody, type TaskState } from '../support/essedum-client.js';
import { startTestRunner, type TestRunner } from '../support/runner.js';

const KEY = 'local-key-for-essedum-tests';
const ACCESS_KEY = 'AKIA-ESSEDUM-E2E-7Q';
const SECRET_KEY = 'sEcReT-essedum-e2e-9f8e7d6c5b';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

describe('Essedum /execute through the local runner', () => {
  let r: TestRunner;
  let client: EssedumExecutorClient;
  const s3 = new FakeS3({ [ACCESS_KEY]: SECRET_KEY });
  const replies: Array<{ path: string; status: number; body: string }> = [];
  const ids: string[] = [];

  const body = (over: Partial<RemoteBody>): RemoteBody => ({
    bucket: 'essedum-data',
    project_id: 'proj-1',
    name: 'pipeline-a',
    version: '3',
    input_artifacts: 'runs/input.csv',
    command: 'true',
    storage: 'minio',
    credentials: { endpoint: s3.url, access_key: ACCESS_KEY, secret_key: SECRET_KEY },
    configs: {},
    environment: {},
    ...over,
  });

  beforeAll(async () => {
    await s3.start();
    s3.put('essedum-data', 'runs/input.csv', 'id,value\n1,forty-two\n');
    // The fake S3 listens on loopback, which only an explicit IP entry in the allow-list admits.
    r = await startTestRunner({
      ESSEDUM_EXECUTE_ENABLED: 'true',
      LOCAL_API_KEY: KEY,
      WORKER_CONCURRENCY: '4',
      ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST: new URL(s3.url).host,
      ESSEDUM_ARTIFACTS_CONTAINER: 'essedum-local-in',
    });
    client = new EssedumExecutorClient({
      executorUrl: `${r.url}/api`,
      key: KEY,
      onReply: (path, status, text) => replies.push({ path, status, body: text }),
    });
  });
  afterAll(async () => {
    await r?.stop();
    await s3.stop();
  });

  it('runs a command from WAITING to COMPLETED with its log, on a queue worker and in a local worker process', async () => {
    const command =
      'echo "hello from $ESSEDUM_NAME v$ESSEDUM_VERSION"; cat inputs/runs/input.csv; echo "key: $ESSEDUM_STORAGE_SECRET_KEY"; sleep 1';
    // The first getStatus right after the submit: WAITING, or already RUNNING when a woken worker took
    // it first (a job is queued at submission and its worker is woken at once), never finished.
    const submitAndLook = async (b: RemoteBody) => {
      const t = await client.submit(b);
      return { ...t, seen: [(await client.status(t.taskId)).state] };
    };
    const onWorker = await submitAndLook(body({ command, configs: { latency_sensitive: true } }));
    const onLocal = await submitAndLook(body({ command, configs: { target: 'local' } }));
    ids.push(onWorker.taskId, onLocal.taskId);
    for (const t of [onWorker, onLocal]) {
      const seen: TaskState[] = t.seen;
      const done = await client.waitFinished(t.taskId, 60_000, seen);
      expect(['WAITING', 'RUNNING']).toContain(seen[0]);
      expect(seen).toContain('RUNNING');
      expect(done.state).toBe('COMPLETED');
      // timestamp is the elapsed time between started and finished, in seconds.
      expect(done.elapsedSec).toBeCloseTo((done.finished! - done.started!) / 1000, 3);
      expect(done.started!).toBeGreaterThanOrEqual(done.submitted);
      expect(done.logPath).toBe(t.logPath);
      const log = await client.log(t.taskId);
      expect(log).toContain('hello from pipeline-a v3');
      expect(log).toContain('1,forty-two');
      // The command printed the secret; the log shows it masked.
      expect(log).toContain('key: ****');
    }
    const job = (await (
      await r.api(`/api/jobs/${onWorker.taskId}`, { headers: { 'x-functions-key': KEY } })
    ).json()) as { provider: string; queue: string };
    expect(job).toMatchObject({ provider: 'worker', queue: r.deps.config.queues.actor });
    const local = (await (
      await r.api(`/api/jobs/${onLocal.taskId}`, { headers: { 'x-functions-key': KEY } })
    ).json()) as { provider: string };
    expect(local.provider).toBe('local');
    // Both fetches reached the S3 stand-in signed with the caller's key.
    expect(s3.requests.filter((q) => q.outcome === 'OK' && q.accessKey === ACCESS_KEY).length).toBeGreaterThanOrEqual(
      2,
    );

    const list = await client.list();
    expect(list.find((x) => x.id === onWorker.taskId)?.status).toBe('COMPLETED');
    expect(list.find((x) => x.id === onLocal.taskId)?.status).toBe('COMPLETED');
  });

  it('reads storage "local" artifacts from Blob Storage, on a queue worker (the only runner with blob access)', async () => {
    await r.deps.blobs.ensure(['essedum-local-in']);
    await r.deps.blobs.put('essedum-local-in', 'in/data.txt', 'from-blob-storage\n');
    const t = await client.submit(
      body({
        storage: 'local',
        bucket: 'essedum-local-in',
        input_artifacts: 'in/data.txt',
        command: 'cat inputs/in/data.txt',
        credentials: { endpoint: '', access_key: '', secret_key: '' },
      }),
    );
    ids.push(t.taskId);
    expect((await client.waitFinished(t.taskId)).state).toBe('COMPLETED');
    expect(await client.log(t.taskId)).toContain('from-blob-storage');
    const job = await r.deps.store.get(t.taskId);
    expect(job).toMatchObject({ provider: 'worker', queue: r.deps.config.queues.spark });
  });

  it('ends a command that exits non-zero as ERROR, with its output and the exit code in the log', async () => {
    const worker = await client.submit(
      body({ command: 'echo about to fail; exit 3', input_artifacts: '', configs: { latency_sensitive: true } }),
    );
    const local = await client.submit(
      body({ command: 'echo about to fail; exit 3', input_artifacts: '', configs: { target: 'local' } }),
    );
    ids.push(worker.taskId, local.taskId);
    for (const t of [worker, local]) {
      const done = await client.waitFinished(t.taskId);
      expect(done.state).toBe('ERROR');
      expect(typeof done.elapsedSec).toBe('number');
      const log = await client.log(t.taskId);
      expect(log).toContain('about to fail');
      expect(log).toContain('EXIT_3');
    }
  });

  it('stops a running command: Task cancelled true, then CANCELLED once the process is gone', async () => {
    const worker = await client.submit(
      body({
        command: 'echo started; sleep 120',
        input_artifacts: '',
        configs: { target: r.deps.config.queues.spark },
      }),
    );
    const local = await client.submit(
      body({ command: 'echo started; sleep 120', input_artifacts: '', configs: { target: 'local' } }),
    );
    ids.push(worker.taskId, local.taskId);
    for (const t of [worker, local]) {
      const seen: TaskState[] = [];
      for (;;) {
        const s = await client.status(t.taskId);
        if (s.state === 'RUNNING') break;
        expect(['WAITING']).toContain(s.state);
        seen.push(s.state);
        await new Promise((res) => setTimeout(res, 100));
      }
      expect(await client.stop(t.taskId)).toBe(true);
      const done = await client.waitFinished(t.taskId, 30_000);
      expect(done.state).toBe('CANCELLED');
      // Nothing left to stop.
      expect(await client.stop(t.taskId)).toBe(false);
    }
  });

  it('answers unknown ids, and ids of jobs from other APIs, with the executors’ 404 body', async () => {
    for (const path of [
      '/execute/j-00000000000000000000000000/getStatus',
      '/execute/nope/getLog',
      '/execute/nope/stop',
    ]) {
      const res = await client.get(path);
      expect(res.status).toBe(404);
      expect(res.json).toEqual({ error: 'Not found - The requested resource does not exists' });
    }
    const other = (await (
      await r.post('/api/jobs', { rows: 10, estimated_runtime_sec: 1 }, { 'x-functions-key': KEY })
    ).json()) as { id: string };
    expect((await client.get(`/execute/${other.id}/getStatus`)).status).toBe(404);
  });

  it('rejects a body without a command as a 400 problem', async () => {
    const res = await client.submitRaw({ ...body({}), command: '' });
    expect(res.status).toBe(400);
    expect((res.json as { errors: Array<{ field: string }> }).errors.map((e) => e.field)).toContain('command');
  });

  it('never shows the credentials: not in any reply, job record, history, log, result or local run folder', async () => {
    // Runs after the tests above (same file, in order), over every task they created.
    expect(ids.length).toBeGreaterThanOrEqual(6);
    const leaks = (where: string, text: string) => {
      for (const secret of [SECRET_KEY, ACCESS_KEY])
        expect(text.includes(secret), `${where} contains a credential`).toBe(false);
    };
    for (const rep of replies) leaks(`reply ${rep.path}`, rep.body);
    const headers = { 'x-functions-key': KEY };
    for (const id of ids) {
      const job = await r.deps.store.get(id);
      leaks(`job ${id}`, JSON.stringify(job));
      leaks(`events ${id}`, JSON.stringify(await r.deps.store.events(id)));
      for (const p of ['', '/events', '/logs', '/result'])
        leaks(`GET /api/jobs/${id}${p}`, await (await r.api(`/api/jobs/${id}${p}`, { headers })).text());
    }
    for (const name of await r.deps.blobs.list(r.deps.config.containers.results, '')) {
      leaks(`blob ${name}`, (await r.deps.blobs.get(r.deps.config.containers.results, name))?.toString('utf8') ?? '');
    }
    for (const f of filesUnder(r.deps.config.localProviderDir)) leaks(`file ${f}`, readFileSync(f, 'utf8'));
  });
});

describe('Essedum /execute refuses to run commands unless enabled and authenticated', () => {
  it('answers 403 while ESSEDUM_EXECUTE_ENABLED is off', async () => {
    const r = await startTestRunner({}, { workers: false });
    try {
      const res = await r.post('/api/execute', { command: 'echo hi', storage: 'local' });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { code: string; detail: string }).detail).toContain('ESSEDUM_EXECUTE_ENABLED');
    } finally {
      await r.stop();
    }
  });

  it('answers 403 when enabled on a local runner without LOCAL_API_KEY', async () => {
    const r = await startTestRunner({ ESSEDUM_EXECUTE_ENABLED: 'true' }, { workers: false });
    try {
      const res = await r.post('/api/execute', { command: 'echo hi', storage: 'local' });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { detail: string }).detail).toContain('LOCAL_API_KEY');
    } finally {
      await r.stop();
    }
  });

  it('answers 401 without the key when enabled with LOCAL_API_KEY', async () => {
    const r = await startTestRunner({ ESSEDUM_EXECUTE_ENABLED: 'true', LOCAL_API_KEY: KEY }, { workers: false });
    try {
      expect((await r.post('/api/execute', { command: 'echo hi', storage: 'local' })).status).toBe(401);
      expect(
        (await r.post('/api/execute', { command: 'echo hi', storage: 'local' }, { 'x-functions-key': 'wrong' })).status,
      ).toBe(401);
    } finally {
      await r.stop();
    }
  });
});
