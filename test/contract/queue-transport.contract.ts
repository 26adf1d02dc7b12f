import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClaimCheckTransport } from '../../src/lib/adapters/claim-check-transport.js';
import { processMessage, MAX_DELIVERIES_REASON } from '../../src/lib/app/process-message.js';
import type { BlobStore } from '../../src/lib/ports/blob-store.js';
import {
  CLAIM_CHECK_FIELD,
  DEAD_LETTER_DESCRIPTION_FIELD,
  DEAD_LETTER_REASON_FIELD,
  type QueueTransport,
  type ReceivedMessage,
} from '../../src/lib/ports/queue.js';

export interface QueueContractFixture {
  readonly transport: QueueTransport;
  /** A fresh queue name per call, so tests do not see each other's messages. */
  newQueue(): string;
  /** Lock duration the queues really have (Service Bus: a queue property; Storage: what we ask for). */
  readonly lockSec: number;
  /** Blob store for the claim-check test. */
  readonly blobs: BlobStore;
  readonly blobContainer: string;
  close(): Promise<void>;
}

/** Receives until `count` messages arrived or the deadline passed (receives may return early/empty). */
export async function receiveUntil(
  t: QueueTransport,
  queue: string,
  count: number,
  lockSec: number,
  timeoutMs = 20_000,
): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count && Date.now() < deadline) {
    const got = await t.receive(queue, { maxMessages: count - out.length, lockSec, waitSec: 1 });
    out.push(...got);
    if (got.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  return out;
}

/**
 * One contract, every transport. Storage Queues on Azurite and Service Bus on the wire-level
 * stand-in must both pass it unchanged.
 */
export function describeQueueTransportContract(name: string, makeFixture: () => Promise<QueueContractFixture>): void {
  describe(`QueueTransport contract: ${name}`, () => {
    let fx: QueueContractFixture;
    beforeAll(async () => {
      fx = await makeFixture();
    });
    afterAll(async () => {
      await fx?.close();
    });

    async function freshQueue(): Promise<string> {
      const q = fx.newQueue();
      await fx.transport.ensure([q]);
      return q;
    }

    it('delivers a sent body unchanged with a first delivery count of 1', async () => {
      const q = await freshQueue();
      const body = { jobId: 'j-1', nested: { n: 1, s: 'ü € 😀' }, list: [1, 2, 3] };
      await fx.transport.send(q, [body]);
      const [msg] = await receiveUntil(fx.transport, q, 1, fx.lockSec);
      expect(msg?.body).toEqual(body);
      expect(msg?.deliveryCount).toBe(1);
      await msg!.complete();
    });

    it('sends a batch of many messages and delivers each exactly once when completed', async () => {
      const q = await freshQueue();
      const bodies = Array.from({ length: 60 }, (_, i) => ({ jobId: `j-${i}` }));
      await fx.transport.send(q, bodies);
      const got = await receiveUntil(fx.transport, q, 60, Math.max(fx.lockSec, 30));
      await Promise.all(got.map((m) => m.complete()));
      expect(got.map((m) => m.body.jobId).sort()).toEqual(bodies.map((b) => b.jobId).sort());
      const again = await fx.transport.receive(q, { maxMessages: 10, lockSec: fx.lockSec, waitSec: 1 });
      expect(again).toHaveLength(0);
    });

    it('holds a message sent with a delay back until the delay has passed (scheduled redelivery)', async () => {
      const q = await freshQueue();
      await fx.transport.send(q, [{ jobId: 'j-later' }], { delaySec: 300 });
      await fx.transport.send(q, [{ jobId: 'j-soon' }], { delaySec: 2 });
      await fx.transport.send(q, [{ jobId: 'j-now' }]);
      // Each message is completed as it arrives: holding j-now while waiting out j-soon's delay
      // could outlast a short lock on a loaded machine.
      const seen: string[] = [];
      const deadline = Date.now() + 20_000;
      while (seen.length < 2 && Date.now() < deadline) {
        const got = await fx.transport.receive(q, { maxMessages: 10, lockSec: fx.lockSec, waitSec: 1 });
        for (const m of got) {
          seen.push(String(m.body.jobId));
          await m.complete();
        }
      }
      expect(seen.sort()).toEqual(['j-now', 'j-soon']);
      // Five minutes away: not delivered within this test.
      const early = await fx.transport.receive(q, { maxMessages: 10, lockSec: fx.lockSec, waitSec: 1 });
      expect(early.map((m) => m.body.jobId)).toEqual([]);
    });

    it('redelivers an abandoned message with its delivery count increased', async () => {
      const q = await freshQueue();
      await fx.transport.send(q, [{ jobId: 'j-abandon' }]);
      const [first] = await receiveUntil(fx.transport, q, 1, fx.lockSec);
      await first!.abandon();
      const [second] = await receiveUntil(fx.transport, q, 1, fx.lockSec);
      expect(second?.body.jobId).toBe('j-abandon');
      expect(second?.deliveryCount).toBe(2);
      await second!.complete();
    });

    it('redelivers a message whose lock expired (a consumer that crashed)', async () => {
      const q = await freshQueue();
      await fx.transport.send(q, [{ jobId: 'j-crash' }]);
      const [first] = await receiveUntil(fx.transport, q, 1, fx.lockSec);
      expect(first).toBeDefined();
      // Never settle `first`: the lock runs out and the message comes back.
      const [second] = await receiveUntil(fx.transport, q, 1, fx.lockSec, fx.lockSec * 1000 + 20_000);
      expect(second?.body.jobId).toBe('j-crash');
      expect(second!.deliveryCount).toBeGreaterThan(first!.deliveryCount);
      await second!.complete();
    });

    it('keeps a message locked while its lock is renewed', async () => {
      const q = await freshQueue();
      await fx.transport.send(q, [{ jobId: 'j-long' }]);
      const [msg] = await receiveUntil(fx.transport, q, 1, fx.lockSec);
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, (fx.lockSec * 1000) / 2));
        await msg!.renewLock();
      }
      const stolen = await fx.transport.receive(q, { maxMessages: 1, lockSec: fx.lockSec, waitSec: 0 });
      expect(stolen).toHaveLength(0);
      await msg!.complete();
    });

    it('dead-letters with a reason and description that the dead-letter receiver can read', async () => {
      const q = await freshQueue();
      await fx.transport.send(q, [{ jobId: 'j-dead' }]);
      const [msg] = await receiveUntil(fx.transport, q, 1, fx.lockSec);
      await msg!.deadLetter('SpecInvalid', 'rows must be a number');
      const [dead] = await receiveUntil(fx.transport, fx.transport.deadLetterQueueOf(q), 1, fx.lockSec);
      expect(dead?.body.jobId).toBe('j-dead');
      expect(dead?.body[DEAD_LETTER_REASON_FIELD]).toBe('SpecInvalid');
      expect(dead?.body[DEAD_LETTER_DESCRIPTION_FIELD]).toBe('rows must be a number');
      await dead!.complete();
    });

    it('moves a message that fails on every delivery to the dead-letter queue after N deliveries', async () => {
      const q = await freshQueue();
      const maxDeliveries = 3;
      await fx.transport.send(q, [{ jobId: 'j-poison' }]);
      const outcomes: string[] = [];
      let attempts = 0;
      while (!outcomes.includes('dead-lettered') && attempts < maxDeliveries + 2) {
        const [msg] = await receiveUntil(fx.transport, q, 1, fx.lockSec);
        if (!msg) break;
        attempts++;
        outcomes.push(
          await processMessage(
            msg,
            async () => {
              throw new Error('boom');
            },
            { maxDeliveries },
          ),
        );
      }
      expect(outcomes).toEqual(['abandoned', 'abandoned', 'dead-lettered']);
      const [dead] = await receiveUntil(fx.transport, fx.transport.deadLetterQueueOf(q), 1, fx.lockSec);
      expect(dead?.body.jobId).toBe('j-poison');
      expect(dead?.body[DEAD_LETTER_REASON_FIELD]).toBe(MAX_DELIVERIES_REASON);
      expect(dead?.body[DEAD_LETTER_DESCRIPTION_FIELD]).toBe('boom');
      await dead!.complete();
    });

    it('reports depth: active messages and dead letters', async () => {
      const q = await freshQueue();
      await fx.transport.send(q, [{ a: 1 }, { a: 2 }, { a: 3 }]);
      const [one] = await receiveUntil(fx.transport, q, 1, fx.lockSec);
      await one!.deadLetter('Test', 'depth');
      const depth = await fx.transport.depth(q);
      expect(depth.deadLetter).toBe(1);
      expect(depth.active).toBeGreaterThanOrEqual(2);
      expect(depth.scheduled).toBe(0);
    });

    it('claim-checks a payload too big for a message and hands back the original body', async () => {
      const q = await freshQueue();
      const cc = new ClaimCheckTransport(fx.transport, fx.blobs, fx.blobContainer, 4096);
      const big = { jobId: 'j-big', data: 'x'.repeat(300_000) };
      await cc.send(q, [big, { jobId: 'j-small' }]);
      // On the wire the big one is only a reference.
      const raw = await receiveUntil(fx.transport, q, 2, fx.lockSec);
      const ref = raw.find((m) => typeof m.body[CLAIM_CHECK_FIELD] === 'string');
      expect(ref).toBeDefined();
      expect(JSON.stringify(ref!.body).length).toBeLessThan(1000);
      await Promise.all(raw.map((m) => m.abandon()));
      const got = await receiveUntil(cc, q, 2, fx.lockSec);
      const bigBack = got.find((m) => m.body.jobId === 'j-big');
      expect(bigBack?.body).toEqual(big);
      await Promise.all(got.map((m) => m.complete()));
      const [, name] = /^[^/]+\/(.+)$/.exec(String(ref!.body[CLAIM_CHECK_FIELD]))!;
      expect(await fx.blobs.get(fx.blobContainer, name!)).toBeUndefined();
    });
  });
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
