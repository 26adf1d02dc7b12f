import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { isTerminal, type JobRecord } from '../lib/core/job.js';
import { note, transition } from '../lib/core/state-machine.js';
import type { Deps } from '../lib/deps.js';
import { describeError } from '../lib/errors.js';
import { parseJobMessage } from '../lib/app/messages.js';
import { failJob } from '../lib/app/fail-job.js';
import { MAX_DELIVERIES_REASON } from '../lib/app/process-message.js';
import { logBlobNames } from '../lib/app/queries.js';
import { saveResult } from '../lib/app/results.js';
import type { ReceivedMessage } from '../lib/ports/queue.js';
import { PollBackoff, sleepingWait, type IdleWait } from '../lib/core/poll-backoff.js';
import { ESSEDUM_EXECUTE_KIND, commandRunRefusal, commandSpecOf, isCommandKind } from '../lib/app/essedum/execute-spec.js';
import { parseEssedumSettings } from '../lib/essedum-settings.js';
import { hideHostPaths } from '../lib/core/host-paths.js';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './run-command.js';
import { commandSandbox, type CommandSandbox } from './command-sandbox.js';
import { parseCommandSandboxSettings } from '../lib/command-sandbox-settings.js';
import { simulateJob, type SimulationOutcome, type StopReason } from './simulate.js';

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

type InFlight = { jobId: string; stop?: StopReason; done: Promise<void> };

/**
 * The actor/spark worker: consumes its queue through the queue port, runs each job under a lease
 * recorded on the job (so a redelivered message never runs a job twice), writes heartbeat and
 * progress, honours cancellation between chunks, and on shutdown finishes or releases in-flight
 * work within the grace period.
 */
export class JobWorker {
  readonly id: string;
  private running = false;
  private loop?: Promise<void>;
  /** Aborted on shutdown, so an idle wait does not hold the loop. */
  private stopping = new AbortController();
  private readonly inFlight = new Set<InFlight>();
  /** Who commands run as; parsed here so a bad COMMAND_* setting stops the worker at start-up. */
  private readonly sandbox: CommandSandbox;

  constructor(private readonly deps: Deps, private readonly options: WorkerOptions) {
    this.id = options.workerId ?? `${options.mode}-${hostname()}-${process.pid}-${randomUUID().slice(0, 6)}`;
    this.sandbox = commandSandbox(parseCommandSandboxSettings(deps.config.env));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
    this.loop = this.run();
  }

  get busy(): number {
    return this.inFlight.size;
  }

  /**
   * Stops taking work, lets in-flight jobs finish within the grace period, then releases the rest
   * (job back to `queued`, message abandoned) so another replica restarts them cleanly.
   */
  async shutdown(graceSec = this.options.shutdownGraceSec): Promise<void> {
    this.running = false;
    this.stopping.abort();
    await this.loop;
    const all = Promise.all([...this.inFlight].map((f) => f.done));
    let graceTimer: NodeJS.Timeout | undefined;
    const timer = new Promise<'timeout'>((r) => (graceTimer = setTimeout(() => r('timeout'), graceSec * 1000)));
    const outcome = await Promise.race([all.then(() => 'done' as const), timer]);
    // A pending grace timer would keep an in-process host (the local runner, tests) alive after stop.
    clearTimeout(graceTimer);
    if (outcome === 'timeout') {
      for (const f of this.inFlight) f.stop ??= 'release';
      await all;
    }
  }

  private async run(): Promise<void> {
    const backoff = new PollBackoff(50, this.options.maxPollMs ?? 10_000);
    const idleWait = this.options.idleWait ?? sleepingWait;
    while (this.running) {
      const free = this.options.concurrency - this.inFlight.size;
      if (free <= 0) {
        await sleep(50);
        continue;
      }
      let messages: ReceivedMessage[] = [];
      try {
        messages = await this.deps.queues.receive(this.options.queue, { maxMessages: free, lockSec: this.options.lockSec, waitSec: 1 });
      } catch (error) {
        this.deps.log.warn('receive failed', { worker: this.id, error: describeError(error) });
        await sleep(1000);
        continue;
      }
      if (!this.running) {
        // Shutdown began while we were receiving: hand these straight back.
        await Promise.all(messages.map((m) => m.abandon().catch(() => undefined)));
        break;
      }
      for (const message of messages) {
        const flight: InFlight = { jobId: '', done: Promise.resolve() };
        flight.done = this.handle(message, flight)
          .catch((error: unknown) => this.deps.log.error('job handling failed', { worker: this.id, error: describeError(error) }))
          .finally(() => this.inFlight.delete(flight));
        this.inFlight.add(flight);
      }
      if (messages.length === 0) await idleWait(this.options.queue, backoff.empty(), this.stopping.signal);
      else backoff.reset();
    }
  }

