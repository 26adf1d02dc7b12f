import { z } from 'zod';
import type { SettingInfo } from '../config.js';
import { ConfigurationError } from '../errors.js';

/**
 * Settings of the Service Bus queue transport (`QUEUE_TRANSPORT=servicebus`). The names follow the
 * Functions convention for a connection called `ServiceBus`, so the Service Bus triggers
 * (`connection: 'ServiceBus'`) and this adapter read the same settings.
 */
export const SERVICEBUS_SETTINGS = [
  {
    name: 'ServiceBus',
    scope: ['app', 'worker'],
    description:
      'Service Bus connection string (local: the emulator form with UseDevelopmentEmulator=true). In Azure use ServiceBus__fullyQualifiedNamespace with a managed identity instead.',
    secret: true,
  },
  {
    name: 'ServiceBus__fullyQualifiedNamespace',
    scope: ['app', 'worker'],
    description:
      'Identity-based connection: the namespace host, e.g. mynamespace.servicebus.windows.net (DefaultAzureCredential; reading queue counts needs Azure Service Bus Data Owner on the queue; a worker needs only Data Receiver on its queue, which must then exist already).',
  },
  {
    name: 'ServiceBus__administrationEndpoint',
    scope: ['app', 'worker'],
    description:
      'Optional base URL for queue administration (create queue, runtime counts) instead of https://<namespace>/ — only for a local stand-in or emulator; leave unset in Azure.',
  },
] as const satisfies readonly SettingInfo[];

export interface ServiceBusSettings {
  /** Connection string (SAS or emulator); wins over the identity-based namespace when both are set. */
  readonly connectionString?: string;
  /** Namespace host for identity-based access. */
  readonly fullyQualifiedNamespace?: string;
  /** Base URL that replaces `https://<namespace>` in administration requests. */
  readonly administrationEndpoint?: string;
}

const text = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

const Schema = z.object({
  ServiceBus: text.superRefine((v, ctx) => {
    if (v !== undefined && !/(^|;)\s*Endpoint\s*=\s*sb:\/\/[^;]+/i.test(v)) {
      ctx.addIssue({ code: 'custom', message: 'ServiceBus must be a connection string with Endpoint=sb://…' });
    }
  }),
  ServiceBus__fullyQualifiedNamespace: text.transform((v, ctx) => {
    if (v === undefined) return undefined;
    // People paste the endpoint form; the SDK wants the bare host.
    const host = v
      .replace(/^sb:\/\//i, '')
      .replace(/^https:\/\//i, '')
      .replace(/\/+$/, '');
    if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(host)) {
      ctx.addIssue({ code: 'custom', message: `ServiceBus__fullyQualifiedNamespace must be a host name, got '${v}'` });
      return z.NEVER;
    }
    return host;
  }),
  ServiceBus__administrationEndpoint: text.transform((v, ctx) => {
    if (v === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: `ServiceBus__administrationEndpoint is not a URL: '${v}'` });
      return z.NEVER;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: 'ServiceBus__administrationEndpoint must be an http or https URL' });
      return z.NEVER;
    }
    return url.origin + url.pathname.replace(/\/+$/, '');
  }),
});

/** True when either connection style is configured. */
export function isServiceBusConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.ServiceBus?.trim() || env.ServiceBus__fullyQualifiedNamespace?.trim());
}

/** Parses the Service Bus settings; throws ConfigurationError naming every bad or missing one. */
export function parseServiceBusSettings(env: Readonly<Record<string, string | undefined>>): ServiceBusSettings {
  const r = Schema.safeParse({
    ServiceBus: env.ServiceBus,
    ServiceBus__fullyQualifiedNamespace: env.ServiceBus__fullyQualifiedNamespace,
    ServiceBus__administrationEndpoint: env.ServiceBus__administrationEndpoint,
  });
  if (!r.success)
    throw new ConfigurationError(`Invalid Service Bus settings: ${r.error.issues.map((i) => i.message).join('; ')}`);
  const s = r.data;
  if (!s.ServiceBus && !s.ServiceBus__fullyQualifiedNamespace) {
    throw new ConfigurationError(
      'QUEUE_TRANSPORT=servicebus needs ServiceBus (connection string) or ServiceBus__fullyQualifiedNamespace',
    );
  }
  return {
    ...(s.ServiceBus ? { connectionString: s.ServiceBus } : {}),
    ...(s.ServiceBus__fullyQualifiedNamespace
      ? { fullyQualifiedNamespace: s.ServiceBus__fullyQualifiedNamespace }
      : {}),
    ...(s.ServiceBus__administrationEndpoint ? { administrationEndpoint: s.ServiceBus__administrationEndpoint } : {}),
  };
}
