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
    default: '*/30 * * * * *',
    description:
      'NCRONTAB schedule of the Vertex AI poller. Every 30 s: a cycle is one list page per 100 unfinished jobs plus one read per 20 that finished, far inside 600 reads/min per region; a cancel is confirmed within one cycle.',
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
