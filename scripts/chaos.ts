/**
 * `npm run chaos`: the crash-safety drill from issue 14, on the built app as `npm start` runs it.
 *
 * 300+ jobs across the actor, spark, ml and batch classes (ml and batch on the local provider) are
 * submitted while the whole stack — the `npm start` process group: runner, in-process workers and
 * every local run — is killed with SIGKILL twice and restarted. Afterwards every job must be
 * `succeeded` exactly once, no run folder may show a run started twice, and after the final
 * (graceful) stop no process of the stack, and no Azurite, may be left. Loopback only.
 *
 * Exit code 0 when every check holds; 1 with the failed checks listed otherwise.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPortOwner, isPortFree } from '../src/local/port-owner.js';
import { freePort } from '../test/support/ports.js';
import { isRunning, processesInGroup, spawnStack, type StackProcess } from '../test/support/stack.js';

const JOBS = Number(process.env.CHAOS_JOBS ?? 320);
/** Submissions sent side by side, and the pause between such batches (keeps local runs to a few dozen at once). */
const SUBMIT_BATCH = Number(process.env.CHAOS_SUBMIT_BATCH ?? 16);
const BATCH_PAUSE_MS = Number(process.env.CHAOS_BATCH_PAUSE_MS ?? 500);
/** Seconds after the last submission within which every job must have finished. */
const SETTLE_SEC = Number(process.env.CHAOS_SETTLE_SEC ?? 600);
/** Kills happen once this many jobs were accepted. */
const KILL_AT = [Math.floor(JOBS * 0.3), Math.floor(JOBS * 0.65)];

type JobClass = 'actor' | 'spark' | 'ml' | 'batch';
const CLASSES: JobClass[] = ['actor', 'spark', 'ml', 'batch'];
/** Bodies the README's classifier routes to each class; 20 s × SIMULATION_TIME_SCALE 0.1 ≈ 2 s of work. */
const BODY: Record<JobClass, Record<string, unknown>> = {
  actor: { latency_sensitive: true, rows: 100, estimated_runtime_sec: 20 },
  spark: { rows: 50_000_000, estimated_runtime_sec: 20, priority: 'high' },
  ml: { rows: 5_000_000, estimated_runtime_sec: 20 },
  batch: { rows: 1_000, estimated_runtime_sec: 20 },
};
const QUEUE_OF: Record<JobClass, string> = {
  actor: 'actor-jobs',
  spark: 'spark-jobs',
  ml: 'ml-jobs',
  batch: 'batch-jobs',
};

interface Submitted {
  readonly key: string;
  readonly cls: JobClass;
  id?: string;
}

