import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'connectors/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The audit-log personal-data scan, after every test (test/helpers/audit-pii.ts).
    setupFiles: ['test/setup/audit-pii.ts'],
    // PostgreSQL runs (OUBLI_TEST_DATABASE_URL): a migrated template database for every test file.
    globalSetup: ['test/global-setup.ts'],
  },
});
