/*
 * Certificate enrollment benchmark (`npm run bench -- --only enroll`): CSR enrollments per second
 * over HTTP with no workflow bound (issued at once by the embedded P-256 CA, recorded in SQLite),
 * against the same run's raw ECDSA P-256 signing rate of the crypto library (WebCrypto sign calls
 * with the same number of concurrent callers). The ratio says how much of the CA's signing
 * capacity an enrollment gets once parsing, policy, storage and HTTP are added.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { subtle, x509 } from '../src/certificates/x509.ts';
import { createServer } from '../src/server.ts';

export interface EnrollmentBenchResult {
  clients: number;
  durationMs: number;
  rawSignsPerSecond: number;
  enrollmentsPerSecond: number;
  ratio: number;
  errors: number;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export async function rawSigning(clients: number, durationMs: number): Promise<number> {
  const keys = (await subtle.generateKey(ALG, false, ['sign', 'verify'])) as CryptoKeyPair;
  const data = new Uint8Array(400).fill(7);
  let n = 0;
  const end = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < end) {
        await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, data);
        n++;
      }
    }),
  );
  return n / (durationMs / 1000);
}

async function csrs(count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const keys = (await subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=bench${i}.example.com`,
      keys,
      signingAlgorithm: ALG,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: `bench${i}.example.com` }])],
    });
    out.push(csr.toString('pem'));
  }
  return out;
}

export async function runEnrollmentBench(opts: { clients: number; durationMs: number; warmupMs: number }): Promise<EnrollmentBenchResult> {
  const dir = mkdtempSync(join(os.tmpdir(), 'countersign-bench-enroll-'));
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
  });
  try {
    const url = await server.app.listen({ port: 0, host: '127.0.0.1' });
    const pool = await csrs(200);
    const headers = {
      'content-type': 'application/json',
      'x-keyfactor-requested-with': 'APIClient',
      'x-certificateformat': 'PEM',
      authorization: `Basic ${Buffer.from('admin:bench-admin-password').toString('base64')}`,
    };
    let done = 0;
    let errors = 0;
    const load = async (ms: number) => {
      const end = Date.now() + ms;
      await Promise.all(
        Array.from({ length: opts.clients }, async (_, c) => {
          for (let i = c; Date.now() < end; i += opts.clients) {
            const res = await fetch(`${url}/KeyfactorAPI/Enrollment/CSR`, {
              method: 'POST',
              headers,
              body: JSON.stringify({ CSR: pool[i % pool.length], Template: 'Countersign', IncludeChain: true }),
            });
            await res.arrayBuffer();
            if (res.status === 200) done++;
            else errors++;
          }
        }),
      );
    };
    await load(opts.warmupMs);
    done = 0;
    errors = 0;
    await load(opts.durationMs);
    const enrollmentsPerSecond = done / (opts.durationMs / 1000);
    const rawSignsPerSecond = await rawSigning(opts.clients, opts.durationMs);
    return { clients: opts.clients, durationMs: opts.durationMs, rawSignsPerSecond, enrollmentsPerSecond, ratio: enrollmentsPerSecond / rawSignsPerSecond, errors };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printEnrollment(r: EnrollmentBenchResult): void {
  console.log('');
  console.log(`  ${'line'.padEnd(44)}${'per s'.padStart(10)}`);
  console.log(`  ${'raw ECDSA P-256 signing (WebCrypto)'.padEnd(44)}${Math.round(r.rawSignsPerSecond).toString().padStart(10)}`);
  console.log(`  ${`CSR enrollments over HTTP (${r.clients} clients)`.padEnd(44)}${Math.round(r.enrollmentsPerSecond).toString().padStart(10)}`);
  console.log(`  ratio enrollments / raw signing               ${r.ratio.toFixed(3)}${r.errors ? `  (${r.errors} errors)` : ''}`);
}
