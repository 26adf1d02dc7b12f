/**
 * `npm run fuzz`: starts the real stack as `npm start` does (local runner, Azurite on free ports,
 * workers), sends ≥ 10 000 generated hostile requests over loopback and fails (exit 1) on any 5xx,
 * any 4xx on /api/jobs* that is not a problem document, any stack trace or host path in a reply, any
 * reply slower than 5 s, an idempotent race that yields two jobs, or a job listed twice afterwards.
 *
 * Settings: FUZZ_REQUESTS (default 10000), FUZZ_CONCURRENCY (8), FUZZ_SEED (random), FUZZ_MAX_SEC (900).
 */
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { freePort } from '../support/ports.js';
import { judge, requestText, send, sendRaw, type Reply } from './client.js';
import { fuzzRequest, rawRequest, type FuzzRequest, type RawRequest } from './requests.js';

const TOTAL = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 8);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MAX_SEC = Number(process.env.FUZZ_MAX_SEC ?? 900);
const SLOW_MS = 5000;
const RAW = Math.min(300, Math.floor(TOTAL / 30));
const RACES = Math.min(100, Math.floor(TOTAL / 100));
const RACERS = 4;

interface Outcome {
  readonly label: string;
  readonly reply: Reply;
  readonly broken: readonly string[];
}

const outcomes: Outcome[] = [];
const extraFailures: string[] = [];

function record(label: string, sent: string, target: string, reply: Reply, method: string): void {
  outcomes.push({ label, reply, broken: judge(target, sent, reply, SLOW_MS, method) });
  if (outcomes.length % 1000 === 0)
    console.log(`fuzz: ${outcomes.length} requests, ${outcomes.filter((o) => o.broken.length > 0).length} failing`);
}

function describe(r: FuzzRequest | RawRequest): string {
  if ('raw' in r) return `raw ${JSON.stringify(r.raw.toString('latin1').slice(0, 80))}`;
  const body = r.body
    ? ` body ${r.body.length} B${r.chunks ? ' chunked' : ''}: ${JSON.stringify(r.body.toString('utf8').slice(0, 60))}`
    : '';
  return `${r.method} ${r.target.slice(0, 100)}${body}`;
}

/** Runs `count` tasks with at most CONCURRENCY in flight, stopping early past the time budget. */
async function pool(count: number, task: (i: number) => Promise<void>, deadline: number): Promise<number> {
  let next = 0;
  const lanes = Array.from({ length: CONCURRENCY }, async () => {
    while (next < count && Date.now() < deadline) await task(next++);
  });
  await Promise.all(lanes);
  return next;
}

