/*
 * One Countersign node as a real process, for the multi-node tests:
 *   node --import tsx test/multinode/node-process.ts
 * Environment as for `countersign serve` (DATABASE_URL, COUNTERSIGN_ADMIN_*, PORT=0 for any port,
 * COUNTERSIGN_JOB_LEASE_MS short so a killed node's jobs are taken over quickly), plus test-only:
 *   COUNTERSIGN_TEST_STEP=1        registers the automatic step type TestSleep (waits, then continues)
 * Prints one JSON line {url, pid, owner} once it listens; SIGTERM closes it gracefully.
 */
import { loadConfig } from '../../src/config.ts';
import { createServer } from '../../src/server.ts';
import { param, type StepType } from '../../src/domain/step-type.ts';
import { builtInStepTypes } from '../../src/steps/index.ts';

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
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new Error('aborted'));
      });
    });
    return { variables: { RanBy: process.pid, Attempt: attempt } };
  },
};

if (process.env.COUNTERSIGN_TEST_STEP === '1') builtInStepTypes.push(testSleepStep);

const config = loadConfig();
const server = await createServer(config);
const url = await server.app.listen({ port: config.port, host: '127.0.0.1' });
console.log(JSON.stringify({ url, pid: process.pid, owner: server.runner.owner }));

// Graceful: stop taking requests, let the jobs in flight finish, close the pool.
process.on('SIGTERM', () => {
  server.close().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
});
