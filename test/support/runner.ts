import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { FUNCTIONS } from '../../src/functions/all.js';
import { startLocalRunner, type LocalRunner, type LocalRunnerOptions } from '../../src/local/runner.js';
import { canSwitchUser } from '../../src/worker/command-sandbox.js';

export interface TestRunner extends LocalRunner {
  api(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
}

/**
 * The local runner on the shared test Azurite, with its own tables, queues and containers (so test
 * files can run side by side), an OS-chosen port, fast timers and a small simulation time scale.
 */
export async function startTestRunner(
  env: Record<string, string> = {},
  options: Partial<LocalRunnerOptions> = {},
): Promise<TestRunner> {
  const id = Math.random().toString(36).slice(2, 8);
  const runner = await startLocalRunner({
    env: {
      JobsStorage: inject('storageConnectionString'),
      HTTP_PORT: '0',
      JOBS_TABLE: `jobs${id}`,
      IDEMPOTENCY_TABLE: `idem${id}`,
      RESULTS_CONTAINER: `results-${id}`,
      PAYLOADS_CONTAINER: `payloads-${id}`,
      QUEUE_INTAKE: `jobqueue-${id}`,
      QUEUE_ACTOR: `actor-jobs-${id}`,
      QUEUE_SPARK: `spark-jobs-${id}`,
      QUEUE_ML: `ml-jobs-${id}`,
      QUEUE_BATCH: `batch-jobs-${id}`,
      QUEUE_WEBHOOKS: `webhooks-${id}`,
      WEBHOOK_SUBSCRIPTIONS_TABLE: `whsubs${id}`,
      WEBHOOK_DELIVERIES_TABLE: `whdel${id}`,
      // Admission slots are shared by every suite on the one Azurite: each runner gets its own, so
      // one suite's running jobs never hold another's capacity. (The cost ledger lives in JOBS_TABLE.)
      CAPACITY_TABLE: `capacity${id}`,
      LOCAL_PROVIDER_DIR: mkdtempSync(join(tmpdir(), 'cjo-local-')),
      SIMULATION_TIME_SCALE: '0.01',
      POLL_LOCAL_SCHEDULE: '* * * * * *',
      // Commands get a uid of their own where the tests can switch users (root, as in CI); elsewhere
      // they run unsandboxed so the flows stay testable (test/e2e/command-sandbox.test.ts asks for
      // 'uid' itself and asserts the refusal there).
      COMMAND_SANDBOX: canSwitchUser() ? 'uid' : 'none',
      WORKER_HEARTBEAT_SEC: '0.2',
      WORKER_LOCK_SEC: '10',
      WORKER_SHUTDOWN_GRACE_SEC: '5',
      ...env,
    },
    functions: FUNCTIONS,
    quiet: true,
    queuePollMs: 200,
    ...options,
  });
  const api = (path: string, init?: RequestInit) => fetch(`${runner.url}${path}`, init);
  return {
    ...runner,
    api,
    post: (path, body, headers = {}) =>
      api(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
  };
}

/** Polls until `check` returns a value, or fails with the last value seen. */
export async function waitFor<T>(
  probe: () => Promise<T>,
  check: (v: T) => boolean,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  do {
    last = await probe();
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 150));
  } while (Date.now() < deadline);
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last).slice(0, 2000)}`);
}

export const TERMINAL = ['succeeded', 'failed', 'cancelled'];
