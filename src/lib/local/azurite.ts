import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

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

/** Starts Azurite (from npm, no Docker) and resolves once all three services accept connections. */
export async function startAzurite(options: AzuriteOptions): Promise<AzuriteHandle> {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('azurite/package.json'));
  const entry = join(pkgDir, 'dist', 'src', 'azurite.js');
  const host = options.host ?? '127.0.0.1';
  const args = [
    entry,
    '--blobHost', host, '--blobPort', String(options.blobPort),
    '--queueHost', host, '--queuePort', String(options.queuePort),
    '--tableHost', host, '--tablePort', String(options.tablePort),
    // The SDKs here speak newer service versions than Azurite 3.37 announces.
    '--skipApiVersionCheck', '--loose', '--silent',
  ];
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push('--location', options.location);
  } else {
    args.push('--inMemoryPersistence');
  }
  // Its own process group: a Ctrl-C in the terminal reaches us, not Azurite, so we can stop the
  // workers and triggers while storage is still up and stop Azurite last. If we die, it dies too.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
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
        child.kill('SIGTERM');
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
    await new Promise((r) => setTimeout(r, 100));
  }
}
