/**
 * The Google Vertex AI provider. Nothing heavy is imported here: the aiplatform SDK loads with
 * `provider.ts` (through `client.ts`) on first use, the spec schema (zod) when a job is checked.
 */
import { defineProvider } from '../provider-context.js';
import { isVertexConfigured, VERTEX_KINDS, VERTEX_SETTINGS } from './catalog.js';

export const descriptor = defineProvider({
  name: 'vertex',
  pollFunction: 'pollVertex',
  pollSchedule: {
    name: 'POLL_VERTEX_SCHEDULE',
    scope: ['app'],
    default: '0 * * * * *',
    description: 'NCRONTAB schedule of the Vertex AI poller.',
  },
  settings: VERTEX_SETTINGS,
  jobKinds: VERTEX_KINDS,
  isConfigured: isVertexConfigured,
  load: () => import('./provider.js'),
  async validateSpec(kind, spec) {
    const { validateVertexSpec } = await import('./spec.js');
    validateVertexSpec({ ...(kind !== undefined && { kind }), ...(spec !== undefined && { spec }) });
  },
});
