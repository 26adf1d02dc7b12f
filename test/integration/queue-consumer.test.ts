import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { StorageQueueTransport } from '../../src/lib/adapters/storage-queue-transport.js';
import { QueueConsumer } from '../../src/lib/app/queue-consumer.js';
import { loadConfig } from '../../src/lib/config.js';
import type { IdleWait } from '../../src/lib/core/poll-backoff.js';
import type { QueueTransport, ReceivedMessage } from '../../src/lib/ports/queue.js';
import { uniqueName } from '../contract/queue-transport.contract.js';

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('QueueConsumer on Storage Queues (Azurite)', () => {
  let transport: StorageQueueTransport;

  beforeAll(async () => {
    transport = await StorageQueueTransport.create(loadConfig({ JobsStorage: inject('storageConnectionString') }));
  });
  afterAll(async () => {
    await transport.close();
  });

  const options = (queue: string, over: Partial<ConstructorParameters<typeof QueueConsumer>[1]> = {}) => ({
    queue,
    batchSize: 4,
    newBatchThreshold: 3,
    maxInFlight: 4,
    lockSec: 30,
    maxPollMs: 100,
    ...over,
  });

  it('hands every message to the handler once and never runs more than maxInFlight at a time', async () => {
    const queue = uniqueName('consumer');
    await transport.ensure([queue]);
    await transport.send(
      queue,
      Array.from({ length: 12 }, (_, i) => ({ n: i })),
    );
    const seen: number[] = [];
    let running = 0;
    let most = 0;
    const consumer = new QueueConsumer(
      transport,
      options(queue, { maxInFlight: 3, batchSize: 3, newBatchThreshold: 2 }),
      async (m) => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 30));
        seen.push(m.body.n as number);
        running--;
        await m.complete();
      },
    );
    consumer.start();
    await until(() => seen.length === 12, 'all 12 messages');
    await consumer.stopReceiving();
    await consumer.drain();
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThan(1);
    expect((await transport.depth(queue)).active).toBe(0);
  });

  it('keeps receiving after a receive fails, and reports the failure', async () => {
    const queue = uniqueName('consumer');
    await transport.ensure([queue]);
    await transport.send(queue, [{ n: 1 }]);
    let failures = 0;
    const flaky: QueueTransport = {
      kind: transport.kind,
      send: (q, m) => transport.send(q, m),
      receive: (q, o) =>
        failures++ === 0 ? Promise.reject(new Error('queue service unavailable')) : transport.receive(q, o),
      depth: (q) => transport.depth(q),
      deadLetterQueueOf: (q) => transport.deadLetterQueueOf(q),
      ensure: (q) => transport.ensure(q),
      close: async () => undefined,
    };
    const errors: Array<[string, unknown]> = [];
    const got: ReceivedMessage[] = [];
    const consumer = new QueueConsumer(
      flaky,
      { ...options(queue), onError: (stage, e) => errors.push([stage, e]) },
      async (m) => {
        got.push(m);
        await m.complete();
      },
    );
    consumer.start();
    await until(() => got.length === 1, 'the message after the failed receive');
    await consumer.stopReceiving();
    expect(errors).toHaveLength(1);
    expect(errors[0]![0]).toBe('receive');
    expect(String(errors[0]![1])).toMatch(/queue service unavailable/);
  });

  it('reports a handler that throws and carries on with the next message', async () => {
    const queue = uniqueName('consumer');
    await transport.ensure([queue]);
    await transport.send(queue, [{ n: 1 }, { n: 2 }]);
    const errors: string[] = [];
    const done: number[] = [];
    const consumer = new QueueConsumer(
      transport,
      {
        ...options(queue, { maxInFlight: 1, batchSize: 1, newBatchThreshold: 0 }),
        onError: (stage, e) => errors.push(`${stage}: ${String(e)}`),
      },
      async (m) => {
        await m.complete();
        if (m.body.n === 1) throw new Error('handler broke');
        done.push(m.body.n as number);
      },
    );
    consumer.start();
    await until(() => done.length === 1 && errors.length === 1, 'both messages handled');
    await consumer.stopReceiving();
    expect(errors).toEqual(['handle: Error: handler broke']);
    expect(done).toEqual([2]);
  });

  it('backs off while the queue is empty, and a wake-up ends the wait at once', async () => {
    const queue = uniqueName('consumer');
    await transport.ensure([queue]);
    const waits: number[] = [];
    let wake: (() => void) | undefined;
    const idleWait: IdleWait = (_q, ms, signal) => {
      waits.push(ms);
      return new Promise<void>((resolve) => {
        wake = resolve;
        signal?.addEventListener('abort', () => resolve(), { once: true });
        if (waits.length < 4) resolve(); // the first three empty receives pass at once
      });
    };
    const got: number[] = [];
    const consumer = new QueueConsumer(transport, { ...options(queue, { maxPollMs: 10_000 }), idleWait }, async (m) => {
      got.push(m.body.n as number);
      await m.complete();
    });
    consumer.start();
    await until(() => waits.length === 4, 'four empty receives');
    expect(waits).toEqual([50, 100, 200, 400]); // doubling from 50 ms
    await transport.send(queue, [{ n: 7 }]);
    wake!();
    await until(() => got.length === 1, 'the message after the wake-up');
    await until(() => waits.length >= 5, 'the next empty receive');
    expect(waits[4]).toBe(50); // a message resets the back-off
    await consumer.stopReceiving();
    expect(got).toEqual([7]);
  });

  it('on stop, ends an idle wait and takes nothing more from the queue', async () => {
    const queue = uniqueName('consumer');
    await transport.ensure([queue]);
    let idle = 0;
    // An idle wait that only a stop ends: stopReceiving resolving proves the stop cut it short.
    const idleWait: IdleWait = (_q, _ms, signal) =>
      new Promise<void>((resolve) => {
        idle++;
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    const consumer = new QueueConsumer(transport, { ...options(queue), idleWait }, async (m) => {
      await m.complete();
    });
    consumer.start();
    await until(() => idle === 1, 'the idle wait');
    await consumer.stopReceiving();
    await transport.send(queue, [{ n: 1 }]);
    await new Promise((r) => setTimeout(r, 200));
    expect(consumer.busy).toBe(0);
    expect((await transport.depth(queue)).active).toBe(1); // nobody took it after the stop
  });
});
