import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './until.ts';

/*
 * Let's Encrypt's test ACME CA, the Debian `pebble` binary, started on free loopback ports with a
 * TLS certificate made by openssl for 127.0.0.1. Its own roots are read from its management
 * endpoint (/roots/0).
 */

export const PEBBLE = '/usr/bin/pebble';

export const pebbleAvailable = (): boolean => existsSync(PEBBLE);

/** Under CI a missing pebble fails the suite; locally the tests skip with this message. */
export function requirePebble(): boolean {
  if (pebbleAvailable()) return true;
  if (process.env.CI === 'true') throw new Error(`${PEBBLE} is missing: apt-get install pebble (.ci/run installs it).`);
  console.warn(`Skipping the ACME upstream tests: ${PEBBLE} is not installed (apt-get install pebble).`);
  return false;
}

export interface Pebble {
  directoryUrl: string;
  /** The PEM certificate of pebble's TLS listener: the CA bundle to trust for the directory. */
  tlsCertPem: string;
  /** Pebble's issuing root (PEM), from /roots/0. */
  rootPem: () => Promise<string>;
  /** Pebble's view of a certificate: "Valid" or "Revoked" (management endpoint). */
  statusOf: (serialHex: string) => Promise<{ Status: string; Reason?: number }>;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * @param alwaysValid PEBBLE_VA_ALWAYS_VALID: authorizations pass without validation (no DNS, no HTTP)
 * @param httpPort where pebble's validation authority sends http-01 requests
 */
export async function startPebble(opts: { alwaysValid: boolean; httpPort?: number }): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-pebble-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=pebble test listener',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'pipe' },
  );
  const [port, mgmt, tlsPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort: opts.httpPort ?? (await freePort()),
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const child: ChildProcess = spawn(PEBBLE, ['-config', join(dir, 'config.json')], {
    env: {
      ...process.env,
      PEBBLE_VA_ALWAYS_VALID: opts.alwaysValid ? '1' : '0',
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0',
      PEBBLE_AUTHZREUSE: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (d) => (log += d));
  child.stderr?.on('data', (d) => (log += d));
  const tlsCertPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const get = (url: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      https
        .get(url, { ca: tlsCertPem }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        })
        .on('error', reject);
    });
  const directoryUrl = `https://127.0.0.1:${port}/dir`;
  await waitFor(
    `pebble on ${directoryUrl}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`pebble exited: ${log}`);
      return (await get(directoryUrl).catch(() => ({ status: 0 }))).status === 200;
    },
    30_000,
  );
  let stopped = false;
  return {
    directoryUrl,
    tlsCertPem,
    rootPem: async () => (await get(`https://127.0.0.1:${mgmt}/roots/0`)).text,
    statusOf: async (serial) => JSON.parse((await get(`https://127.0.0.1:${mgmt}/cert-status-by-serial/${serial}`)).text),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
