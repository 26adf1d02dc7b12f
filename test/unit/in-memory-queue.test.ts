import { describe, expect, it } from 'vitest';
import { PayloadTooLargeError } from '../../src/lib/errors.js';
import { describeQueueTransportContract, uniqueName } from '../contract/queue-transport.contract.js';
import { InMemoryBlobStore } from '../fakes/in-memory-stores.js';
import { InMemoryQueueTransport, MessageLockLostError } from '../fakes/in-memory-queue.js';

// The double the use-case tests use must behave like the real transports, under either's rules.
for (const kind of ['storage', 'servicebus'] as const) {
  describeQueueTransportContract(`in memory (${kind} rules)`, async () => {
    const transport = new InMemoryQueueTransport({ kind });
    return {
      transport,
      blobs: new InMemoryBlobStore(),
      blobContainer: 'claims',
      // Longer than the contract's 2 s delayed send, or the first message's lock runs out while it waits.
      lockSec: 3,
      newQueue: () => uniqueName('contract'),
      close: () => transport.close(),
    };
  });
}

describe('InMemoryQueueTransport on an injected clock', () => {
  function clocked(kind: 'storage' | 'servicebus' = 'storage') {
    let t = Date.parse('2026-12-04T12:00:00Z');
    const q = new InMemoryQueueTransport({ kind, now: () => t });
    return {
      q,
      advance: (sec: number) => {
        t += sec * 1000;
      },
    };
  }

  it('settles only through the current lock: a message taken again after its lock expired refuses the old holder', async () => {
    const { q, advance } = clocked();
    await q.send('jobs', [{ jobId: 'a' }]);
    const [first] = await q.receive('jobs', { maxMessages: 1, lockSec: 30 });
    advance(29);
    expect(await q.receive('jobs', { maxMessages: 1, lockSec: 30 })).toHaveLength(0);
    advance(2);
    const [second] = await q.receive('jobs', { maxMessages: 1, lockSec: 30 });
    expect(second?.deliveryCount).toBe(2);
    await expect(first!.complete()).rejects.toBeInstanceOf(MessageLockLostError);
    await expect(first!.renewLock()).rejects.toBeInstanceOf(MessageLockLostError);
    await second!.complete();
    await expect(second!.complete()).rejects.toBeInstanceOf(MessageLockLostError);
    expect((await q.depth('jobs')).active).toBe(0);
  });

  it('Service Bus rules: an expired lock is lost even before another receive; Storage keeps the pop receipt', async () => {
    for (const kind of ['servicebus', 'storage'] as const) {
      const { q, advance } = clocked(kind);
      await q.send('jobs', [{ jobId: 'a' }]);
      const [m] = await q.receive('jobs', { maxMessages: 1, lockSec: 10 });
      advance(11);
      if (kind === 'servicebus') await expect(m!.complete()).rejects.toBeInstanceOf(MessageLockLostError);
      else await m!.complete();
    }
  });

  it('holds back delayed sends and delayed abandons by the clock, and counts scheduled messages on Service Bus only', async () => {
    for (const kind of ['servicebus', 'storage'] as const) {
      const { q, advance } = clocked(kind);
      await q.send('jobs', [{ jobId: 'later' }], { delaySec: 60 });
      expect(await q.depth('jobs')).toEqual(
        kind === 'servicebus' ? { active: 0, deadLetter: 0, scheduled: 1 } : { active: 1, deadLetter: 0, scheduled: 0 },
      );
      advance(59);
      expect(await q.receive('jobs', { maxMessages: 5, lockSec: 30 })).toHaveLength(0);
      advance(1);
      const [m] = await q.receive('jobs', { maxMessages: 5, lockSec: 30 });
      await m!.abandon(120);
      advance(119);
      expect(await q.receive('jobs', { maxMessages: 5, lockSec: 30 })).toHaveLength(0);
      advance(1);
      const [again] = await q.receive('jobs', { maxMessages: 5, lockSec: 30 });
      expect(again?.body).toEqual({ jobId: 'later' });
      expect(again?.deliveryCount).toBe(2);
    }
  });

  it('refuses a whole send when one body is too large or not serialisable, sending none of it', async () => {
    const { q } = clocked();
    await expect(q.send('jobs', [{ jobId: 'ok' }, { data: 'x'.repeat(64 * 1024) }])).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    );
    await expect(q.send('jobs', [{ jobId: 'ok' }, { n: 1n }])).rejects.toThrow(TypeError);
    expect(q.peek('jobs')).toEqual([]);
    await expect(q.send('jobs', [{ jobId: 'x' }], { delaySec: 8 * 24 * 3600 })).rejects.toThrow(RangeError);
  });

  it('hands out copies: mutating a sent or received body changes nothing in the queue', async () => {
    const { q } = clocked();
    const body = { jobId: 'a', nested: { n: 1 } };
    await q.send('jobs', [body]);
    body.nested.n = 2;
    const [m] = await q.receive('jobs', { maxMessages: 1, lockSec: 1 });
    expect(m?.body).toEqual({ jobId: 'a', nested: { n: 1 } });
    (m!.body.nested as { n: number }).n = 3;
    expect(q.peek('jobs')).toEqual([{ jobId: 'a', nested: { n: 1 } }]);
  });
});
