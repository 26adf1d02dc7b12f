import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRunner, waitFor, type TestRunner } from '../support/runner.js';

const KEY = 'cli-test-key';
/** Each run starts Node through tsx; generous per-test limits keep a loaded machine from failing them. */
const SLOW = 240_000;
const ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const CLI = join(ROOT, 'src/cli/cjo.ts');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('cjo command line against the running stack', () => {
  let r: TestRunner;
  const dir = mkdtempSync(join(tmpdir(), 'cjo-cli-'));
  /** Runs the real command line (its TypeScript entry through tsx), key and URL from the environment. */
  const cjo = (args: string[], env: Record<string, string> = {}) =>
    new Promise<Run>((done) => {
      execFile(
        TSX,
        [CLI, ...args],
        { env: { ...process.env, CJO_URL: r.url, CJO_KEY: KEY, ...env }, timeout: 60_000 },
        (error, stdout, stderr) => {
          done({ code: error ? ((error as { code?: number }).code ?? 99) : 0, stdout, stderr });
        },
      );
    });
  const job = async (id: string) =>
    (await (await r.api(`/api/jobs/${id}`, { headers: { 'x-functions-key': KEY } })).json()) as {
      status: string;
      spec: { labels: Record<string, string> };
    };

  beforeAll(async () => {
    r = await startTestRunner({ LOCAL_API_KEY: KEY });
  });
  afterAll(async () => r?.stop());

  it(
    'submits from flags and prints the id and the routing decision',
    async () => {
      const run = await cjo([
        'submit',
        '--latency-sensitive',
        '--rows',
        '100',
        '--runtime',
        '1',
        '--label',
        'team=ops',
      ]);
      expect(run.code, run.stderr).toBe(0);
      const id = run.stdout.split('\n')[0]!;
      expect(id).toMatch(/^j-[0-9a-z]{26}$/i);
      expect(run.stdout).toMatch(/routed\s+actor-jobs/);
      expect(run.stdout).toMatch(/why\s+\S+/);
      expect((await job(id)).spec.labels).toEqual({ team: 'ops' });
    },
    SLOW,
  );

  it(
    'submits from a file, watches it to succeeded (exit 0) and shows it in get, list and logs',
    async () => {
      const file = join(dir, 'job.json');
      writeFileSync(
        file,
        JSON.stringify({ rows: 5000000, estimated_runtime_sec: 100, priority: 'normal', labels: { from: 'file' } }),
      );
      const submitted = await cjo(['submit', '--file', file]);
      expect(submitted.code, submitted.stderr).toBe(0);
      const id = submitted.stdout.split('\n')[0]!;
      expect(submitted.stdout).toMatch(/routed\s+spark-jobs/);

      const watched = await cjo(['watch', id, '--interval', '200']);
      expect(watched.stdout).toContain('succeeded');
      expect(watched.stdout).toMatch(/\[#+\]/);
      expect(watched.code).toBe(0);

      const got = await cjo(['get', id, '--json']);
      expect(JSON.parse(got.stdout)).toMatchObject({ id, status: 'succeeded' });
      const listed = await cjo(['list', '--status', 'succeeded']);
      expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+QUEUE\s+PROVIDER\s+CREATED$/);
      expect(listed.stdout).toMatch(new RegExp(`${id}\\s+succeeded\\s+spark-jobs`));
      const asJson = JSON.parse((await cjo(['list', '--json', '--limit', '5'])).stdout) as { jobs: { id: string }[] };
      expect(asJson.jobs.map((j) => j.id)).toContain(id);

      const api = (await (await r.api(`/api/jobs/${id}/logs`, { headers: { 'x-functions-key': KEY } })).json()) as {
        stdout: string;
      };
      const logs = await cjo(['logs', id]);
      expect(logs.code).toBe(0);
      expect(logs.stdout).toBe(api.stdout);
    },
    SLOW,
  );

  it(
    'exits 1 when the watched job fails and 2 when it is cancelled',
    async () => {
      const failing = (
        await cjo(['submit', '--runtime', '20', '--data', '{"simulate_failure":"disk on fire"}'])
      ).stdout.split('\n')[0]!;
      const failed = await cjo(['watch', failing, '--interval', '200']);
      expect(failed.stdout).toContain('failed');
      expect(failed.code).toBe(1);

      const long = (await cjo(['submit', '--runtime', '20000'])).stdout.split('\n')[0]!;
      await waitFor(
        () => job(long),
        (j) => j.status === 'running',
        30_000,
        'the long job to run',
      );
      const cancel = await cjo(['cancel', long]);
      expect(cancel.code).toBe(0);
      expect(cancel.stdout).toMatch(new RegExp(`${long}\\s+(cancelling|cancelled)`));
      const watched = await cjo(['watch', long, '--interval', '200']);
      expect(watched.stdout).toContain('cancelled');
      expect(watched.code).toBe(2);
    },
    SLOW,
  );

  it(
    'lists the queues with waiting and dead-lettered counts',
    async () => {
      const run = await cjo(['queues']);
      expect(run.code).toBe(0);
      expect(run.stdout.split('\n')[0]).toMatch(/^QUEUE\s+WAITING\s+DEAD LETTERS\s+SCHEDULED$/);
      expect(run.stdout).toMatch(/actor-jobs-\w+\s+\d+\s+\d+\s+\d+/);
    },
    SLOW,
  );

  it(
    "prints the problem's title and detail, not a stack, and exits 3",
    async () => {
      const file = join(dir, 'bad.json');
      writeFileSync(file, JSON.stringify({ rows: -1, colour: 'red' }));
      const bad = await cjo(['submit', '--file', file]);
      expect(bad.code).toBe(3);
      expect(bad.stderr).toMatch(/^cjo: Invalid request: /);
      expect(bad.stderr).toMatch(/^\s+rows: /m);
      expect(bad.stderr).toMatch(/^\s+colour: unknown field/m);
      expect(bad.stderr).not.toMatch(/\n\s+at |\.ts:\d+/);

      const unknown = await cjo(['get', 'j-00000000000000000000000000']);
      expect(unknown.code).toBe(3);
      expect(unknown.stderr).toMatch(/^cjo: Not found: /);
      const noKey = await cjo(['list'], { CJO_KEY: '' });
      expect(noKey.code).toBe(3);
      expect(noKey.stderr).toMatch(/^cjo: .*function key/i);
    },
    SLOW,
  );
});