  private async handle(message: ReceivedMessage, flight: InFlight): Promise<void> {
    let jobId: string;
    let secrets: Record<string, string>;
    try {
      ({ jobId, secrets = {} } = parseJobMessage(message.body));
    } catch (error) {
      await message.deadLetter('InvalidMessage', describeError(error));
      return;
    }
    flight.jobId = jobId;
    try {
      await this.execute(message, flight, jobId, secrets);
    } catch (error) {
      // Store or queue trouble: release for redelivery; past the limit, dead-letter and fail the job.
      const description = describeError(error);
      this.deps.log.warn('job attempt failed', { worker: this.id, jobId, error: description });
      if (message.deliveryCount >= this.options.maxDeliveries) {
        await this.giveUp(message, jobId, description);
      } else {
        await message.abandon().catch(() => undefined);
      }
    }
  }

  private async execute(message: ReceivedMessage, flight: InFlight, jobId: string, secrets: Record<string, string>): Promise<void> {
    const { deps } = this;
    const job = await deps.store.get(jobId);
    if (!job || isTerminal(job.status)) {
      await message.complete();
      return;
    }
    if (job.status === 'cancelling') {
      await this.finish(jobId, (j) => transition(j, 'cancelled', `cancelled before ${this.id} started it`, { at: deps.now() }));
      await message.complete();
      return;
    }
    const now = deps.now().getTime();
    if (job.lease && Date.parse(job.lease.until) > now) {
      // Another replica holds a live lease: this is a duplicate delivery. Look again after its lease.
      await message.abandon(Math.ceil((Date.parse(job.lease.until) - now) / 1000));
      return;
    }
    if (message.deliveryCount > this.options.maxDeliveries) {
      // Service Bus dead-letters a message past its max delivery count by itself; Storage Queues only
      // count dequeues. Without this, a job that takes its worker down on every run (out of memory,
      // a crash) would be restarted forever on Storage, where Service Bus gives up on it.
      await this.giveUp(message, jobId, `delivered ${message.deliveryCount} times (limit ${this.options.maxDeliveries}) without finishing`);
      return;
    }

    // The /execute gate at run time: a command job runs only if it came from /execute and /execute
    // is still on (switching it off stops command jobs already queued).
    if (isCommandKind(job.spec.kind)) {
      const refusal = commandRunRefusal(job.source, parseEssedumSettings(deps.config.env).executeEnabled);
      if (refusal) {
        await failJob(deps, jobId, refusal, `refused by ${this.id}: ${refusal.message}`);
        await this.settle(message);
        return;
      }
    }

    // Claim: one conditional write decides who runs the job. The owner is this *run*, not this
    // worker: a redelivery inside the same process must not take over a run that is still going.
    const runId = `${this.id}/${randomUUID().slice(0, 8)}`;
    const leaseUntil = () => new Date(deps.now().getTime() + this.leaseMs()).toISOString();
    const claimed = await deps.store.update(jobId, (c) => {
      if (isTerminal(c.status) || c.status === 'cancelling') return { job: c, unchanged: true };
      if (c.lease && Date.parse(c.lease.until) > deps.now().getTime()) return { job: c, unchanged: true };
      const lease = { owner: runId, until: leaseUntil() };
      const attempts = c.attempts + 1;
      if (c.status === 'queued') {
        // Claimed and running in one write: both steps stay in the history.
        const claim = transition(c, 'dispatched', `claimed by ${runId}`, { at: deps.now(), patch: { lease, attempts, progress: { done: 0, total: c.spec.rows, unit: 'rows' } } });
        return { ...transition(claim.job, 'running', `running on ${this.id}`, { at: deps.now() }), earlier: [claim.event] };
      }
      return note(c, `taken over by ${runId} (previous lease ${c.lease ? `of ${c.lease.owner} ` : ''}expired); restarting`, { at: deps.now(), patch: { lease, attempts, progress: { done: 0, total: c.spec.rows, unit: 'rows' } } });
    });
    if (claimed.lease?.owner !== runId) {
      if (isTerminal(claimed.status)) await message.complete();
      else await message.abandon(this.options.lockSec);
      return;
    }
    if (claimed.status === 'dispatched') {
      await deps.store.update(jobId, (c) => (c.status === 'dispatched' ? transition(c, 'running', `running on ${this.id}`, { at: deps.now() }) : { job: c, unchanged: true }));
    }

    const started = deps.now().getTime();
    const limitMs = (job.spec.max_runtime_sec ?? deps.config.defaultMaxRuntimeSec) * 1000;
    let lastBeat = 0;
    let lastDone = 0;
    let beats: Promise<void> = Promise.resolve();
    // One heartbeat at a time (the timer and progress both ask), at most one per heartbeatSec.
    const heartbeat = (done: number, total: number): Promise<void> => {
      lastDone = done;
      beats = beats
        .then(async () => {
          const t = deps.now().getTime();
          if (t - lastBeat < this.options.heartbeatSec * 1000) return;
          lastBeat = t;
          // A lost message lock is not fatal: the lease on the job record is what keeps a redelivered
          // copy from running the job again; that copy completes once it sees the job finished.
          await message.renewLock().catch((error: unknown) => deps.log.warn('lock renewal failed; the lease still holds', { jobId, error: describeError(error) }));
          const current = await deps.store.update(jobId, (c) =>
            c.lease?.owner === runId && !isTerminal(c.status)
              ? { job: { ...c, heartbeatAt: deps.now().toISOString(), progress: { done, total, unit: 'rows' }, lease: { owner: runId, until: leaseUntil() }, updatedAt: deps.now().toISOString() }, quiet: true as const }
              : { job: c, unchanged: true },
          ).catch(() => undefined);
          if (current?.status === 'cancelling') flight.stop ??= 'cancel';
          if (current && current.lease?.owner !== runId) flight.stop ??= 'release';
        })
        .catch(() => undefined);
      return beats;
    };
    // Beat on a timer as well as on progress: one simulation step (estimated runtime × scale / 50)
    // can outlast the lock and the lease, and a run that beat only between steps lost its message
    // mid-step to another replica, which took the job over while it was still running.
    const pulse = setInterval(() => void heartbeat(lastDone, job.spec.rows), Math.max(50, (this.options.heartbeatSec * 1000) / 2));

    const shouldStop = () => {
      if (!flight.stop && deps.now().getTime() - started > limitMs) flight.stop = 'timeout';
      return flight.stop;
    };
    // An Essedum /execute job runs its command; every other job is the seed's simulated work.
    let commandLog: string | undefined;
    let outcome: SimulationOutcome;
    try {
      outcome =
        job.spec.kind === ESSEDUM_EXECUTE_KIND
          ? await this.runCommandJob(job, secrets, shouldStop, () => heartbeat(0, job.spec.rows), (log) => (commandLog = log))
          : await simulateJob(jobId, job.spec, { timeScale: this.options.timeScale, onProgress: (done, total) => heartbeat(done, total), shouldStop });
    } finally {
      clearInterval(pulse);
      await beats;
    }

    switch (outcome.kind) {
      case 'succeeded': {
        const info = await saveResult(deps, job, this.id, 'succeeded', outcome.result);
        await this.writeLog(jobId, commandLog ?? `${this.options.mode} worker ${this.id} processed ${String(outcome.result.rows_processed)} rows\n`);
        await this.finish(jobId, (c) => transition(c, 'succeeded', `completed on ${runId}`, { at: deps.now(), patch: { result: info, progress: { done: job.spec.rows, total: job.spec.rows, unit: 'rows' } } }));
        await this.settle(message);
        return;
      }
      case 'failed': {
        await this.writeLog(jobId, commandLog ?? '', `${outcome.code}: ${outcome.message}\n`);
        await this.finish(jobId, (c) => transition(c, 'failed', `failed on ${runId}: ${outcome.message}`, { at: deps.now(), patch: { error: { code: outcome.code, message: outcome.message } } }));
        await this.settle(message);
        return;
      }
      case 'stopped':
        switch (outcome.reason) {
          case 'cancel':
            if (commandLog !== undefined) await this.writeLog(jobId, commandLog);
            await this.finish(jobId, (c) => transition(c, 'cancelled', `stopped by ${runId} after ${outcome.rowsDone} rows`, { at: deps.now() }));
            await this.settle(message);
            return;
          case 'timeout':
            if (commandLog !== undefined) await this.writeLog(jobId, commandLog, `TIMEOUT: the command ran longer than ${limitMs / 1000} s\n`);
            await this.finish(jobId, (c) => transition(c, 'failed', `timed out on ${runId}`, { at: deps.now(), patch: { error: { code: 'TIMEOUT', message: `The job ran longer than ${limitMs / 1000} s.` } } }));
            await this.settle(message);
            return;
          case 'release': {
            // Shutdown: give the job back. The partial run is discarded; it restarts from the beginning.
            const released = await deps.store.update(jobId, (c) =>
              c.lease?.owner === runId && (c.status === 'running' || c.status === 'dispatched')
                ? transition(c, 'queued', `released by ${runId} on shutdown after ${outcome.rowsDone} rows; will restart`, { at: deps.now(), patch: { lease: undefined, progress: undefined } })
                : { job: c, unchanged: true },
            );
            if (released.status === 'cancelling') {
              await this.finish(jobId, (c) => transition(c, 'cancelled', `stopped by ${this.id} on shutdown`, { at: deps.now() }));
              await message.complete();
            } else {
              await message.abandon();
            }
            return;
          }
          default: {
            const unreachable: never = outcome.reason;
            throw new Error(`unhandled stop ${String(unreachable)}`);
          }
        }
      default: {
        const unreachable: never = outcome;
        throw new Error(`unhandled outcome ${String(unreachable)}`);
      }
    }
  }

