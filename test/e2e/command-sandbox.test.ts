import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canSwitchUser } from '../../src/worker/command-sandbox.js';
import { FakeS3 } from '../fakes/s3/fake-s3.js';
import { EssedumExecutorClient, type RemoteBody } from '../support/essedum-client.js';
import { startTestRunner, type TestRunner } from '../support/runner.js';
import { spawnWorker, type WorkerProcess } from '../support/worker-process.js';

/**
 * A hostile /execute command, run through the real paths (a queue worker process and the local
 * provider's one-shot run), searches every /proc/<pid>/environ and /proc/<pid>/cmdline it can read,
 * its own environment, the orchestrator's token files and the local run folders for secrets planted
 * in the orchestrator's settings and in another task that runs at the same time. It must find none.
 * Where the tests cannot switch users (not root), the documented refusal is asserted instead.
 */

const rand = () => Math.random().toString(36).slice(2, 12);
const KEY = `planted-local-api-key-${rand()}`;
const ACCESS_KEY = 'AKIA-SANDBOX-E2E';
const S3_SECRET = `s3-secret-${rand()}`;

/** Finds where every victim command runs, then dumps everything readable into outputs/dump.txt. */
const HOSTILE = String.raw`
out="$ESSEDUM_OUTPUT_DIR/dump.txt"
seen=0; i=0
while [ $i -lt 300 ]; do
  seen=1
  for v in $VICTIMS; do
    first=$(printf %s "$v" | cut -c1); rest=$(printf %s "$v" | cut -c2-)
    # [x]rest matches the victim's command line but not this grep's own argv.
    cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' '\n' | grep -q "cjo-exec-[$first]$rest" || seen=0
  done
  [ $seen = 1 ] && break
  i=$((i+1)); sleep 0.1
done
readable=0
{
  echo "=== victims seen: $seen"
  for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline /proc/self/environ; do
    if cat "$f" >/dev/null 2>&1; then echo "=== $f"; tr '\0' '\n' < "$f" 2>/dev/null; echo; fi
  done
  echo "=== env"; env
  for f in $TOKEN_FILES; do echo "=== $f"; cat "$f" 2>&1; done
  for d in $SCAN_DIRS /tmp/cjo-exec-*; do
    find "$d" -type f 2>/dev/null | while read -r f; do echo "=== $f"; head -c 65536 "$f" 2>&1; done
  done
} > "$out" 2>&1
echo "environ files read: $(grep -c '^=== /proc/.*/environ' "$out")"
`;

