import { describe, expect, it } from 'vitest';
import { PollBackoff, sleepingWait } from '../../src/lib/core/poll-backoff.js';
import { WakingTransport } from '../../src/local/waking-transport.js';
import type { QueueTransport } from '../../src/lib/ports/queue.js';

describe('PollBackoff', () => {
  it('doubles the idle wait up to the maximum and restarts after work is found', () => {
    const b = new PollBackoff(50, 1000);
    expect([b.empty(), b.empty(), b.empty(), b.empty(), b.empty(), b.empty(), b.empty()]).toEqual([
      50, 100, 200, 400, 800, 1000, 1000,
    ]);
    b.reset();
    expect(b.empty()).toBe(50);
  });

  it('never waits longer than the maximum, even below the minimum', () => {
    const b = new PollBackoff(50, 20);
    expect([b.empty(), b.empty()]).toEqual([20, 20]);
  });
});

describe('idle waits', () => {
  it('an aborted sleeping wait ends at once', async () => {
    const stop = new AbortController();
    const wait = sleepingWait('q', 60_000, stop.signal);
    stop.abort();
    await expect(wait).resolves.toBeUndefined();
  });

  it('a send on the waking transport ends the waits on that queue only', async () => {
    const sent: string[] = [];
    const inner = { kind: 'storage', send: async (q: string) => void sent.push(q) } as unknown as QueueTransport;
    const t = new WakingTransport(inner);
    let woke = '';
    const a = t.idleWait('a', 60_000).then(() => (woke += 'a'));
    const b = t.idleWait('b', 60_000).then(() => (woke += 'b'));
    await t.send('a', [{ jobId: 'x' }]);
    await a;
    expect(woke).toBe('a');
    expect(sent).toEqual(['a']);
    const stop = new AbortController();
    const c = t.idleWait('b', 60_000, stop.signal);
    stop.abort();
    await c;
    await t.send('b', []);
    await b;
    expect(woke).toBe('ab');
  });

  it('a send that finds no consumer waiting (its receive in flight) ends the next wait on that queue at once', async () => {
    const inner = { kind: 'storage', send: async () => undefined } as unknown as QueueTransport;
    const t = new WakingTransport(inner);
    // Nobody waits on 'a' while this send completes: a consumer's receive may be on the wire.
    await t.send('a', [{ jobId: 'x' }]);
    let ended = '';
    const stop = new AbortController();
    // Without the remembered send, both would sleep their full minute.
    const first = t.idleWait('a', 60_000, stop.signal).then(() => (ended += 'first '));
    const other = t.idleWait('b', 60_000, stop.signal).then(() => (ended += 'other '));
    await first;
    expect(ended).toBe('first ');
    // Remembered once: the following wait on 'a' sleeps again until woken.
    const second = t.idleWait('a', 60_000, stop.signal).then(() => (ended += 'second '));
    await new Promise((r) => setImmediate(r));
    expect(ended).toBe('first ');
    stop.abort();
    await Promise.all([other, second]);
  });
});
