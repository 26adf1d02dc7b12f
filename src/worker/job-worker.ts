import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Deps } from '../lib/deps.js';
import { describeError } from '../lib/errors.js';
import { LeaseKeeper } from '../lib/app/lease-keeper.js';
import { QueueConsumer } from '../lib/app/queue-consumer.js';
import { runWorkerJob, type RunControl, type WorkerJobContext } from '../lib/app/run-worker-job.js';
import type { IdleWait } from '../lib/core/poll-backoff.js';
import { commandSandbox } from './command-sandbox.js';
import { inMessageSpan } from '../lib/telemetry/trace.js';
import { parseCommandSandboxSettings } from '../lib/command-sandbox-settings.js';
import { workerJobRunners } from './job-runners.js';

export interface WorkerOptions {
  readonly mode: 'actor' | 'spark';
  readonly queue: string;
  readonly concurrency: number;
  readonly lockSec: number;
  readonly heartbeatSec: number;
  readonly shutdownGraceSec: number;
  readonly timeScale: number;
  readonly maxDeliveries: number;
  readonly workerId?: string;
  /** Longest idle wait between receives (IDLE_POLL_MAX_SEC); default 10 s. */
  readonly maxPollMs?: number;
  /** How to wait when the queue was empty; the local runner's ends early when it sends to the queue. */
  readonly idleWait?: IdleWait;
}

/**
 * The actor/spark worker host: one queue consumer feeding {@link runWorkerJob}, one lease keeper
 * renewing the leases of every run, and the shutdown policy — on stop, in-flight runs get the grace
 * period to finish, then are released (job back to `queued`, message abandoned) so another replica
 * restarts them cleanly.
 */
export class JobWorker {
  readonly id: string;
  private readonly consumer: QueueConsumer;
  private readonly leases: LeaseKeeper;
  private readonly runs = new Set<RunControl>();

  constructor(
    deps: Deps,
    private readonly options: WorkerOptions,
  ) {
    this.id = options.workerId ?? `${options.mode}-${hostname()}-${process.pid}-${randomUUID().slice(0, 6)}`;
    // Who commands run as; parsed here so a bad COMMAND_* setting stops the worker at start-up.
    const sandbox = commandSandbox(parseCommandSandboxSettings(deps.config.env));
    this.leases = new LeaseKeeper(Math.max(50, (options.heartbeatSec * 1000) / 2));
    const context: WorkerJobContext = {
      workerId: this.id,
      mode: options.mode,
      lockSec: options.lockSec,
      heartbeatSec: options.heartbeatSec,
      maxDeliveries: options.maxDeliveries,
      runners: workerJobRunners(deps, sandbox, options.timeScale),
      leases: this.leases,
    };
    this.consumer = new QueueConsumer(
      deps.queues,
      {
        queue: options.queue,
        // One receive asks for the free slots; a new one as soon as a slot frees.
        batchSize: options.concurrency,
        newBatchThreshold: options.concurrency - 1,
        maxInFlight: options.concurrency,
        lockSec: options.lockSec,
        maxPollMs: options.maxPollMs ?? 10_000,
        ...(options.idleWait && { idleWait: options.idleWait }),
        onError: (stage, error) =>
          stage === 'receive'
            ? deps.log.warn('receive failed', { worker: this.id, error: describeError(error) })
            : deps.log.error('job handling failed', { worker: this.id, error: describeError(error) }),
      },
      async (message) => {
        const control: RunControl = {};
        this.runs.add(control);
        try {
          // One span per run, in the trace the message carries (the job's).
          await inMessageSpan(
            'worker.run',
            options.queue,
            message.body,
            { 'worker.id': this.id, 'worker.mode': options.mode },
            () => runWorkerJob(deps, context, message, control),
          );
        } finally {
          this.runs.delete(control);
        }
      },
    );
  }

  start(): void {
    this.consumer.start();
  }

  get busy(): number {
    return this.consumer.busy;
  }

  /**
   * Stops taking work, lets in-flight jobs finish within the grace period, then releases the rest
   * (job back to `queued`, message abandoned) so another replica restarts them cleanly.
   */
  async shutdown(graceSec = this.options.shutdownGraceSec): Promise<void> {
    await this.consumer.stopReceiving();
    const all = this.consumer.drain();
    let graceTimer: NodeJS.Timeout | undefined;
    const timer = new Promise<'timeout'>((r) => (graceTimer = setTimeout(() => r('timeout'), graceSec * 1000)));
    const outcome = await Promise.race([all.then(() => 'done' as const), timer]);
    // A pending grace timer would keep an in-process host (the local runner, tests) alive after stop.
    clearTimeout(graceTimer);
    if (outcome === 'timeout') {
      for (const run of this.runs) run.stop ??= 'release';
      await this.consumer.drain();
    }
  }
}