describe('a command can read no one else’s secrets', () => {
  let r: TestRunner;
  let client: EssedumExecutorClient;
  let worker: WorkerProcess;
  const s3 = new FakeS3({ [ACCESS_KEY]: S3_SECRET });
  const secretsDir = mkdtempSync(join(tmpdir(), 'cjo-planted-'));
  const tokenFile = join(secretsDir, 'azure-identity-token');
  const googleFile = join(secretsDir, 'google-credentials.json');
  const planted: Record<string, string> = {
    LOCAL_API_KEY: KEY,
    IDENTITY_HEADER: `planted-identity-header-${rand()}`,
    IDENTITY_ENDPOINT: `http://127.0.0.1:42356/msi/token/planted-${rand()}`,
    MSI_SECRET: `planted-msi-secret-${rand()}`,
    AZURE_CLIENT_SECRET: `planted-azure-client-secret-${rand()}`,
    AWS_SECRET_ACCESS_KEY: `planted-aws-secret-${rand()}`,
    AWS_SESSION_TOKEN: `planted-aws-session-${rand()}`,
    GOOGLE_API_KEY: `planted-google-key-${rand()}`,
  };
  const tokenContent = `planted-federated-token-${rand()}`;
  const googleContent = `{"private_key":"planted-google-private-key-${rand()}"}`;

  const body = (over: Partial<RemoteBody>): RemoteBody => ({
    bucket: 'b',
    project_id: 'p',
    name: 'sandbox',
    version: '1',
    input_artifacts: '',
    command: 'true',
    storage: 'minio',
    credentials: { endpoint: s3.url, access_key: ACCESS_KEY, secret_key: `task-secret-${rand()}` },
    configs: {},
    environment: {},
    ...over,
  });

  beforeAll(async () => {
    await s3.start();
    writeFileSync(tokenFile, tokenContent, { mode: 0o600 });
    writeFileSync(googleFile, googleContent, { mode: 0o600 });
    // The runner hosts the functions and the local provider; the queue worker is a process of its
    // own whose environment holds the planted orchestrator secrets, as a container's would.
    r = await startTestRunner(
      { ESSEDUM_EXECUTE_ENABLED: 'true', LOCAL_API_KEY: KEY, WORKER_CONCURRENCY: '4', COMMAND_SANDBOX: 'uid' },
      { workers: false },
    );
    client = new EssedumExecutorClient({ executorUrl: `${r.url}/api`, key: KEY });
    worker = spawnWorker(
      {
        ...r.deps.config.env,
        ...planted,
        AZURE_FEDERATED_TOKEN_FILE: tokenFile,
        GOOGLE_APPLICATION_CREDENTIALS: googleFile,
        WORKER_CONCURRENCY: '4',
      },
      'actor',
    );
    await worker.ready;
  }, 60_000);
  afterAll(async () => {
    await worker?.dispose();
    await r?.stop();
    await s3.stop();
  });

  const where = [
    { name: 'a queue worker', configs: { latency_sensitive: true } },
    { name: 'the local provider', configs: { target: 'local' } },
  ] as const;

  it('a command cannot read the orchestrator’s settings or another task’s secret through /proc, its environment or files', async () => {
    const victimEnvSecret = `victim-env-token-${rand()}`;
    const victims = await Promise.all(
      where.map(async (w) => {
        const b = body({ command: 'sleep 60', configs: w.configs, environment: { VICTIM_TOKEN: victimEnvSecret } });
        return { ...(await client.submit(b)), secret: b.credentials.secret_key };
      }),
    );
    const hostile = await Promise.all(
      where.map(async (w) => {
        const b = body({
          command: HOSTILE,
          configs: { ...w.configs, max_runtime_sec: 120 },
          environment: {
            VICTIMS: victims.map((v) => v.taskId).join(' '),
            TOKEN_FILES: `${tokenFile} ${googleFile}`,
            SCAN_DIRS: r.deps.config.localProviderDir,
          },
        });
        return { ...(await client.submit(b)), secret: b.credentials.secret_key, where: w.name };
      }),
    );
    const done = await Promise.all(hostile.map((h) => client.waitFinished(h.taskId, 90_000)));
    for (const v of victims) await client.stop(v.taskId);

    if (!canSwitchUser()) {
      // Not root: commands are refused, never run unsandboxed.
      for (const [i, h] of hostile.entries()) {
        expect(done[i]!.state, h.where).toBe('ERROR');
        expect((await r.deps.store.get(h.taskId))?.error?.code, h.where).toBe('SANDBOX_UNAVAILABLE');
      }
      return;
    }
    const forbidden: Record<string, string> = {
      ...planted,
      JobsStorage: String(r.deps.config.env.JobsStorage),
      'federated token file': tokenContent,
      'Google credentials file': googleContent,
      'another task’s storage_secret_key (worker)': victims[0]!.secret,
      'another task’s storage_secret_key (local)': victims[1]!.secret,
      'another task’s environment': victimEnvSecret,
    };
    for (const [i, h] of hostile.entries()) {
      expect(done[i]!.state, `${h.where}: ${await client.log(h.taskId)}`).toBe('COMPLETED');
      const dump =
        i === 0
          ? ((await r.deps.blobs.get(r.deps.config.containers.results, `${h.taskId}/outputs/dump.txt`))?.toString(
              'utf8',
            ) ?? '')
          : readFileSync(join(r.deps.config.localProviderDir, h.taskId, 'outputs', 'dump.txt'), 'utf8');
      // The search worked: the victims were running, their command lines were visible, and the
      // command found its own secret where it looked.
      expect(dump, h.where).toContain('=== victims seen: 1');
      for (const v of victims) expect(dump, h.where).toContain(`cjo-exec-${v.taskId}`);
      expect(dump, h.where).toContain(h.secret);
      for (const [what, value] of Object.entries(forbidden))
        expect(dump.includes(value), `${h.where}: the command read ${what}`).toBe(false);
    }
  }, 120_000);
});
