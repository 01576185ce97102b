import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only add contention between HTTP servers under test.
    maxWorkers: 2,
    // Under CI=true a failed test runs once more before it fails the run: the suite starts real
    // servers, browsers and CA tools on two cores, and a timing assumption that breaks under load
    // must not hide the rest. A test that fails twice fails the run; each retry is printed, and a
    // retried test is a bug to fix (docs/development.md).
    retry: process.env.CI === 'true' || process.env.CI === '1' ? 1 : 0,
  },
});
