import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { renewalDue } from '../../src/service/tls-self.ts';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

/* HTTPS serving: a certificate from the own CA (COUNTERSIGN_TLS=self) or from files, and `countersign ca export`. */

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'countersign-tls-'));

function handshake(url: string, ca: string, servername = 'localhost'): Promise<{ authorized: boolean; error: string | null; cert: PeerCertificate }> {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const s = connect({ host: u.hostname, port: Number(u.port), ca, servername, rejectUnauthorized: false }, () => {
      const r = { authorized: s.authorized, error: s.authorizationError ? String(s.authorizationError) : null, cert: s.getPeerCertificate() };
      s.end();
      ok(r);
    });
    s.on('error', fail);
  });
}

function exportRoot(url: string, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'ca', 'export', ...args], { cwd: ROOT, env: { PATH: process.env.PATH, DATABASE_URL: url } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', fail);
    child.on('exit', (code) => ok({ code, stdout, stderr }));
  });
}

describe('COUNTERSIGN_TLS=self and countersign ca export', () => {
  let app: TestApp;
  let url: string;
  beforeAll(async () => {
    url = usePostgres() ? await testDatabaseUrl() : `sqlite:${join(dir, 'self.db')}`;
    app = await startTestApp({ databaseUrl: url, tls: { mode: 'self', names: ['localhost', 'countersign.example.test'] } });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    if (usePostgres()) await dropTestDatabase(url);
  });

  it('serves HTTPS with a certificate from its CA for HOST and COUNTERSIGN_TLS_NAMES, trusted through the exported root', async () => {
    expect(app.url).toMatch(/^https:/);
    const exported = await exportRoot(url);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    const r = await handshake(app.url, exported.stdout);
    expect(r.error).toBeNull();
    expect(r.authorized).toBe(true);
    expect(r.cert.subjectaltname).toContain('DNS:countersign.example.test');
    expect(r.cert.subjectaltname).toContain('IP Address:127.0.0.1');
    // A stranger's root does not vouch for it.
    const other = join(dir, 'other');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${other}.key`, '-out', `${other}.pem`, '-subj', '/CN=x', '-days', '1'],
      { stdio: 'pipe' },
    );
    expect((await handshake(app.url, readFileSync(`${other}.pem`, 'utf8'))).authorized).toBe(false);
  }, 60_000);

  it('--chain prints the issuing CA and the root; an unknown CA name fails', async () => {
    const chain = await exportRoot(url, ['--chain']);
    expect(chain.stdout.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const unknown = await exportRoot(url, ['--ca', 'Nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/No CA named 'Nope'/);
  }, 60_000);
});

describe('COUNTERSIGN_TLS_CERT / COUNTERSIGN_TLS_KEY', () => {
  it('serves the certificate of the files', async () => {
    const base = join(dir, 'files');
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
        `${base}.key`,
        '-out',
        `${base}.pem`,
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-days',
        '2',
      ],
      { stdio: 'pipe' },
    );
    const app = await startTestApp({ tls: { mode: 'files', certFile: `${base}.pem`, keyFile: `${base}.key` } });
    try {
      const r = await handshake(app.url, readFileSync(`${base}.pem`, 'utf8'));
      expect(r.authorized).toBe(true);
    } finally {
      await app.close();
    }
  }, 60_000);
});

describe('configuration', () => {
  it('reads the TLS and ACME variables, refusing contradictions', () => {
    expect(loadConfig({ COUNTERSIGN_TLS: 'self', COUNTERSIGN_TLS_NAMES: 'a.test, b.test' }).tls).toEqual({ mode: 'self', names: ['a.test', 'b.test'] });
    expect(loadConfig({ COUNTERSIGN_TLS_CERT: '/c', COUNTERSIGN_TLS_KEY: '/k' }).tls).toEqual({ mode: 'files', certFile: '/c', keyFile: '/k' });
    expect(loadConfig({}).tls).toBeUndefined();
    expect(() => loadConfig({ COUNTERSIGN_TLS: 'self', COUNTERSIGN_TLS_CERT: '/c' })).toThrow(/exclude each other/);
    expect(() => loadConfig({ COUNTERSIGN_TLS_CERT: '/c' })).toThrow(/go together/);
    expect(() => loadConfig({ COUNTERSIGN_TLS: 'yes' })).toThrow(/self or off/);
    const acme = loadConfig({ COUNTERSIGN_ACME_HTTP_PORT: '5002', COUNTERSIGN_ACME_RESOLVE: 'a.test=127.0.0.1, B.test=::1', COUNTERSIGN_ACME_DNS: '127.0.0.1:5053' }).acme;
    expect(acme).toEqual({ httpPort: 5002, resolve: { 'a.test': '127.0.0.1', 'b.test': '::1' }, dnsServer: '127.0.0.1:5053', validationTimeoutMs: 10_000 });
    expect(() => loadConfig({ COUNTERSIGN_ACME_RESOLVE: 'a.test=nothere' })).toThrow(/name=ip/);
    expect(() => loadConfig({ COUNTERSIGN_ACME_DNS: 'dns.example:53' })).toThrow(/ip\[:port\]/);
  });

  it('renews a self-issued certificate once two thirds of its lifetime have passed', () => {
    const c = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2026-01-31T00:00:00Z') };
    expect(renewalDue(c, new Date('2026-01-20T23:00:00Z'))).toBe(false);
    expect(renewalDue(c, new Date('2026-01-21T00:00:00Z'))).toBe(true);
  });
});
