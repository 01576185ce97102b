/*
 * ACME benchmark (`npm run bench -- --only acme`): complete ACME orders per second, client side
 * included: each of N acme-client clients (one account each) runs newOrder, the http-01
 * challenge (validated by the server against a loopback responder), finalize and certificate
 * download, over HTTPS with the server's self-issued certificate; no workflow bound, SQLite.
 * Compared with the same run's raw ECDSA P-256 signing rate (bench/enrollment.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { Agent } from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import * as acme from 'acme-client';
import { toPem } from '../src/certificates/x509.ts';
import { egressPolicy } from '../src/domain/egress.ts';
import { createServer } from '../src/server.ts';
import { rawSigning } from './enrollment.ts';

export interface AcmeBenchResult {
  clients: number;
  durationMs: number;
  rawSignsPerSecond: number;
  ordersPerSecond: number;
  ratio: number;
  errors: number;
}

export async function runAcmeBench(opts: { clients: number; durationMs: number; warmupMs: number }): Promise<AcmeBenchResult> {
  const dir = mkdtempSync(join(os.tmpdir(), 'countersign-bench-acme-'));
  const tokens = new Map<string, string>();
  const web = createHttpServer((req, res) => {
    const answer = tokens.get((req.url ?? '').split('/').pop() ?? '');
    res.writeHead(answer ? 200 : 404).end(answer ?? '');
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
  const server = await createServer({
    port: 0,
    host: '127.0.0.1',
    databaseUrl: `sqlite:${join(dir, 'bench.db')}`,
    adminUser: 'admin',
    adminPassword: 'bench-admin-password',
    reconcileIntervalMs: 60_000,
    authCacheTtlMs: 600_000,
    maxWaitMs: 86_400_000,
    logLevel: 'silent',
    tls: { mode: 'self', names: ['localhost'] },
    acme: { httpPort: (web.address() as AddressInfo).port, resolve: { 'bench.example.test': '127.0.0.1' }, dnsServer: null, validationTimeoutMs: 5000 },
    steps: { egress: egressPolicy('127.0.0.1', '') },
  });
  try {
    const url = await server.app.listen({ port: 0, host: '127.0.0.1' });
    const chain = server.certificates.chainOf(server.certificates.listCas()[0]!.id);
    acme.axios.defaults.httpsAgent = new Agent({ ca: toPem(chain[chain.length - 1]!), keepAlive: true });
    // Clients stay within one account's pending-order limit: one order in flight each.
    const clients = Math.min(opts.clients, 8);
    const accounts = await Promise.all(
      Array.from({ length: clients }, async () => new acme.Client({ directoryUrl: `${url}/ACME/directory`, accountKey: await acme.crypto.createPrivateEcdsaKey() })),
    );
    const [, csr] = await acme.crypto.createCsr({ altNames: ['bench.example.test'] }, await acme.crypto.createPrivateEcdsaKey());
    let done = 0;
    let errors = 0;
    const load = async (ms: number) => {
      const end = Date.now() + ms;
      await Promise.all(
        accounts.map(async (client) => {
          while (Date.now() < end) {
            try {
              await client.auto({
                csr,
                termsOfServiceAgreed: true,
                challengePriority: ['http-01'],
                skipChallengeVerification: true,
                challengeCreateFn: async (_a, c, keyAuthorization) => {
                  tokens.set(c.token, keyAuthorization);
                },
                challengeRemoveFn: async (_a, c) => {
                  tokens.delete(c.token);
                },
              });
              done++;
            } catch {
              errors++;
            }
          }
        }),
      );
    };
    await load(opts.warmupMs);
    done = 0;
    errors = 0;
    await load(opts.durationMs);
    const ordersPerSecond = done / (opts.durationMs / 1000);
    const rawSignsPerSecond = await rawSigning(clients, opts.durationMs);
    return { clients, durationMs: opts.durationMs, rawSignsPerSecond, ordersPerSecond, ratio: ordersPerSecond / rawSignsPerSecond, errors };
  } finally {
    await server.close();
    await new Promise<void>((r) => web.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printAcme(r: AcmeBenchResult): void {
  console.log('');
  console.log(`  ${'line'.padEnd(48)}${'per s'.padStart(10)}`);
  console.log(`  ${'raw ECDSA P-256 signing (WebCrypto)'.padEnd(48)}${Math.round(r.rawSignsPerSecond).toString().padStart(10)}`);
  console.log(`  ${`ACME orders end to end (${r.clients} acme-clients)`.padEnd(48)}${r.ordersPerSecond.toFixed(1).padStart(10)}`);
  console.log(`  ratio orders / raw signing                      ${r.ratio.toFixed(4)}${r.errors ? `  (${r.errors} errors)` : ''}`);
}