async function main(): Promise<void> {
  const started = Date.now();
  const deadline = started + MAX_SEC * 1000;
  const work = mkdtempSync(join(tmpdir(), 'cjo-fuzz-'));
  // The committed example settings, never local.settings.json or the environment: a fuzz run must not
  // reach a real storage account someone configured for development.
  const example = JSON.parse(readFileSync('local.settings.example.json', 'utf8')) as { Values: Record<string, string> };
  const env: Record<string, string> = { ...example.Values };
  delete env.JobsStorage;
  const key = `fuzz-${randomUUID()}`;
  Object.assign(env, {
    HTTP_PORT: String(await freePort()),
    AZURITE_BLOB_PORT: String(await freePort()),
    AZURITE_QUEUE_PORT: String(await freePort()),
    AZURITE_TABLE_PORT: String(await freePort()),
    AZURITE_LOCATION: join(work, 'azurite'),
    LOCAL_PROVIDER_DIR: join(work, 'runs'),
    SIMULATION_TIME_SCALE: '0.01',
    LOCAL_API_KEY: key,
  });
  console.log(`fuzz: seed ${SEED}, ${TOTAL} requests, concurrency ${CONCURRENCY}; starting the stack…`);
  const stack = spawn(process.execPath, ['--import', 'tsx', 'test/fuzz/stack.ts'], {
    env: { ...process.env, FUZZ_STACK_ENV: JSON.stringify(env) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    stack.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    stack.once('exit', (code) => reject(new Error(`the stack exited with ${code} before serving`)));
  });
  stack.stdout!.resume();
  const runner = { url };
  // A fresh connection per request: a reused keep-alive socket the server just closed would show
  // up as a dropped reply that is the client's doing, not the server's.
  const agent = new Agent({ keepAlive: false, maxSockets: CONCURRENCY });
  try {
    const main = TOTAL - RAW - RACES * RACERS;
    const generated = fuzzRequest(key);
    const BATCH = 250;
    let batch: FuzzRequest[] = [];
    const sent = await pool(
      main,
      async (i) => {
        // Generated lazily in batches: a run holds a few large bodies at a time, not ten thousand.
        if (i % BATCH === 0 || batch.length === 0)
          batch = fc.sample(generated, { numRuns: BATCH, seed: SEED + Math.floor(i / BATCH) });
        const req = batch[i % BATCH]!;
        const reply = await send(runner.url, req, agent, 30_000).catch((error: Error) => ({
          status: -1,
          contentType: '',
          body: error.message,
          ms: 0,
        }));
        record(describe(req), requestText(req), req.target, reply, req.method);
      },
      deadline,
    );
    const raws = fc.sample(rawRequest, { numRuns: RAW, seed: SEED });
    const rawSent = await pool(
      RAW,
      async (i) => {
        const req = raws[i]!;
        const reply = await sendRaw(runner.url, req);
        record(describe(req), requestText(req), req.target, reply, req.raw.toString('latin1').split(' ')[0] ?? '');
      },
      deadline,
    );
    // Concurrent repeats of one new Idempotency-Key: one job, and every caller gets it.
    let racesRun = 0;
    for (let round = 0; round < RACES && Date.now() < deadline; round++, racesRun++) {
      const idem = `fuzz-race-${SEED}-${round}`;
      const body = Buffer.from(JSON.stringify({ rows: 10 + round, labels: { fuzz_race: String(round) } }));
      const req: FuzzRequest = {
        method: 'POST',
        target: '/api/jobs',
        headers: { 'content-type': 'application/json', 'idempotency-key': idem, 'x-functions-key': key },
        body,
      };
      const replies = await Promise.all(Array.from({ length: RACERS }, () => send(runner.url, req, agent, 30_000)));
      const ids = new Set<string>();
      for (const reply of replies) {
        record(`idempotent race ${round}`, requestText(req), req.target, reply, 'POST');
        if (reply.status === 202) ids.add((JSON.parse(reply.body) as { id: string }).id);
      }
      if (ids.size !== 1 || replies.some((x) => x.status !== 202))
        extraFailures.push(
          `idempotent race ${round}: statuses ${replies.map((x) => x.status).join(',')}, ${ids.size} distinct jobs`,
        );
    }
    if (sent + rawSent + racesRun * RACERS < TOTAL)
      extraFailures.push(`time budget of ${MAX_SEC} s ran out after ${sent + rawSent + racesRun * RACERS} requests`);

    // Every job once in GET /api/jobs, following continuation tokens to the end.
    const seen = new Map<string, number>();
    const raceJobs = new Map<string, Set<string>>();
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await send(
        runner.url,
        {
          method: 'GET',
          target: `/api/jobs?limit=200${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`,
          headers: { 'x-functions-key': key },
        },
        agent,
        60_000,
      );
      if (res.status !== 200) {
        extraFailures.push(`listing page ${pages + 1}: status ${res.status}`);
        break;
      }
      const page = JSON.parse(res.body) as {
        jobs: Array<{ id: string; labels?: Record<string, string> }>;
        continuationToken?: string;
      };
      for (const job of page.jobs) {
        seen.set(job.id, (seen.get(job.id) ?? 0) + 1);
        const race = job.labels?.fuzz_race;
        if (race !== undefined) raceJobs.set(race, (raceJobs.get(race) ?? new Set()).add(job.id));
      }
      token = page.continuationToken;
      pages++;
    } while (token && pages < 10_000);
    const twice = [...seen].filter(([, n]) => n > 1);
    if (twice.length > 0)
      extraFailures.push(
        `${twice.length} jobs listed more than once in GET /api/jobs (e.g. ${twice[0]![0]} ×${twice[0]![1]})`,
      );
    const doubled = [...raceJobs].filter(([, jobs]) => jobs.size > 1);
    if (doubled.length > 0) extraFailures.push(`${doubled.length} idempotent races created more than one job`);
    report(Date.now() - started, seen.size, pages);
  } finally {
    agent.destroy();
    await new Promise<void>((resolve) => {
      stack.once('exit', () => resolve());
      stack.kill('SIGTERM');
      setTimeout(() => stack.kill('SIGKILL'), 60_000).unref();
    });
    rmSync(work, { recursive: true, force: true });
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function report(elapsedMs: number, jobs: number, pages: number): void {
  const byStatus = new Map<number, number>();
  for (const o of outcomes) byStatus.set(o.reply.status, (byStatus.get(o.reply.status) ?? 0) + 1);
  const ms = outcomes.map((o) => o.reply.ms).sort((a, b) => a - b);
  const failed = outcomes.filter((o) => o.broken.length > 0);
  const rows: Array<[string, string]> = [
    ['seed', String(SEED)],
    ['requests', String(outcomes.length)],
    ...[...byStatus]
      .sort(([a], [b]) => a - b)
      .map(([s, n]): [string, string] => [`  status ${s < 0 ? 'none' : s}`, String(n)]),
    ['latency p50', `${percentile(ms, 50).toFixed(1)} ms`],
    ['latency p99', `${percentile(ms, 99).toFixed(1)} ms`],
    ['latency max', `${(ms.at(-1) ?? 0).toFixed(1)} ms`],
    ['jobs listed', `${jobs} in ${pages} pages`],
    ['failing replies', String(failed.length)],
    ['other failures', String(extraFailures.length)],
    ['elapsed', `${(elapsedMs / 1000).toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}`);
  const kinds = new Map<string, number>();
  for (const o of failed)
    for (const b of o.broken) kinds.set(b.replace(/\d+ ms/, 'N ms'), (kinds.get(b.replace(/\d+ ms/, 'N ms')) ?? 0) + 1);
  if (kinds.size > 0) console.log(`\nbroken rules:\n${[...kinds].map(([k, n]) => `  ${n} × ${k}`).join('\n')}`);
  // A few examples of each broken rule, so a rare kind is not hidden behind a common one.
  const shown = new Map<string, number>();
  for (const o of failed) {
    const kind = o.broken[0]!.replace(/\d+ ms/, 'N ms');
    if ((shown.get(kind) ?? 0) >= 4) continue;
    shown.set(kind, (shown.get(kind) ?? 0) + 1);
    console.log(
      `  ${o.reply.status} ${o.broken.join('; ')} ← ${o.label} → ${JSON.stringify(o.reply.body.slice(0, 160))}`,
    );
  }
  for (const f of extraFailures.slice(0, 10)) console.log(`  ${f}`);
  if (extraFailures.length > 10) console.log(`  … and ${extraFailures.length - 10} more`);
  const ok = failed.length === 0 && extraFailures.length === 0;
  console.log(ok ? '\nfuzz: PASS' : '\nfuzz: FAIL');
  process.exitCode = ok ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error('fuzz: could not run:', error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