interface JobView {
  id: string;
  status: string;
  queue?: string;
  provider?: string;
  attempts: number;
  error?: { code: string; message: string };
}

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const say = (msg: string) => console.log(`[chaos ${elapsed()}] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'cjo-chaos-'));
  const env = {
    HTTP_PORT: String(await freePort()),
    AZURITE_BLOB_PORT: String(await freePort()),
    AZURITE_QUEUE_PORT: String(await freePort()),
    AZURITE_TABLE_PORT: String(await freePort()),
    AZURITE_LOCATION: join(dir, 'azurite'),
    LOCAL_PROVIDER_DIR: join(dir, 'runs'),
    ML_JOBS_PROVIDER: 'local',
    BATCH_JOBS_PROVIDER: 'local',
    CLASSIFIER_PRESET: 'readme',
    SIMULATION_TIME_SCALE: '0.1',
    POLL_LOCAL_SCHEDULE: '* * * * * *',
    RECONCILE_SCHEDULE: '*/5 * * * * *',
    // Runs of a killed stack are noticed within seconds: worker leases and message locks expire
    // quickly. Not shorter: a job legitimately waiting in a backlog must not be failed as stuck.
    JOB_STUCK_AFTER_SEC: '90',
    WORKER_LOCK_SEC: '10',
    WORKER_CONCURRENCY: '8',
    WORKER_HEARTBEAT_SEC: '1',
    WORKER_SHUTDOWN_GRACE_SEC: '10',
    JOB_MAX_ATTEMPTS: '3',
  };
  const api = `http://127.0.0.1:${env.HTTP_PORT}/api`;
  const azuritePorts = [env.AZURITE_BLOB_PORT, env.AZURITE_QUEUE_PORT, env.AZURITE_TABLE_PORT].map(Number);
  const problems: string[] = [];
  const groups: number[] = [];
  const azurites = new Set<number>();
  let stack: StackProcess | undefined;
  // Interrupted: take the stacks and Azurites down with us.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const g of groups) killQuietly(-g);
      for (const pid of azurites) killQuietly(pid);
      process.exit(130);
    });
  }

  const start = async () => {
    stack = spawnStack(env, { built: true });
    groups.push(stack.pid);
    await stack.ready;
    const owner = findPortOwner(azuritePorts[0]!);
    if (owner) azurites.add(owner.pid);
    say(`stack up (pgid ${stack.pid}, Azurite pid ${owner?.pid ?? '?'})`);
  };

  const killStack = async () => {
    const s = stack!;
    const azurite = findPortOwner(azuritePorts[0]!)?.pid;
    say(`SIGKILL to the stack's process group ${s.pid} (${processesInGroup(s.pid).length} processes)`);
    s.signalGroup('SIGKILL');
    await s.exited;
    // Azurite is in a group of its own: its watchdog must stop it now that its parent is gone.
    const until = Date.now() + 30_000;
    while ((azurite !== undefined && isRunning(azurite)) || !(await allFree(azuritePorts))) {
      if (Date.now() > until) {
        problems.push(`Azurite (pid ${azurite}) still running 30 s after its stack was killed`);
        if (azurite !== undefined) process.kill(azurite, 'SIGKILL');
        await sleep(1000);
        break;
      }
      await sleep(200);
    }
    const left = processesInGroup(s.pid);
    if (left.length > 0) problems.push(`processes left in killed group ${s.pid}: ${left.join(', ')}`);
    say('stack gone, Azurite gone; restarting');
  };

  try {
    await start();

    // Submit at a steady rate, with an Idempotency-Key per job: a submission whose reply was lost
    // in a kill is simply sent again and names the same job.
    const jobs: Submitted[] = Array.from({ length: JOBS }, (_, i) => ({
      key: `chaos-${i}`,
      cls: CLASSES[i % CLASSES.length]!,
    }));
    let kills = 0;
    for (let i = 0; i < jobs.length; i += SUBMIT_BATCH) {
      const batch = jobs.slice(i, i + SUBMIT_BATCH);
      await Promise.all(batch.map(async (job) => (job.id = await submitWithRetry(api, job))));
      const accepted = i + batch.length;
      if (kills < KILL_AT.length && accepted >= KILL_AT[kills]!) {
        kills++;
        // Let the last submissions reach the workers and local runs, so the kill hits work in flight.
        await sleep(1500);
        await killStack();
        await start();
      }
      await sleep(BATCH_PAUSE_MS);
    }
    say(`${jobs.length} jobs submitted, ${kills} kills; waiting for all to finish`);

    const final = await waitAllTerminal(api, jobs);
    say('all jobs terminal; stopping the stack with SIGTERM (graceful)');
    const last = stack!;
    last.signalGroup('SIGTERM');
    const exit = await last.exited;
    if (exit.code !== 0)
      problems.push(`graceful stop exited with ${JSON.stringify(exit)}: ${last.output().slice(-1000)}`);

    // ---- checks --------------------------------------------------------------------------------
    const byStatus = new Map<string, number>();
    for (const j of final.values()) byStatus.set(j.status, (byStatus.get(j.status) ?? 0) + 1);
    const notSucceeded = [...final.values()].filter((j) => j.status !== 'succeeded');
    if (notSucceeded.length > 0) {
      problems.push(
        `${notSucceeded.length} job(s) did not succeed: ${notSucceeded
          .slice(0, 10)
          .map((j) => `${j.id} ${j.status} ${j.error?.code ?? ''} ${j.error?.message ?? ''}`)
          .join('; ')}`,
      );
    }
    for (const job of jobs) {
      const view = final.get(job.id!);
      if (view && view.queue !== QUEUE_OF[job.cls]) problems.push(`${job.id} (${job.cls}) went to ${view.queue}`);
    }
    problems.push(...checkRunFolders(env.LOCAL_PROVIDER_DIR, final));

    // Nothing left behind: no process in any group the stack had, no Azurite, free ports.
    await sleep(500);
    for (const g of groups) {
      const left = processesInGroup(g);
      if (left.length > 0) problems.push(`processes left in group ${g}: ${left.join(', ')}`);
    }
    for (const pid of azurites)
      if (isRunning(pid)) problems.push(`Azurite pid ${pid} still running after the final stop`);
    if (!(await allFree([...azuritePorts, Number(env.HTTP_PORT)])))
      problems.push('a port of the stack is still taken after the final stop');

    const retried = [...final.values()].filter(
      (j) => j.attempts > 1 && (j.provider === 'local' || j.provider === 'worker'),
    );
    console.log(
      [
        '',
        `chaos: ${jobs.length} jobs (${CLASSES.map((c) => `${jobs.filter((j) => j.cls === c).length} ${c}`).join(', ')}), ${kills} SIGKILLs of the whole stack, ${elapsed()}`,
        `  final states: ${[...byStatus].map(([s, n]) => `${n} ${s}`).join(', ')}`,
        `  jobs that needed more than one attempt: ${retried.length} (max attempts seen ${Math.max(...[...final.values()].map((j) => j.attempts))})`,
        `  processes left: none checked in ${groups.length} process groups and ${azurites.size} Azurite instances`,
        problems.length === 0 ? '  RESULT: PASS' : `  RESULT: FAIL\n${problems.map((p) => `   - ${p}`).join('\n')}`,
        '',
      ].join('\n'),
    );
    return problems.length === 0 ? 0 : 1;
  } finally {
    // Whatever happened, leave nothing running.
    for (const g of groups) killQuietly(-g);
    for (const pid of azurites) killQuietly(pid);
    if (!process.env.CHAOS_KEEP) rmSync(dir, { recursive: true, force: true });
  }

  async function waitAllTerminal(apiBase: string, all: Submitted[]): Promise<Map<string, JobView>> {
    const wanted = new Set(all.map((j) => j.id!));
    const deadline = Date.now() + SETTLE_SEC * 1000;
    let lastReport = 0;
    for (;;) {
      // Three paged list calls (status index) per round rather than one read per job.
      const done = new Map<string, JobView>();
      for (const status of ['succeeded', 'failed', 'cancelled']) {
        for (const job of await listJobs(apiBase, status)) if (wanted.has(job.id)) done.set(job.id, job);
      }
      if (done.size === wanted.size) return done;
      if (Date.now() > deadline) {
        const open = [...wanted].filter((id) => !done.has(id));
        throw new Error(
          `gave up ${SETTLE_SEC} s after the last submission: ${open.length} job(s) not finished, e.g. ${open.slice(0, 5).join(', ')}`,
        );
      }
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        say(`${done.size}/${wanted.size} finished`);
      }
      await sleep(2000);
    }
  }
}

