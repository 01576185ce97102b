/*
 * One Countersign node as a real process, for the multi-node tests:
 *   node --import tsx test/multinode/node-process.ts
 * Environment as for `countersign serve` (DATABASE_URL, COUNTERSIGN_ADMIN_*, PORT=0 for any port),
 * plus test-only switches:
 *   COUNTERSIGN_TEST_STEP=1        registers the automatic step type TestSleep (waits, then continues)
 *   COUNTERSIGN_TEST_LEASE_MS=n    runs the job runner with an n ms lease (default 30 s), so a
 *                                  killed node's jobs are taken over within a test's patience
 * Prints one JSON line {url, pid, owner} once it listens; SIGTERM closes it gracefully.
 */
import { loadConfig } from '../../src/config.ts';
import { JobRunner } from '../../src/runner/job-runner.ts';
import { createServer } from '../../src/server.ts';
import { param, type StepType } from '../../src/steps/plugin.ts';
import { builtInStepTypes } from '../../src/steps/index.ts';
import type { Store } from '../../src/store/store.ts';

const testSleepStep: StepType = {
  extensionName: 'TestSleep',
  displayName: 'Test sleep',
  description: 'Test only: waits Milliseconds, then continues, recording which node ran it.',
  outputs: ['continue'],
  workflowTypes: 'all',
  parameters: { Milliseconds: param('Milliseconds', 'integer', { default: 500 }) },
  signals: {},
  enter: () => ({ kind: 'run' }),
  async run({ config, signal, attempt }) {
    const ms = typeof config.Milliseconds === 'number' ? config.Milliseconds : 500;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => (clearTimeout(timer), reject(new Error('aborted'))));
    });
    return { variables: { RanBy: process.pid, Attempt: attempt } };
  },
};

if (process.env.COUNTERSIGN_TEST_STEP === '1') builtInStepTypes.push(testSleepStep);

const config = loadConfig();
const server = await createServer(config, () => {});
const leaseMs = Number(process.env.COUNTERSIGN_TEST_LEASE_MS ?? 0);
let runner = server.runner;
if (leaseMs > 0) {
  // The server's runner has the production lease; swap in one with a short lease, wired the same way.
  await server.runner.stop();
  runner = new JobRunner(server.services.store, server.workflow, server.services.registry, {}, { leaseMs, stepTimeoutMs: Math.floor(leaseMs * 0.8), pollMs: 200 });
  server.workflow.effectSink = (effects) => {
    if (effects.length) runner.wake();
  };
  const store = server.services.store as Store & { onJobsQueued?: (l: () => void) => () => void };
  store.onJobsQueued?.(() => runner.wake());
  runner.start();
}
const url = await server.app.listen({ port: config.port, host: '127.0.0.1' });
console.log(JSON.stringify({ url, pid: process.pid, owner: runner.owner }));

// Graceful: stop taking requests, let the jobs in flight finish (and their leases go), then close.
process.on('SIGTERM', () => {
  server.app
    .close()
    .then(() => runner.stop())
    .then(() => server.close())
    .then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
});
