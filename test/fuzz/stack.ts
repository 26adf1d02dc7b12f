/**
 * The stack under fuzz, in its own process (as `npm start` runs it), so the fuzzer's request
 * generation never competes with the server for one event loop. Settings come as JSON in FUZZ_STACK_ENV;
 * prints `READY <url>` once serving and stops everything on SIGTERM, or when its stdin closes —
 * which is how it learns that the fuzzer died (even by kill -9) instead of living on as an orphan.
 */
import { FUNCTIONS } from '../../src/functions/all.js';
import { startLocalRunner } from '../../src/local/runner.js';

const env = JSON.parse(process.env.FUZZ_STACK_ENV ?? '{}') as Record<string, string>;
const runner = await startLocalRunner({ env, functions: FUNCTIONS, quiet: true });
process.stdout.write(`READY ${runner.url}\n`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void runner.stop().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
