import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { toPem } from '../../src/certificates/x509.ts';
import type { Config } from '../../src/config.ts';
import { makeCaller, startTestApp, type TestApp } from '../support/server.ts';

/** A port free right now (the OS picks; released at once for the child to bind). */
export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface AcmeTestApp extends TestApp {
  /** The root CA certificate (PEM) clients must trust. */
  rootPem: string;
  directory: string;
}

/** Countersign over HTTPS with a self-issued certificate, validation pointed at loopback. */
export async function startAcmeApp(acme: Partial<NonNullable<Config['acme']>> = {}, overrides: Partial<Config> = {}): Promise<AcmeTestApp> {
  const app = await startTestApp({
    tls: { mode: 'self', names: ['localhost'] },
    acme: { httpPort: 80, resolve: {}, dnsServer: null, validationTimeoutMs: 5000, ...acme },
    ...overrides,
  });
  const chain = app.server.certificates.chainOf(app.server.certificates.listCas()[0]!.id);
  const rootPem = toPem(chain[chain.length - 1]!);
  return { ...app, call: makeCaller(app.url, app.adminAuth, trustingFetch(rootPem)), rootPem, directory: `${app.url}/ACME/directory` };
}

/** Answers http-01 challenges (token -> key authorization) on a loopback port. */
export async function challengeServer(
  port = 0,
): Promise<{ port: number; tokens: Map<string, string>; redirects: Map<string, string>; close: () => Promise<void>; server: HttpServer }> {
  const tokens = new Map<string, string>();
  /** token -> Location: answered with a 302 instead. */
  const redirects = new Map<string, string>();
  const server = createHttpServer((req, res) => {
    const token = /^\/\.well-known\/acme-challenge\/([^/?]+)$/.exec(req.url ?? '')?.[1];
    if (token && redirects.has(token)) {
      res.writeHead(302, { location: redirects.get(token)! }).end();
      return;
    }
    const answer = token ? tokens.get(token) : undefined;
    if (answer === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, tokens, redirects, server, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * A tiny authoritative DNS server over UDP: TXT answers from a map (name -> values), NXDOMAIN
 * otherwise. Enough for dns-01 (RFC 1035 message format, one question).
 */
export async function txtServer(dir?: string): Promise<{ address: string; records: Map<string, string[]>; close: () => Promise<void> }> {
  const records = new Map<string, string[]>();
  // Records a client's hook script wrote: one file per name (lego's exec provider, below).
  const fromDir = (name: string): string[] => {
    if (!dir || !existsSync(join(dir, name))) return [];
    return [readFileSync(join(dir, name), 'utf8').trim()];
  };
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    let off = 12;
    const labels: string[] = [];
    while (off < msg.length && msg[off]! > 0) {
      const len = msg[off]!;
      labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii'));
      off += len + 1;
    }
    off += 1;
    const qtype = msg.readUInt16BE(off);
    const question = msg.subarray(12, off + 4);
    const name = labels.join('.').toLowerCase();
    const values = qtype === 16 ? (records.get(name) ?? fromDir(name)) : [];
    const answers = values.map((v) => {
      const txt = Buffer.from(v, 'utf8');
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(16, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(0, 6);
      rr.writeUInt16BE(txt.length + 1, 10);
      return Buffer.concat([rr, Buffer.from([txt.length]), txt]);
    });
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    const rcode = records.has(name) || values.length ? 0 : 3;
    header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | rcode, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    sock.send(Buffer.concat([header, question, ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { address: `127.0.0.1:${sock.address().port}`, records, close: () => new Promise((r) => sock.close(() => r())) };
}

export interface Run {
  code: number | null;
  output: string;
}

/** Runs a client binary to its end, output (stdout and stderr) collected. */
export function run(cmd: string, args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, output: String(e) });
    });
  });
}

/** Whether a client binary is installed; under CI a missing one fails the test instead of skipping it. */
export function tool(path: string): boolean {
  if (existsSync(path)) return true;
  if (process.env.CI === 'true') throw new Error(`${path} is required under CI (apt-get install ${path.split('/').pop()})`);
  console.warn(`${path} not installed: skipping its tests (apt-get install ${path.split('/').pop()})`);
  return false;
}

/** A minimal fetch over node:https that trusts `ca` (global fetch trusts only the system's roots). */
export function trustingFetch(ca: string): typeof fetch {
  return (async (input: string | URL, init: RequestInit = {}) => {
    const url = new URL(String(input));
    return new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(url, { method: init.method ?? 'GET', headers: init.headers as Record<string, string>, ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
          const status = res.statusCode ?? 0;
          resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers }));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(typeof init.body === 'string' ? init.body : undefined);
    });
  }) as typeof fetch;
}
