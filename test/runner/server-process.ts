/*
 * Countersign as a real process, for the crash test (test/runner/crash.test.ts):
 *   node --import tsx test/runner/server-process.ts
 * Configured entirely by the environment, as `countersign serve` is (DATABASE_URL, PORT=0,
 * COUNTERSIGN_JOB_LEASE_MS, COUNTERSIGN_SMTP_*, COUNTERSIGN_PWSH, ...). Prints one JSON line
 * {url, pid} once it listens. The test ends it with SIGKILL: no graceful path is needed.
 */
import { loadConfig } from '../../src/config.ts';
import { createServer } from '../../src/server.ts';

const config = loadConfig();
const server = await createServer(config);
const url = await server.app.listen({ port: config.port, host: '127.0.0.1' });
console.log(JSON.stringify({ url, pid: process.pid }));