async function listJobs(api: string, status: string): Promise<JobView[]> {
  const jobs: JobView[] = [];
  let token: string | undefined;
  do {
    const url = `${api}/jobs?status=${status}&view=full&limit=100${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
    const res = await fetch(url).catch(() => undefined);
    if (!res?.ok) return jobs;
    const page = (await res.json()) as { jobs: JobView[]; continuationToken?: string };
    jobs.push(...page.jobs);
    token = page.continuationToken;
  } while (token);
  return jobs;
}

async function submitWithRetry(api: string, job: Submitted): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${api}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': job.key },
        body: JSON.stringify(BODY[job.cls]),
      });
      if (res.status === 202 || res.status === 200) return ((await res.json()) as { id: string }).id;
      throw new Error(`submit answered ${res.status}: ${await res.text()}`);
    } catch (error) {
      // The stack is down (being killed or restarting): try again shortly.
      if (attempt >= 600) throw error;
      await sleep(250);
    }
  }
}

/**
 * Each local run folder (`<job id>` for attempt 1, `<job id>-a<N>` after) is one run: its stdout
 * holds one "processing" line per start. A run started twice in one folder, a job with two
 * succeeded runs, or a job whose succeeded run is not its recorded attempt, is a failure.
 */
function checkRunFolders(runsDir: string, final: Map<string, JobView>): string[] {
  const problems: string[] = [];
  if (!existsSync(runsDir)) return ['no local run folders at all'];
  const succeededRuns = new Map<string, string[]>();
  for (const folder of readdirSync(runsDir)) {
    const m = /^(j-[0-9a-z]{26})(?:-a(\d+))?$/.exec(folder);
    if (!m) continue;
    const stdout = readText(join(runsDir, folder, 'stdout.txt'));
    const starts = stdout.split('\n').filter((l) => l.includes(': processing ')).length;
    if (starts > 1) problems.push(`run folder ${folder} shows ${starts} starts`);
    const status = readText(join(runsDir, folder, 'status.json'));
    if (status.includes('"succeeded"')) succeededRuns.set(m[1]!, [...(succeededRuns.get(m[1]!) ?? []), folder]);
  }
  for (const job of final.values()) {
    if (job.provider !== 'local') continue;
    const runs = succeededRuns.get(job.id) ?? [];
    const expected = job.attempts > 1 ? `${job.id}-a${job.attempts}` : job.id;
    if (runs.length !== 1) problems.push(`${job.id}: ${runs.length} succeeded runs (${runs.join(', ')})`);
    else if (runs[0] !== expected)
      problems.push(`${job.id}: succeeded run ${runs[0]} is not its recorded attempt ${job.attempts}`);
  }
  return problems;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

async function allFree(ports: number[]): Promise<boolean> {
  for (const p of ports) if (!(await isPortFree('127.0.0.1', p))) return false;
  return true;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`chaos: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
