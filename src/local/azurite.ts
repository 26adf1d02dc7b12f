import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describePortOwner, isPortFree } from './port-owner.js';
import { sleep } from '../lib/retry.js';

export interface AzuriteOptions {
  readonly blobPort: number;
  readonly queuePort: number;
  readonly tablePort: number;
  /** Folder for data; omitted → in-memory (Azurite cannot combine the two). */
  readonly location?: string;
  readonly host?: string;
}

export interface AzuriteHandle {
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Runs in the Azurite process before Azurite itself (`node -e WATCHDOG <azurite.js> <args>`): on
 * end-of-file or error on stdin — the parent closed the pipe or died — Azurite gets SIGTERM (its
 * own clean shutdown) and, should that hang, the process exits after 5 s.
 */
const WATCHDOG = `
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  process.stdin.destroy();
  setTimeout(() => process.exit(0), 5000).unref();
  process.kill(process.pid, 'SIGTERM');
};
process.stdin.on('data', () => undefined);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.on('error', stop);
require(process.argv[1]);
`;

/** A port `npm start` needs for its own Azurite is taken; names the port and who holds it. */
export class PortInUseError extends Error {
  constructor(
    readonly service: string,
    readonly port: number,
    readonly holder: string,
  ) {
    super(
      `Azurite ${service} port ${port} is already in use by ${holder}; stop it, set AZURITE_${service.toUpperCase()}_PORT to a free port, or set JobsStorage to use that storage on purpose.`,
    );
    this.name = 'PortInUseError';
  }
}

/** Starts Azurite (from npm, no Docker) and resolves once all three services accept connections. */
export async function startAzurite(options: AzuriteOptions): Promise<AzuriteHandle> {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('azurite/package.json'));
  const entry = join(pkgDir, 'dist', 'src', 'azurite.js');
  const host = options.host ?? '127.0.0.1';
  const args = [
    entry,
    '--blobHost',
    host,
    '--blobPort',
    String(options.blobPort),
    '--queueHost',
    host,
    '--queuePort',
    String(options.queuePort),
    '--tableHost',
    host,
    '--tablePort',
    String(options.tablePort),
    // The SDKs here speak newer service versions than Azurite 3.37 announces.
    '--skipApiVersionCheck',
    '--loose',
    '--silent',
  ];
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push('--location', options.location);
  } else {
    args.push('--inMemoryPersistence');
  }
  // Never talk to an Azurite (or anything) we did not start: a port already taken stops us here,
  // before our own Azurite could fail with EADDRINUSE while the other one answers our probes.
  for (const [service, port] of [
    ['blob', options.blobPort],
    ['queue', options.queuePort],
    ['table', options.tablePort],
  ] as const) {
    if (port !== 0 && !(await isPortFree(host, port))) throw new PortInUseError(service, port, describePortOwner(port));
  }
  // Its own process group: a Ctrl-C in the terminal reaches us, not Azurite, so we can stop the
  // workers and triggers while storage is still up and stop Azurite last. Its stdin is a pipe from
  // us that nothing writes to: when we die, even by SIGKILL, the kernel closes our end, the
  // watchdog sees end-of-file and shuts Azurite down (SIGTERM to itself: it closes its servers
  // and flushes its data), so no orphan keeps the ports.
  const child = spawn(process.execPath, ['-e', WATCHDOG, ...args], {
    stdio: ['pipe', 'ignore', 'pipe'],
    detached: true,
  });
  child.stdin?.on('error', () => undefined);
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`Azurite exited with code ${code}: ${stderr.slice(-2000)}`))),
  );
  await Promise.race([
    Promise.all([options.blobPort, options.queuePort, options.tablePort].map((p) => waitForPort(host, p, 30_000))),
    exited,
  ]);
  exited.catch(() => undefined);
  return {
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.removeAllListeners('exit');
        process.off('exit', killOnExit);
        child.once('exit', () => resolve());
        // Closing the pipe is the watchdog's cue; it also lets Azurite's event loop drain.
        child.stdin?.end();
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${host}:${port}`);
    await sleep(100);
  }
}
