#!/usr/bin/env node
/**
 * `cjo` — the orchestrator from the command line. Base URL and key come from --url/--key or
 * CJO_URL/CJO_KEY. Exit codes: 0 done (watch: succeeded), 1 watch: failed, 2 watch: cancelled,
 * 3 the API refused or could not be reached (its problem title and detail are printed).
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { ApiError, CjoClient } from './client.js';
import { bar, formatDecision, relative, table } from './format.js';

interface Job {
  id: string;
  status: string;
  createdAt: string;
  updatedAt: string;
  queue?: string;
  provider?: string;
  decision?: { queue: string; provider: string; explanation: string; cost: number | null; rule: string };
  progress?: { done: number; total: number; unit: string };
  error?: { code: string; message: string };
  result?: { summary?: Record<string, unknown> };
  spec?: { labels?: Record<string, string> };
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const EXIT_OF: Record<string, number> = { succeeded: 0, failed: 1, cancelled: 2 };

const program = new Command('cjo')
  .version('0.1.0')
  .description('Cloud Job Orchestrator: submit, watch and manage jobs')
  .option('--url <url>', 'base URL of the app (env CJO_URL)', process.env.CJO_URL ?? 'http://localhost:7071')
  .option('--key <key>', 'function key, sent as x-functions-key (env CJO_KEY)', process.env.CJO_KEY)
  .showHelpAfterError();

function client(): CjoClient {
  const o = program.opts<{ url: string; key?: string }>();
  return new CjoClient({ url: o.url, ...(o.key && { key: o.key }) });
}

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number ≥ 0`);
  return n;
};
const collect = (v: string, acc: string[]) => [...acc, v];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const print = (s: string) => process.stdout.write(`${s}\n`);

program
  .command('submit')
  .description('submit a job (flags, or --file job.json); prints the id and the routing decision')
  .option('-f, --file <path>', 'job body as JSON ("-" for stdin); flags override its fields')
  .option('--rows <n>', 'rows (job size)', int('rows'))
  .option('--runtime <sec>', 'estimated runtime in seconds', int('runtime'))
  .option('--priority <p>', 'low | normal | high')
  .option('--latency-sensitive', 'timing-critical: goes to the actor worker')
  .option('--target <queue-or-provider>', 'force a queue or a provider')
  .option('--max-runtime <sec>', 'timeout in seconds', int('max-runtime'))
  .option('--label <key=value>', 'a label (repeatable)', collect, [])
  .option('--data <json>', 'the data object, as JSON')
  .option('--idempotency-key <key>', 'same key and body → the same job')
  .option('--no-wait', 'do not wait for the routing decision (classification runs right after submission)')
  .option('--json', 'print the job as JSON')
  .action(async (o) => {
    const body: Record<string, unknown> = o.file ? JSON.parse(readFileSync(o.file === '-' ? 0 : o.file, 'utf8')) : {};
    if (o.rows !== undefined) body.rows = o.rows;
    if (o.runtime !== undefined) body.estimated_runtime_sec = o.runtime;
    if (o.priority) body.priority = o.priority;
    if (o.latencySensitive) body.latency_sensitive = true;
    if (o.target) body.target = o.target;
    if (o.maxRuntime !== undefined) body.max_runtime_sec = o.maxRuntime;
    if (o.data) body.data = JSON.parse(o.data);
    if (o.label.length > 0) {
      const labels = { ...(body.labels as Record<string, string> | undefined) };
      for (const pair of o.label as string[]) {
        const at = pair.indexOf('=');
        if (at < 1) throw new InvalidArgumentError(`--label ${pair}: expected key=value`);
        labels[pair.slice(0, at)] = pair.slice(at + 1);
      }
      body.labels = labels;
    }
    const api = client();
    let job = await api.request<Job>(
      'POST',
      '/jobs',
      body,
      o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {},
    );
    // The decision is made by the classifier a moment later; wait up to 15 s for it.
    for (let waited = 0; o.wait && !job.decision && waited < 15_000; waited += 250) {
      await sleep(250);
      job = await api.request<Job>('GET', `/jobs/${encodeURIComponent(job.id)}`);
    }
    if (o.json) {
      print(JSON.stringify(job, null, 2));
      return;
    }
    print(job.id);
    print(`  status    ${job.status}`);
    if (job.decision) print(formatDecision(job.decision));
  });

program
  .command('get <id>')
  .description('show a job: status, decision, progress, result or error')
  .option('--json', 'print the job as JSON')
  .action(async (id: string, o) => {
    const job = await client().request<Job>('GET', `/jobs/${encodeURIComponent(id)}`);
    if (o.json) {
      print(JSON.stringify(job, null, 2));
      return;
    }
    print(`${job.id}  ${job.status}`);
    print(`  created   ${job.createdAt} (${relative(job.createdAt)})`);
    print(`  updated   ${job.updatedAt} (${relative(job.updatedAt)})`);
    if (job.progress)
      print(
        `  progress  ${bar(job.progress.done, job.progress.total)} ${job.progress.done}/${job.progress.total} ${job.progress.unit}`,
      );
    if (job.decision) print(formatDecision(job.decision));
    if (job.error) print(`  error     ${job.error.code}: ${job.error.message}`);
    if (job.result?.summary) print(`  result    ${JSON.stringify(job.result.summary)}`);
  });

program
  .command('list')
  .description('list jobs, newest first')
  .option('--status <status>', 'only jobs in this state')
  .option('--queue <queue>', 'only jobs on this queue')
  .option('--provider <provider>', 'only jobs on this provider')
  .option('--limit <n>', 'at most this many (≤ 1000)', int('limit'), 20)
  .option('--json', 'print the page as JSON')
  .action(async (o) => {
    const q = new URLSearchParams({ limit: String(o.limit) });
    for (const k of ['status', 'queue', 'provider'] as const) if (o[k]) q.set(k, o[k]);
    const page = await client().request<{ jobs: Job[]; continuationToken?: string }>('GET', `/jobs?${q}`);
    if (o.json) {
      print(JSON.stringify(page, null, 2));
      return;
    }
    if (page.jobs.length === 0) {
      print('no jobs');
      return;
    }
    print(
      table(
        ['ID', 'STATUS', 'QUEUE', 'PROVIDER', 'CREATED'],
        page.jobs.map((j) => [
          j.id,
          j.status,
          j.queue ?? j.decision?.queue ?? '-',
          j.provider ?? j.decision?.provider ?? '-',
          relative(j.createdAt),
        ]),
      ),
    );
    if (page.continuationToken) print('(more: raise --limit or use the API with continuationToken)');
  });

program
  .command('watch <id>')
  .description('follow a job until it ends; exit 0 succeeded, 1 failed, 2 cancelled')
  .option('--interval <ms>', 'poll interval', int('interval'), 1000)
  .action(async (id: string, o) => {
    const api = client();
    const tty = process.stdout.isTTY;
    let last = '';
    for (;;) {
      const job = await api.request<Job>('GET', `/jobs/${encodeURIComponent(id)}`);
      const p = job.progress;
      const line = `${job.id}  ${job.status.padEnd(10)} ${p ? `${bar(p.done, p.total)} ${Math.round((100 * p.done) / Math.max(1, p.total))}%` : bar(TERMINAL.has(job.status) && job.status === 'succeeded' ? 1 : 0, 1)}`;
      if (tty) process.stdout.write(`\r\x1b[2K${line}`);
      else if (line !== last) print(line);
      last = line;
      if (TERMINAL.has(job.status)) {
        if (tty) process.stdout.write('\n');
        if (job.error) print(`  ${job.error.code}: ${job.error.message}`);
        process.exitCode = EXIT_OF[job.status] ?? 3;
        return;
      }
      await sleep(o.interval);
    }
  });

program
  .command('logs <id>')
  .description("print a job's stdout and stderr tail")
  .option('--follow', 'keep printing new output until the job ends')
  .option('--tail <bytes>', 'bytes from the end', int('tail'), 65536)
  .option('--interval <ms>', 'poll interval with --follow', int('interval'), 1000)
  .action(async (id: string, o) => {
    const api = client();
    const path = `/jobs/${encodeURIComponent(id)}`;
    const read = () => api.request<{ stdout: string; stderr: string }>('GET', `${path}/logs?tail=${o.tail}`);
    let shown = { stdout: '', stderr: '' };
    const emit = (logs: { stdout: string; stderr: string }) => {
      // The tail window slides: print only what follows what was printed already.
      for (const stream of ['stdout', 'stderr'] as const) {
        const now = logs[stream];
        const before = shown[stream];
        const fresh = now.startsWith(before) ? now.slice(before.length) : now;
        if (fresh) (stream === 'stdout' ? process.stdout : process.stderr).write(fresh);
      }
      shown = logs;
    };
    emit(await read());
    if (!o.follow) return;
    for (;;) {
      const job = await api.request<Job>('GET', path);
      emit(await read());
      if (TERMINAL.has(job.status)) return;
      await sleep(o.interval);
    }
  });

program
  .command('cancel <id>')
  .description('cancel a job (cancelled at once before dispatch, else cancelling until confirmed)')
  .action(async (id: string) => {
    const job = await client().request<Job>('POST', `/jobs/${encodeURIComponent(id)}/cancel`);
    print(`${job.id}  ${job.status}`);
  });

program
  .command('queues')
  .description('waiting and dead-lettered messages per queue')
  .option('--json', 'print as JSON')
  .action(async (o) => {
    const depths = await client().request<Record<string, { active: number; deadLetter: number; scheduled: number }>>(
      'GET',
      '/queues/status?detail=true',
    );
    if (o.json) {
      print(JSON.stringify(depths, null, 2));
      return;
    }
    print(
      table(
        ['QUEUE', 'WAITING', 'DEAD LETTERS', 'SCHEDULED'],
        Object.entries(depths).map(([q, d]) => [q, String(d.active), String(d.deadLetter), String(d.scheduled)]),
      ),
    );
  });

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ApiError) {
    process.stderr.write(
      `cjo: ${error.problem.title ?? 'Request failed'}${error.problem.detail ? `: ${error.problem.detail}` : ''}\n`,
    );
    for (const e of error.problem.errors ?? []) process.stderr.write(`  ${e.field || '(body)'}: ${e.message}\n`);
  } else {
    // Bad flags, unreadable --file, invalid JSON: one line, no stack.
    process.stderr.write(`cjo: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exitCode = 3;
});
