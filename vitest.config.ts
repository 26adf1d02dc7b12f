import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites share one Azurite; files run in parallel on separate tables/queues.
    pool: 'forks',
    maxWorkers: 2,
  },
});
