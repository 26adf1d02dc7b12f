import { SERVICEBUS_SETTINGS } from './adapters/servicebus-settings.js';
import { CAPACITY_SETTINGS } from './capacity-settings.js';
import { SETTINGS, type SettingInfo } from './config.js';
import { COMMAND_SANDBOX_SETTINGS } from './command-sandbox-settings.js';
import { COST_SETTINGS } from './cost-settings.js';
import { ESSEDUM_SETTINGS } from './essedum-settings.js';
import { PROVIDERS } from './providers/all.js';
import { REAPER_SETTINGS } from './reaper-settings.js';
import { WEBHOOK_SETTINGS } from './webhook-settings.js';

/** Each provider's poll schedule and own settings, from its descriptor. */
const PROVIDER_SETTINGS: readonly SettingInfo[] = PROVIDERS.flatMap((p) => [p.pollSchedule, ...p.settings]);
import { TELEMETRY_SETTINGS } from './telemetry/settings.js';

/**
 * Every setting any part of the product reads: the core list plus each adapter's and provider's own.
 * README, local.settings.example.json and the Bicep app settings are checked against this.
 */
export const ALL_SETTINGS: readonly SettingInfo[] = [
  ...SETTINGS,
  ...SERVICEBUS_SETTINGS,
  ...ESSEDUM_SETTINGS,
  ...COMMAND_SANDBOX_SETTINGS,
  ...PROVIDER_SETTINGS,
  ...WEBHOOK_SETTINGS,
  ...COST_SETTINGS,

  ...REAPER_SETTINGS,
  ...TELEMETRY_SETTINGS,
  ...CAPACITY_SETTINGS,
];