  /**
   * Runs an /execute job's command in this worker's container. Its secrets (storage credentials)
   * come from the queue message only and are dropped when this returns.
   */
  private async runCommandJob(
    job: JobRecord,
    secrets: Record<string, string>,
    shouldStop: () => StopReason | undefined,
    onTick: () => Promise<void>,
    setLog: (log: string) => void,
  ): Promise<SimulationOutcome> {
    const { deps } = this;
    const settings = parseEssedumSettings(deps.config.env);
    const container = deps.config.containers.results;
    const workDir = join(tmpdir(), `cjo-exec-${job.id}-${randomUUID().slice(0, 8)}`);
    // The log and error messages are shown to callers: they name the job's folder, not its host path.
    const neutral = (t: string) => hideHostPaths(t, { [workDir]: '<job folder>' });
    const result = await runCommand({
      jobId: job.id,
      spec: commandSpecOf(job.spec.spec),
      secrets,
      workDir,
      maxLogBytes: settings.maxLogBytes,
      shouldStop,
      onTick,
      sandbox: this.sandbox,
      storageEndpointAllowlist: settings.storageEndpointAllowlist,
      // Checked again here, not only at submission: a record changed in storage reads nothing else.
      readLocalArtifact: async (c, name) => {
        if (c !== settings.artifactsContainer) throw new Error(`'local' artifacts come only from the container ${settings.artifactsContainer}, not '${c}'`);
        return deps.blobs.get(c, name);
      },
      onOutputs: async (files) => {
        for (const f of files) await deps.blobs.put(container, `${job.id}/outputs/${f.name}`, await readFile(f.path));
      },
    });
    setLog(neutral(result.log));
    switch (result.kind) {
      case 'succeeded':
        return { kind: 'succeeded', result: { exit_code: 0, outputs: result.outputs.map((o) => `${container}/${job.id}/outputs/${o.name}`) } };
      case 'failed':
        return { kind: 'failed', code: result.code, message: neutral(result.message) };
      case 'stopped':
        return { kind: 'stopped', reason: result.reason, rowsDone: 0 };
      default: {
        const unreachable: never = result;
        throw new Error(`unhandled command outcome ${String(unreachable)}`);
      }
    }
  }

