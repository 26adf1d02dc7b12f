/**
 * `npm run bench`: the performance targets of the issues, measured, printed as tables and written to
 * bench/results/<timestamp>.json (and latest.json). Nothing here is asserted by the test suite.
 *
 *   1. submit path vs raw SDK baseline on Azurite, at concurrency 1, 8 and 32 (target ≥ 60 %)
 *   2. cold start: import of the Functions entry vs bare @azure/functions (target ≤ 2×)
 *   3. transport: messages/s through Storage Queues (Azurite) and Service Bus (wire stand-in)
 *   4. provider API calls per poll cycle (Batch, Azure ML, SageMaker, Vertex)
 *   5. the running system (bench/system.ts): storage requests per job, idle requests/s, POST /api/jobs
 *      through the `npm start` stack vs the raw floor (autocannon, concurrency 32), end to end
 *   6. cancel → confirmed-stopped time per provider fake (target p95 ≤ 60 s with the default poll
 *      schedules, simulated on a fake clock) and orphans left after a chaos-like run (target 0),
 *      bench/orphans.ts
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import functions from '@azure/functions';
import { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { azuriteConnectionString, loadConfig } from '../src/lib/config.js';
import { createDeps, ensureResources, setSharedDeps } from '../src/lib/deps.js';
import { startAzurite } from '../src/local/azurite.js';
import { jobsCreate } from '../src/functions/jobs-create.js';
import { StorageQueueTransport } from '../src/lib/adapters/storage-queue-transport.js';
import { freePort } from '../test/support/ports.js';

const { HttpRequest, InvocationContext } = functions;
const results: Record<string, unknown> = { startedAt: new Date().toISOString(), node: process.version };
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');

function table(title: string, rows: Array<Record<string, unknown>>): void {
  console.log(`\n${title}`);
  console.table(rows);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function runAtConcurrency(
  total: number,
  concurrency: number,
  op: (i: number) => Promise<void>,
): Promise<{ perSec: number; p50: number; p95: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        await op(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSec: Math.round(total / seconds),
    p50: +percentile(latencies, 50).toFixed(2),
    p95: +percentile(latencies, 95).toFixed(2),
  };
}

async function benchSubmit(conn: string): Promise<void> {
  const id = randomUUID().slice(0, 6);
  const env = {
    JobsStorage: conn,
    JOBS_TABLE: `benchjobs${id}`,
    IDEMPOTENCY_TABLE: `benchidem${id}`,
    QUEUE_INTAKE: `bench-intake-${id}`,
    RESULTS_CONTAINER: `bench-results-${id}`,
    PAYLOADS_CONTAINER: `bench-payloads-${id}`,
  };
  const config = loadConfig(env);
  const deps = await createDeps(config, {
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  await ensureResources(deps);
  setSharedDeps(deps);

  // The raw baseline: what a submit writes, done directly with the SDKs — two index upserts, one
  // entity-group transaction (job row + first event), one queue send.
  const jobs = TableClient.fromConnectionString(conn, `rawjobs${id}`, { allowInsecureConnection: true });
  const index = TableClient.fromConnectionString(conn, `rawidx${id}`, { allowInsecureConnection: true });
  const queue = new QueueClient(conn, `raw-intake-${id}`);
  await Promise.all([jobs.createTable(), index.createTable(), queue.createIfNotExists()]);
  const doc = JSON.stringify({ rows: 5_000_000, estimated_runtime_sec: 100, priority: 'normal' });
  const raw = async (i: number) => {
    const pk = `raw-${id}-${i}-${randomUUID()}`;
    await Promise.all([
      index.upsertEntity({ partitionKey: 'all', rowKey: pk, jobId: pk }, 'Replace'),
      index.upsertEntity({ partitionKey: 's~submitted', rowKey: pk, jobId: pk }, 'Replace'),
    ]);
    await jobs.submitTransaction([
      ['create', { partitionKey: pk, rowKey: 'job', d0: doc, status: 'submitted' }],
      ['create', { partitionKey: pk, rowKey: 'evt~0000000000', doc: '{}' }],
    ]);
    await queue.sendMessage(Buffer.from(JSON.stringify({ jobId: pk })).toString('base64'));
  };
  const body = JSON.stringify({ rows: 5_000_000, estimated_runtime_sec: 100, priority: 'normal' });
  const submit = async () => {
    const request = new HttpRequest({
      method: 'POST',
      url: 'http://localhost/api/jobs',
      headers: { 'content-type': 'application/json' },
      body: { string: body },
    });
    const res = await jobsCreate.handler(request, new InvocationContext({ functionName: 'bench' }));
    if (res.status !== 202) throw new Error(`submit answered ${res.status}`);
  };

  const rows: Array<Record<string, unknown>> = [];
  const total = quick ? 100 : 400;
  await runAtConcurrency(20, 4, raw);
  await runAtConcurrency(20, 4, submit);
  for (const concurrency of [1, 8, 32]) {
    const n = concurrency === 1 ? Math.round(total / 4) : total;
    // Alternate so drift in Azurite's state affects both sides alike.
    const baseline = await runAtConcurrency(n, concurrency, raw);
    const handler = await runAtConcurrency(n, concurrency, submit);
    const ratio = +(handler.perSec / baseline.perSec).toFixed(2);
    rows.push({
      concurrency,
      requests: n,
      'submit jobs/s': handler.perSec,
      'submit p50 ms': handler.p50,
      'submit p95 ms': handler.p95,
      'raw jobs/s': baseline.perSec,
      'raw p50 ms': baseline.p50,
      ratio,
      'target ≥ 0.6': ratio >= 0.6 ? 'met' : 'MISSED',
    });
  }
  table('Submit path vs raw SDK baseline (Azurite)', rows);
  results.submit = rows;
  setSharedDeps(undefined);
}

function benchColdStart(): void {
  const runs = quick ? 5 : 9;
  const measure = (specifier: string): number[] => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const out = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const t=performance.now(); await import(${JSON.stringify(specifier)}); console.log(performance.now()-t);`,
        ],
        { env: { ...process.env, AZURE_FUNCTIONS_ENVIRONMENT: 'bench' }, stdio: ['ignore', 'pipe', 'ignore'] },
      );
      times.push(Number(out.toString().trim()));
    }
    return times.sort((a, b) => a - b);
  };
  const entry = new URL('../dist/src/functions/index.js', import.meta.url).href;
  const bare = measure('@azure/functions');
  const ours = measure(entry);
  const median = (xs: number[]) => +xs[Math.floor(xs.length / 2)]!.toFixed(1);
  const ratio = +(median(ours) / median(bare)).toFixed(2);
  const rows = [
    {
      module: '@azure/functions (bare)',
      'median ms': median(bare),
      'min ms': +bare[0]!.toFixed(1),
      'max ms': +bare.at(-1)!.toFixed(1),
    },
    {
      module: 'dist/src/functions/index.js',
      'median ms': median(ours),
      'min ms': +ours[0]!.toFixed(1),
      'max ms': +ours.at(-1)!.toFixed(1),
    },
  ];
  table(
    `Cold start: import time in a fresh process, ${runs} runs — ratio ${ratio} (target ≤ 2: ${ratio <= 2 ? 'met' : 'MISSED'})`,
    rows,
  );
  results.coldStart = { runs, rows, ratio, met: ratio <= 2 };
}

async function benchStorageTransport(
  conn: string,
  messages: number,
): Promise<{ sendPerSec: number; receivePerSec: number }> {
  const transport = await StorageQueueTransport.create(loadConfig({ JobsStorage: conn }));
  const queue = `bench-transport-${randomUUID().slice(0, 6)}`;
  await transport.ensure([queue]);
  const bodies = Array.from({ length: messages }, (_, i) => ({ jobId: `j-${i}` }));
  let t = performance.now();
  for (let i = 0; i < bodies.length; i += 100) await transport.send(queue, bodies.slice(i, i + 100));
  const sendPerSec = Math.round(messages / ((performance.now() - t) / 1000));
  t = performance.now();
  let received = 0;
  while (received < messages) {
    const got = await Promise.all(
      Array.from({ length: 4 }, () => transport.receive(queue, { maxMessages: 32, lockSec: 30 })),
    );
    const flat = got.flat();
    await Promise.all(flat.map((m) => m.complete()));
    received += flat.length;
  }
  const receivePerSec = Math.round(messages / ((performance.now() - t) / 1000));
  return { sendPerSec, receivePerSec };
}

async function benchTransports(conn: string): Promise<void> {
  const n = quick ? 500 : 2000;
  const storage = await benchStorageTransport(conn, n);
  const { benchTransport } = await import('./transport-servicebus.js');
  const serviceBus = await benchTransport(n);
  const rows = [
    {
      transport: 'Storage Queues (Azurite)',
      messages: n,
      'sent/s': storage.sendPerSec,
      'received+completed/s': storage.receivePerSec,
    },
    {
      transport: 'Service Bus (wire stand-in)',
      messages: n,
      'sent/s': serviceBus.sendPerSec,
      'received+completed/s': serviceBus.receivePerSec,
    },
  ];
  table('Transport throughput through the queue port', rows);
  results.transport = rows;
}

async function benchProviders(): Promise<void> {
  const providers = ['azure-batch', 'azure-ml', 'sagemaker', 'vertex'] as const;
  const all: Record<string, unknown> = {};
  for (const name of providers) {
    const mod = (await import(`./providers/${name}.js`)) as {
      benchPollCalls(): Promise<Array<Record<string, unknown>>>;
    };
    const rows = await mod.benchPollCalls();
    table(
      `${name}: API calls per poll cycle`,
      rows.map((r) => ({ ...r, ok: r.ok ? 'met' : 'MISSED' })),
    );
    all[name] = rows;
  }
  const { benchThrottledFinish } = await import('./providers/azure-ml.js');
  const throttled = await benchThrottledFinish();
  table(
    'azure-ml: throttled finish (jobs completing at once under a read quota)',
    throttled.map((r) => ({ ...r, ok: r.ok ? 'met' : 'MISSED' })),
  );
  all['azure-ml-throttled-finish'] = throttled;
  results.providers = all;
}

async function main(): Promise<void> {
  const only = [...args].find((a) => a.startsWith('--only='))?.slice(7);
  const want = (name: string) => !only || only.split(',').includes(name);
  const ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
  const azurite = await startAzurite({ blobPort: ports.blob, queuePort: ports.queue, tablePort: ports.table });
  try {
    const conn = azuriteConnectionString(ports);
    if (want('coldstart')) benchColdStart();
    if (want('submit')) await benchSubmit(conn);
    if (want('transport')) await benchTransports(conn);
    if (want('providers')) await benchProviders();
    if (want('orphans')) {
      const { benchCancelAndOrphans } = await import('./orphans.js');
      const { cancel, orphans } = await benchCancelAndOrphans(conn, quick);
      table(
        'Cancel → confirmed cancelled, per provider fake (simulated poll ticks on a fake clock at the default POLL_*_SCHEDULE; the service confirms a stop at once; wall time of the calls added)',
        cancel.map((r) => ({ ...r, ok: r.ok ? 'met' : 'MISSED' })),
      );
      table(
        'Orphans after a chaos-like run (dispatch killed after create; record deleted, job cancelled while queued, lost attempt replaced), reaper passes past the grace age',
        orphans.map((r) => ({ ...r, ok: r.ok ? 'met' : 'MISSED' })),
      );
      results.cancelAndOrphans = { cancel, orphans };
    }
    if (want('system')) {
      const { benchSystem } = await import('./system.js');
      results.system = await benchSystem(ports, quick);
    }
  } finally {
    await azurite.stop();
  }
  results.finishedAt = new Date().toISOString();
  const dir = new URL('./results/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const stamp = String(results.startedAt).replace(/[:.]/g, '-');
  writeFileSync(join(dir, `${stamp}.json`), JSON.stringify(results, null, 2));
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(results, null, 2));
  console.log(`\nWrote bench/results/${stamp}.json and bench/results/latest.json`);
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
