import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Lets `npx tsx bench/providers/<name>.ts` print its table when the file is run on its own. */
export function runWhenMain(moduleUrl: string, bench: () => Promise<unknown[]>): void {
  if (process.argv[1] === undefined || fileURLToPath(moduleUrl) !== resolve(process.argv[1])) return;
  bench().then(
    (rows) => console.table(rows),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
