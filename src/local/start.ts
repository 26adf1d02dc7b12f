import { FUNCTIONS } from '../functions/all.js';
import { startLocalRunner } from './runner.js';
import { stopTelemetry } from '../lib/telemetry/setup.js';
import { loadLocalSettings } from './settings.js';

/**
 * `npm start`: Azurite, the function host (HTTP, queue triggers, timers) and both workers in one
 * process tree, with no cloud account, Docker or Core Tools. Ctrl-C stops everything it started.
 */
async function main(): Promise<void> {
  const { values, source } = loadLocalSettings();
  // Azurite's own local.settings value means "the emulator on the default ports": let the runner start it.
  if (values.JobsStorage === 'UseDevelopmentStorage=true') delete values.JobsStorage;
  const runner = await startLocalRunner({ env: values, functions: FUNCTIONS });
  const c = runner.deps.config;
  console.log(
    [
      '',
      `Cloud Job Orchestrator is running (settings from ${source})`,
      `  API        ${runner.url}/api   (try: curl ${runner.url}/api/health)`,
      `  Azurite    blob ${c.local.azuriteBlobPort}, queue ${c.local.azuriteQueuePort}, table ${c.local.azuriteTablePort}, data in ${c.local.azuriteLocation}/`,
      `  Workers    ${runner.workers.map((w) => w.id).join(', ')}`,
      `  Transport  ${c.transport}; providers configured: ${runner.deps.providers.configured().join(', ')}`,
      '  Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping workers, triggers, HTTP and Azurite…`);
    // Workers get their grace period to finish or release jobs; past that (plus a margin), exit anyway.
    const deadlineMs = (c.worker.shutdownGraceSec + 15) * 1000;
    const timer = setTimeout(() => {
      console.error('Shutdown took too long; exiting.');
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    await runner.stop();
    await stopTelemetry().catch(() => undefined);
    console.log('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => void stop('SIGHUP'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`Failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
