import type { SettingInfo } from './config.js';
import { type Env, SettingsReader } from './settings.js';

/**
 * Settings of the orphan reaper and of cancel re-sends, both run by the reconciler (RECONCILE_SCHEDULE).
 */
export const REAPER_SETTINGS = [
  {
    name: 'ORPHAN_REAPER_ENABLED',
    scope: ['app'],
    default: 'true',
    description:
      "Whether the reconciler lists each provider's unfinished cloud jobs carrying this deployment's name prefix, tag or label, and stops those no active job owns.",
  },
  {
    name: 'ORPHAN_GRACE_SEC',
    scope: ['app'],
    default: '900',
    description:
      'A cloud job younger than this is never stopped as an orphan, whatever the records say: a dispatch may have created it and not yet recorded it (its redelivery re-attaches).',
  },
  {
    name: 'ORPHAN_PAGES_PER_PASS',
    scope: ['app'],
    default: '10',
    description:
      "List pages the reaper reads per provider in one reconciler pass; the next pass goes on where this one stopped. Keeps the reaper inside the providers' list quotas.",
  },
  {
    name: 'ORPHAN_STOPS_PER_PASS',
    scope: ['app'],
    default: '25',
    description: 'Orphans the reaper stops per provider in one pass; the rest are stopped by the next passes.',
  },
  {
    name: 'CANCEL_CONFIRM_TIMEOUT_SEC',
    scope: ['app'],
    default: '180',
    description:
      'A job still `cancelling` this long after its last stop request gets the stop request sent again (with a note in its history).',
  },
  {
    name: 'CANCEL_MAX_RESENDS',
    scope: ['app'],
    default: '3',
    description:
      'Stop requests re-sent for one job before the reconciler gives up re-sending (a note says so; the poller still confirms the stop when it comes).',
  },
] as const satisfies readonly SettingInfo[];

type Name = (typeof REAPER_SETTINGS)[number]['name'];

export interface ReaperSettings {
  readonly enabled: boolean;
  readonly graceMs: number;
  readonly pagesPerPass: number;
  readonly stopsPerPass: number;
  readonly cancelConfirmTimeoutMs: number;
  readonly cancelMaxResends: number;
}

/** Parses the reaper settings; throws a ConfigurationError naming each bad one. */
export function parseReaperSettings(env: Env): ReaperSettings {
  const read = new SettingsReader<Name>(env, REAPER_SETTINGS);
  const settings: ReaperSettings = {
    enabled: read.bool('ORPHAN_REAPER_ENABLED'),
    graceMs: read.int('ORPHAN_GRACE_SEC', { min: 60, max: 7 * 24 * 3600 }) * 1000,
    pagesPerPass: read.int('ORPHAN_PAGES_PER_PASS', { min: 1, max: 1000 }),
    stopsPerPass: read.int('ORPHAN_STOPS_PER_PASS', { min: 1, max: 10_000 }),
    cancelConfirmTimeoutMs: read.int('CANCEL_CONFIRM_TIMEOUT_SEC', { min: 10, max: 24 * 3600 }) * 1000,
    cancelMaxResends: read.int('CANCEL_MAX_RESENDS', { min: 0, max: 100 }),
  };
  read.check('Invalid reaper settings');
  return Object.freeze(settings);
}