  /** Past the delivery limit: fail the job (the dead-letter handler's wording) and dead-letter the message. */
  private async giveUp(message: ReceivedMessage, jobId: string, description: string): Promise<void> {
    await failJob(this.deps, jobId, { code: 'DEAD_LETTERED', message: `${MAX_DELIVERIES_REASON}: ${description}` }, `dead-lettered by ${this.id}: ${MAX_DELIVERIES_REASON}: ${description}`);
    await message.deadLetter(MAX_DELIVERIES_REASON, description);
  }

  /** Completes a message whose job is finished; a lost lock only means a redelivered copy will do it. */
  private async settle(message: ReceivedMessage): Promise<void> {
    await message.complete().catch((error: unknown) => this.deps.log.warn('complete failed; a redelivered copy will find the job finished', { error: describeError(error) }));
  }

  private leaseMs(): number {
    // Long enough to survive a missed heartbeat or two, short enough that a dead worker's job moves on.
    return Math.max(this.options.lockSec * 1000, this.options.heartbeatSec * 3000);
  }

  private async finish(jobId: string, move: (job: JobRecord) => ReturnType<typeof transition>): Promise<void> {
    await this.deps.store.update(jobId, (c) => (isTerminal(c.status) ? { job: c, unchanged: true } : move(c)));
  }

  private async writeLog(jobId: string, stdout: string, stderr = ''): Promise<void> {
    const names = logBlobNames(jobId);
    const container = this.deps.config.containers.results;
    await Promise.all([this.deps.blobs.put(container, names.stdout, stdout, 'text/plain'), this.deps.blobs.put(container, names.stderr, stderr, 'text/plain')]);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
