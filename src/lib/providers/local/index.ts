/**
 * The local provider: runs each job as a child process on this machine. It needs no settings beyond
 * LOCAL_PROVIDER_DIR (a core setting with a default), so it is always configured.
 */
import { defineProvider } from '../provider-context.js';

export const descriptor = defineProvider({
  name: 'local',
  pollFunction: 'pollLocal',
  pollSchedule: {
    name: 'POLL_LOCAL_SCHEDULE',
    scope: ['app'],
    default: '*/5 * * * * *',
    description: 'NCRONTAB schedule of the local-provider poller.',
  },
  settings: [],
  isConfigured: () => true,
  load: () => import('./provider.js'),
  // Runs any job: a spec, when given, is the worker's business.
  validateSpec: async () => {},
});
