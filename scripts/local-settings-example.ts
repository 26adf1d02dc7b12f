/**
 * Regenerates local.settings.example.json from the settings catalogue:
 * `npx tsx scripts/local-settings-example.ts > local.settings.example.json`.
 * Provider settings are left out (a provider is configured by setting them); identity-based
 * connection settings are blank locally, where connection strings are used.
 */
import { ALL_SETTINGS } from '../src/lib/settings-catalog.js';

const values: Record<string, string> = {
  FUNCTIONS_WORKER_RUNTIME: 'node',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};
for (const s of ALL_SETTINGS) {
  if (s.scope.every((x) => x === 'provider')) continue;
  values[s.name] = s.name.includes('__') ? '' : (s.default ?? '');
}
values.JobsStorage = 'UseDevelopmentStorage=true';
// Local runs are quick: 5 % of the estimated runtime.
values.SIMULATION_TIME_SCALE = '0.05';
console.log(JSON.stringify({ IsEncrypted: false, Values: values }, null, 2));
