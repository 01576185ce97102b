/*
 * Revocation benchmark (`npm run bench -- --only ocsp`): OCSP answers per second and their p99
 * over HTTP, against a static-file baseline served by the same HTTP server in the same run (a
 * fixed DER of the same size, no work behind it); and revocations per second with no approval
 * workflow (POST /Certificates/Revoke, one certificate each, SQLite). The ratio says how much
 * of the server's bare HTTP capacity an OCSP answer keeps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CertID, OCSPRequest, Request, TBSRequest } from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, Extension } from '@peculiar/asn1-x509';
import { createHash } from 'node:crypto';
import { subtle, x509 } from '../src/certificates/x509.ts';
import { createServer } from '../src/server.ts';
import { busyCores, cpuSnapshot } from './load.ts';
import { Samples, summarise, type LatencySummary } from './stats.ts';

export interface LineResult {
  perSecond: number;
  latencyMs: LatencySummary;
  errors: number;
}

export interface RevocationBenchResult {
  clients: number;
  durationMs: number;
  staticBaseline: LineResult;
  ocspPost: LineResult;
  ocspGet: LineResult;
  ocspNonce: LineResult;
  revocations: LineResult;
  ratios: { ocspPostOfStatic: number; ocspGetOfStatic: number; ocspNonceOfStatic: number };
  /** Cores other processes used during the measured windows (server and clients share this process). */
  otherLoadCores: number | null;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const PASSWORD = 'bench-admin-password';

