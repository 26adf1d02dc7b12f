import { ServiceBusTransport } from '../src/lib/adapters/servicebus-transport.js';
import { loadConfig } from '../src/lib/config.js';
import { startServiceBusStandIn } from '../test/fakes/servicebus/index.js';

/** Messages per `send` call: the adapter packs each call into as few AMQP batch transfers as fit. */
const SEND_CHUNK = 500;
const RECEIVE_MAX = 256;

/**
 * Throughput of the Service Bus transport against the in-process stand-in: N messages sent through
 * the adapter in batches, then received under peek-lock and completed. Measures the adapter and the
 * SDK's AMQP path (framing, batching, settlement round trips), not the cloud service.
 */
export async function benchTransport(messages: number): Promise<{ sendPerSec: number; receivePerSec: number }> {
  const standIn = await startServiceBusStandIn();
  const queue = 'bench-jobs';
  const config = loadConfig({
    QUEUE_TRANSPORT: 'servicebus',
    ServiceBus: standIn.connectionString,
    ServiceBus__administrationEndpoint: standIn.adminEndpoint,
  });
  const transport = await ServiceBusTransport.create(config, { lockDurationSec: 60 });
  try {
    await transport.ensure([queue]);
    // Warm the links (connection, CBS claims) so the timings measure steady state.
    await transport.send(queue, [{ warmup: true }]);
    for (const m of await transport.receive(queue, { maxMessages: 1, lockSec: 60, waitSec: 5 })) await m.complete();

    const bodies = Array.from({ length: messages }, (_, i) => ({ jobId: `job-${i}`, queue, attempt: 1 }));
    const sendStart = performance.now();
    for (let i = 0; i < bodies.length; i += SEND_CHUNK) await transport.send(queue, bodies.slice(i, i + SEND_CHUNK));
    const sendMs = performance.now() - sendStart;

    const receiveStart = performance.now();
    let received = 0;
    while (received < messages) {
      const got = await transport.receive(queue, {
        maxMessages: Math.min(RECEIVE_MAX, messages - received),
        lockSec: 60,
        waitSec: 5,
      });
      if (got.length === 0) throw new Error(`only ${received} of ${messages} messages came back`);
      await Promise.all(got.map((m) => m.complete()));
      received += got.length;
    }
    const receiveMs = performance.now() - receiveStart;
    const left = standIn.counts(queue);
    if (left.active !== 0) throw new Error(`${left.active} messages left in the queue after the bench`);
    return {
      sendPerSec: Math.round((messages / sendMs) * 1000),
      receivePerSec: Math.round((messages / receiveMs) * 1000),
    };
  } finally {
    await transport.close();
    await standIn.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 2000);
  console.log(JSON.stringify({ messages: n, ...(await benchTransport(n)) }));
}
