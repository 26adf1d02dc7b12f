import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findPortOwner, isPortFree } from '../../src/local/port-owner.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/runner.js';
import { isRunning, processesInGroup, spawnStack, type StackProcess } from '../support/stack.js';

/**
 * `npm start`'s Azurite lives exactly as long as the stack: SIGKILL of the stack's process group
 * (Azurite runs in a group of its own) still stops it, and a port already taken stops the start
 * with a message naming the port and its holder instead of attaching to someone else's storage.
 */
describe('the Azurite that npm start owns', () => {
  const stacks: StackProcess[] = [];
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of stacks.splice(0)) s.signalGroup('SIGKILL');
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  const stackEnv = async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cjo-stack-'));
    return {
      HTTP_PORT: String(await freePort()),
      AZURITE_BLOB_PORT: String(await freePort()),
      AZURITE_QUEUE_PORT: String(await freePort()),
      AZURITE_TABLE_PORT: String(await freePort()),
      AZURITE_LOCATION: join(dir, 'azurite'),
      LOCAL_PROVIDER_DIR: join(dir, 'runs'),
    };
  };

  it('dies with the stack when the stack is killed with SIGKILL', async () => {
    const env = await stackEnv();
    const stack = spawnStack(env);
    stacks.push(stack);
    await stack.ready;
    const blobPort = Number(env.AZURITE_BLOB_PORT);
    const azurite = findPortOwner(blobPort);
    expect(azurite?.command).toContain('azurite');
    expect(azurite?.pid).not.toBe(stack.pid);
    // Azurite is outside the stack's group, so the group kill below does not reach it directly.
    expect(processesInGroup(stack.pid)).not.toContain(azurite!.pid);

    stack.signalGroup('SIGKILL');
    expect(await stack.exited).toMatchObject({ signal: 'SIGKILL' });

    await waitFor(
      async () => isRunning(azurite!.pid),
      (alive) => !alive,
      20_000,
      'Azurite to exit after its parent was killed',
    );
    expect(await isPortFree('127.0.0.1', blobPort)).toBe(true);
    expect(processesInGroup(stack.pid)).toEqual([]);
  });

  it('refuses to start when an Azurite port is taken, naming the port and the process holding it', async () => {
    const env = await stackEnv();
    const holder = createServer();
    servers.push(holder);
    await new Promise<void>((r) => holder.listen(Number(env.AZURITE_QUEUE_PORT), '127.0.0.1', r));

    const stack = spawnStack(env);
    stacks.push(stack);
    const exit = await stack.exited;
    expect(exit.code).toBe(1);
    const lines = stack.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      `Azurite queue port ${env.AZURITE_QUEUE_PORT} is already in use by pid ${process.pid} (`,
    );
    expect(lines[0]).toMatch(/^Failed to start: /);
    // Nothing of ours was left listening.
    expect(await isPortFree('127.0.0.1', Number(env.AZURITE_BLOB_PORT))).toBe(true);
  });
});
