import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two workers on two cores: most tests wait on git, PGlite and loopback servers.
    maxWorkers: 2,
    // Reuse workers across files, so the migrated PGlite template and the demo repositories
    // (test/support/runtime.ts) are built once per worker rather than once per file.
    isolate: false,
    env: { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', LOG_LEVEL: 'silent' },
  },
});
