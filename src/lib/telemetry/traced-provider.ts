import type { Attributes } from '@opentelemetry/api';
import { ProviderThrottledError } from '../errors.js';
import type { JobProvider } from '../ports/provider.js';
import { recordProviderCall } from './metrics.js';
import { inSpan, SpanKind } from './trace.js';

/**
 * A provider whose every port call is a client span (`provider.<operation>` with provider,
 * operation, outcome and whether it was throttled) and a count in `cjo.provider.calls`. The one
 * point every use case reaches a cloud through, whatever SDK the provider uses underneath.
 */
export function tracedProvider(provider: JobProvider): JobProvider {
  const call = <T>(
    operation: string,
    jobId: string | undefined,
    attributes: Attributes,
    fn: () => Promise<T>,
  ): Promise<T> =>
    inSpan(
      `provider.${operation}`,
      {
        kind: SpanKind.CLIENT,
        ...(jobId && { jobId }),
        attributes: { 'provider.name': provider.name, 'provider.operation': operation, ...attributes },
      },
      async (span) => {
        try {
          const out = await fn();
          span.setAttributes({ 'provider.outcome': 'ok', 'provider.throttled': false });
          recordProviderCall({ provider: provider.name, operation, outcome: 'ok', throttled: false });
          return out;
        } catch (error) {
          const throttled =
            error instanceof ProviderThrottledError ||
            (error as { code?: unknown } | null)?.code === 'PROVIDER_THROTTLED';
          span.setAttributes({ 'provider.outcome': 'error', 'provider.throttled': throttled });
          recordProviderCall({ provider: provider.name, operation, outcome: 'error', throttled });
          throw error;
        }
      },
    );
  const { result, logs, cleanup, shutdown, invokeEndpoint, listOwnedJobs, stopOwnedJob } = provider;
  return {
    get name() {
      return provider.name;
    },
    submit: (job, secrets) =>
      call('submit', job.id, { 'job.attempt': job.attempts }, () => provider.submit(job, secrets)),
    poll: (jobs) => call('poll', undefined, { 'provider.jobs': jobs.length }, () => provider.poll(jobs)),
    cancel: (job) => call('cancel', job.id, {}, () => provider.cancel(job)),
    ...(result && { result: (job) => call('result', job.id, {}, () => result.call(provider, job)) }),
    ...(logs && { logs: (job, tail) => call('logs', job.id, {}, () => logs.call(provider, job, tail)) }),
    ...(cleanup && {
      cleanup: (jobs) =>
        call('cleanup', undefined, { 'provider.jobs': jobs.length }, () => cleanup.call(provider, jobs)),
    }),
    ...(shutdown && { shutdown: (graceMs) => shutdown.call(provider, graceMs) }),
    ...(invokeEndpoint && {
      invokeEndpoint: (endpoint, operation, body) =>
        call(`invoke.${operation}`, endpoint.id, {}, () => invokeEndpoint.call(provider, endpoint, operation, body)),
    }),
    ...(listOwnedJobs && {
      listOwnedJobs: (cursor) => call('list_owned', undefined, {}, () => listOwnedJobs.call(provider, cursor)),
    }),
    ...(stopOwnedJob && {
      stopOwnedJob: (providerId) =>
        call('stop_owned', undefined, { 'provider.run_id': providerId }, () => stopOwnedJob.call(provider, providerId)),
    }),
  };
}