async function csr(i: number): Promise<string> {
  const keys = (await subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const req = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=ocsp${i}.example.com`, keys, signingAlgorithm: ALG });
  return req.toString('pem');
}

/** An OCSP request for one serial of an issuer (SHA-1 CertID), optionally with a nonce. */
function ocspRequest(issuerDer: Uint8Array, serialHex: string, nonce: boolean): Buffer {
  const issuer = AsnConvert.parse(issuerDer, Certificate);
  const sha1 = (b: ArrayBuffer | Uint8Array) =>
    createHash('sha1')
      .update(Buffer.from(b as ArrayBuffer))
      .digest();
  const certId = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: '1.3.14.3.2.26', parameters: null }),
    issuerNameHash: new OctetString(sha1(AsnConvert.serialize(issuer.tbsCertificate.subject))),
    issuerKeyHash: new OctetString(sha1(issuer.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)),
    serialNumber: new Uint8Array(Buffer.from(serialHex, 'hex')).buffer,
  });
  const tbs = new TBSRequest({ requestList: [new Request({ reqCert: certId })] });
  if (nonce) {
    const value = AsnConvert.serialize(new OctetString(randomBytes(16)));
    tbs.requestExtensions = [new Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', critical: false, extnValue: new OctetString(value) })];
  }
  return Buffer.from(AsnConvert.serialize(new OCSPRequest({ tbsRequest: tbs })));
}

/** Rounds of one line as one result: rates averaged, latency samples pooled. */
function merge(list: (LineResult & { samples?: Float64Array })[]): LineResult {
  const all = new Float64Array(list.reduce((n, x) => n + (x.samples?.length ?? 0), 0));
  let o = 0;
  for (const x of list) {
    all.set(x.samples ?? new Float64Array(), o);
    o += x.samples?.length ?? 0;
  }
  return { perSecond: list.reduce((n, x) => n + x.perSecond, 0) / list.length, latencyMs: summarise(all), errors: list.reduce((n, x) => n + x.errors, 0) };
}

/** `clients` loops for `ms`, each calling `once` back to back; per-call latency kept. */
async function load(clients: number, ms: number, once: (client: number, i: number) => Promise<boolean>): Promise<LineResult & { samples: Float64Array }> {
  const samples = new Samples(2_000_000);
  let ok = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; performance.now() < end; i++) {
        const t0 = performance.now();
        const good = await once(c, i).catch(() => false);
        samples.push(performance.now() - t0);
        if (good) ok++;
        else errors++;
      }
    }),
  );
  const elapsed = performance.now() - start;
  return { perSecond: ok / (elapsed / 1000), latencyMs: summarise(samples.values()), errors, samples: Float64Array.from(samples.values()) };
}

export async function runRevocationBench(opts: { clients: number; durationMs: number; warmupMs: number }): Promise<RevocationBenchResult> {
  const dir = mkdtempSync(join(os.tmpdir(), 'countersign-bench-ocsp-'));
  const server = await createServer({
    port: 0,
    host: '127.0.0.1',
    databaseUrl: `sqlite:${join(dir, 'bench.db')}`,
    adminUser: 'admin',
    adminPassword: PASSWORD,
    reconcileIntervalMs: 60_000,
    authCacheTtlMs: 600_000,
    maxWaitMs: 86_400_000,
    logLevel: 'silent',
  });
  let staticDer = Buffer.alloc(0);
  // The baseline: the same server, a fixed DER answer with no work behind it.
  server.app.get('/bench/static.der', async (_req, reply) => reply.type('application/ocsp-response').send(staticDer));
  try {
    const url = await server.app.listen({ port: 0, host: '127.0.0.1' });
    const headers = {
      'content-type': 'application/json',
      'x-keyfactor-requested-with': 'APIClient',
      'x-certificateformat': 'PEM',
      authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`,
    };
    // 64 certificates to ask about.
    const serials: string[] = [];
    let caId = 0;
    let issuerDer = new Uint8Array();
    for (let i = 0; i < 64; i++) {
      const res = await fetch(`${url}/KeyfactorAPI/Enrollment/CSR`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ CSR: await csr(i), Template: 'Countersign', IncludeChain: true }),
      });
      const info = ((await res.json()) as { CertificateInformation: { SerialNumber: string; Certificates: string[] } }).CertificateInformation;
      serials.push(info.SerialNumber);
      if (i === 0) {
        issuerDer = new Uint8Array(Buffer.from(info.Certificates[1]!.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
        caId = server.certificates.listCas()[0]!.id;
      }
    }
    const ocspUrl = `${url}/pki/${caId}/ocsp`;
    const posts = serials.map((s) => ocspRequest(issuerDer, s, false));
    // Requests with a nonce, made before the clock runs (a nonce repeats only after 4 096 requests).
    const nonced = Array.from({ length: 4096 }, (_, i) => ocspRequest(issuerDer, serials[i % serials.length]!, true));
    const gets = posts.map((p) => `${ocspUrl}/${encodeURIComponent(p.toString('base64'))}`);
    staticDer = Buffer.from(
      await (await fetch(ocspUrl, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: new Uint8Array(posts[0]!) })).arrayBuffer(),
    );
    const ocspHeaders = { 'content-type': 'application/ocsp-request' };
    const read = async (res: Response) => {
      await res.arrayBuffer();
      return res.status === 200;
    };
    const lines = {
      staticBaseline: (_c: number, _i: number) => fetch(`${url}/bench/static.der`).then(read),
      ocspPost: (c: number, i: number) => fetch(ocspUrl, { method: 'POST', headers: ocspHeaders, body: new Uint8Array(posts[(c + i) % posts.length]!) }).then(read),
      ocspGet: (c: number, i: number) => fetch(gets[(c + i) % gets.length]!).then(read),
      ocspNonce: (c: number, i: number) => fetch(ocspUrl, { method: 'POST', headers: ocspHeaders, body: new Uint8Array(nonced[(c * 7919 + i) % nonced.length]!) }).then(read),
    };
    // Interleaved rounds: other load on the machine (and the JIT warming up) falls on every line alike.
    const entries = Object.entries(lines) as [keyof typeof lines, (c: number, i: number) => Promise<boolean>][];
    for (const [, once] of entries) await load(opts.clients, opts.warmupMs / entries.length, once);
    const machineBefore = cpuSnapshot();
    const ownBefore = process.cpuUsage();
    const rounds = 4;
    const parts = new Map<keyof typeof lines, LineResult[]>();
    for (let round = 0; round < rounds; round++)
      for (const [name, once] of entries) parts.set(name, [...(parts.get(name) ?? []), await load(opts.clients, opts.durationMs / rounds, once)]);
    const results = Object.fromEntries([...parts].map(([name, list]) => [name, merge(list)])) as Record<keyof typeof lines, LineResult>;

    // Revocations: certificates recorded directly (issuing them over HTTP would dominate the setup), revoked over HTTP.
    const pool: number[] = [];
    const store = server.services.store.certificates;
    const expected = Math.ceil((opts.durationMs / 1000) * 3000) + opts.clients * 10;
    for (let i = 0; i < expected; i++) {
      const serial = randomBytes(16).toString('hex').toUpperCase();
      const { certificate } = await store.recordIssued({
        requestId: null,
        thumbprint: serial.slice(0, 40),
        serialNumber: serial,
        issuerDn: 'CN=bench',
        issuedDn: `CN=r${i}`,
        issuedCn: `r${i}`,
        notBefore: new Date().toISOString(),
        notAfter: new Date(Date.now() + 86_400_000).toISOString(),
        importDate: new Date().toISOString(),
        templateId: null,
        caId,
        requesterId: null,
        requesterName: null,
        keyType: 'ECC',
        keySize: 256,
        der: new Uint8Array([0x30, 0x00]),
        metadata: {},
        sealedKey: null,
      });
      pool.push(certificate.id);
    }
    let next = 0;
    const revokeOnce = async () => {
      const id = pool[next++];
      if (id === undefined) return false;
      const res = await fetch(`${url}/KeyfactorAPI/Certificates/Revoke`, { method: 'POST', headers, body: JSON.stringify({ CertificateIds: [id], Reason: 4, Comment: 'bench' }) });
      return read(res);
    };
    const { samples: _s, ...revocations } = await load(opts.clients, opts.durationMs, revokeOnce);
    const r = results;
    const machine = busyCores(machineBefore, cpuSnapshot());
    const own = process.cpuUsage(ownBefore);
    const elapsedS = machineBefore ? (performance.now() - machineBefore.at) / 1000 : 0;
    const otherLoadCores = machine === null || elapsedS === 0 ? null : Math.max(0, machine - (own.user + own.system) / 1e6 / elapsedS);
    const of = (x: LineResult) => x.perSecond / r.staticBaseline.perSecond;
    return {
      clients: opts.clients,
      durationMs: opts.durationMs,
      ...r,
      revocations,
      ratios: { ocspPostOfStatic: of(r.ocspPost), ocspGetOfStatic: of(r.ocspGet), ocspNonceOfStatic: of(r.ocspNonce) },
      otherLoadCores,
    };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printRevocation(r: RevocationBenchResult): void {
  const row = (name: string, x: LineResult) =>
    console.log(`  ${name.padEnd(48)}${Math.round(x.perSecond).toString().padStart(9)}${x.latencyMs.p99.toFixed(2).padStart(10)}${x.errors ? `  (${x.errors} errors)` : ''}`);
  console.log('');
  console.log(`  ${'line'.padEnd(48)}${'per s'.padStart(9)}${'p99 ms'.padStart(10)}`);
  row('static DER, same server (baseline)', r.staticBaseline);
  row('OCSP POST, no nonce (cached answer)', r.ocspPost);
  row('OCSP GET, no nonce (cached answer)', r.ocspGet);
  row('OCSP POST with nonce (signed per request)', r.ocspNonce);
  row(`revocations, no workflow (${r.clients} clients)`, r.revocations);
  console.log(
    `  ratios to the baseline: POST ${r.ratios.ocspPostOfStatic.toFixed(3)}, GET ${r.ratios.ocspGetOfStatic.toFixed(3)}, with nonce ${r.ratios.ocspNonceOfStatic.toFixed(3)}`,
  );
  if (r.otherLoadCores !== null)
    console.log(`  other processes used ${r.otherLoadCores.toFixed(2)} cores during the OCSP lines${r.otherLoadCores > 0.25 ? ': figures understated, not comparable' : ''}`);
}
