import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { Resolver } from 'node:dns/promises';
import http from 'node:http';
import { checkAddress, type EgressPolicy } from '../../domain/egress.ts';
import { problem } from '../../domain/acme/problems.ts';
import type { AcmeIdentifier, Problem } from '../../domain/acme/types.ts';

/**
 * Challenge validation (RFC 8555 §8.3, §8.4): the only place the ACME server reaches out. http-01
 * connects to an address the egress policy allows (checked after resolution, and the checked
 * address is the one connected to), follows redirects only on the same host and port, and reads
 * at most a few kilobytes; dns-01 asks the configured resolver for TXT records.
 */
export interface ValidationSettings {
  /** Port http-01 connects to (COUNTERSIGN_ACME_HTTP_PORT; 80 in production). */
  httpPort: number;
  /** Name -> address overrides (COUNTERSIGN_ACME_RESOLVE), as pebble's -dnsserver does for tests. */
  resolve: Record<string, string>;
  /** `host:port` of the DNS server for dns-01 (COUNTERSIGN_ACME_DNS); null: the system's. */
  dnsServer: string | null;
  egress: EgressPolicy;
  timeoutMs: number;
}

export type ValidationResult = { ok: true; record: Record<string, string> } | { ok: false; problem: Problem; record: Record<string, string> };

const MAX_BODY = 8192;
const MAX_REDIRECTS = 3;

async function addressOf(s: ValidationSettings, identifier: AcmeIdentifier): Promise<{ address: string } | { problem: Problem }> {
  if (identifier.type === 'ip') {
    const d = checkAddress(s.egress, identifier.value);
    return d.ok ? { address: identifier.value } : { problem: problem('connection', `Validation may not connect to ${identifier.value}: it ${d.reason} (egress policy).`) };
  }
  const name = identifier.value;
  const override = s.resolve[name];
  let candidates: string[];
  if (override) candidates = [override];
  else {
    try {
      candidates = (await lookup(name, { all: true })).map((a) => a.address);
    } catch {
      return { problem: problem('dns', `${name} could not be resolved.`) };
    }
  }
  for (const a of candidates) if (checkAddress(s.egress, a, name).ok) return { address: a };
  const d = candidates[0] ? checkAddress(s.egress, candidates[0], name) : null;
  return { problem: problem('connection', `Validation may not connect to ${name}: ${d && !d.ok ? `it ${d.reason}` : 'no address'} (egress policy).`) };
}

function get(address: string, port: number, hostHeader: string, path: string, timeoutMs: number): Promise<{ status: number; location: string | null; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: address, port, path, method: 'GET', headers: { host: hostHeader, 'user-agent': 'Countersign-ACME-validation' }, agent: false, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) {
            res.destroy();
            reject(new Error(`the answer is longer than ${MAX_BODY} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, location: typeof res.headers.location === 'string' ? res.headers.location : null, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', (e) => reject(e));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in time')));
    req.on('error', (e) => reject(e));
    req.end();
  });
}

export async function validateHttp01(s: ValidationSettings, identifier: AcmeIdentifier, token: string, keyAuthorization: string): Promise<ValidationResult> {
  const host = identifier.type === 'ip' && identifier.value.includes(':') ? `[${identifier.value}]` : identifier.value;
  const hostHeader = s.httpPort === 80 ? host : `${host}:${s.httpPort}`;
  let path = `/.well-known/acme-challenge/${token}`;
  const record: Record<string, string> = { url: `http://${hostHeader}${path}` };
  const target = await addressOf(s, identifier);
  if ('problem' in target) return { ok: false, problem: target.problem, record };
  record.address = target.address;
  for (let hop = 0; ; hop++) {
    let res: Awaited<ReturnType<typeof get>>;
    try {
      res = await get(target.address, s.httpPort, hostHeader, path, s.timeoutMs);
    } catch (e) {
      return { ok: false, problem: problem('connection', `Fetching ${record.url} failed: ${(e as Error).message}.`), record };
    }
    if (res.status >= 300 && res.status < 400 && res.location) {
      // Only same-host, same-port redirects: another host (or an https upgrade to a port we did not check) is refused.
      let next: URL;
      try {
        next = new URL(res.location, `http://${hostHeader}${path}`);
      } catch {
        return { ok: false, problem: problem('connection', 'The challenge answer redirected to an invalid URL.'), record };
      }
      if (next.protocol !== 'http:' || next.host.toLowerCase() !== hostHeader.toLowerCase() || hop >= MAX_REDIRECTS)
        return {
          ok: false,
          problem: problem(
            'connection',
            `The challenge answer redirected to ${next.protocol}//${next.host}; only redirects on the same host and port are followed (at most ${MAX_REDIRECTS}).`,
          ),
          record,
        };
      path = next.pathname + next.search;
      continue;
    }
    if (res.status !== 200) return { ok: false, problem: problem('unauthorized', `${record.url} answered HTTP ${res.status}, not 200.`), record };
    if (res.body.trim() !== keyAuthorization) return { ok: false, problem: problem('incorrectResponse', `${record.url} did not answer the expected key authorization.`), record };
    return { ok: true, record };
  }
}

export const dns01Digest = (keyAuthorization: string): string => createHash('sha256').update(keyAuthorization).digest('base64url');

export async function validateDns01(s: ValidationSettings, identifier: AcmeIdentifier, keyAuthorization: string): Promise<ValidationResult> {
  const base = identifier.value.replace(/^\*\./, '');
  const name = `_acme-challenge.${base}`;
  const record: Record<string, string> = { name, resolver: s.dnsServer ?? 'system' };
  const resolver = new Resolver({ timeout: s.timeoutMs, tries: 2 });
  if (s.dnsServer) resolver.setServers([s.dnsServer]);
  let records: string[][];
  try {
    records = await resolver.resolveTxt(name);
  } catch (e) {
    return { ok: false, problem: problem('dns', `No TXT record at ${name} (${(e as NodeJS.ErrnoException).code ?? 'lookup failed'}).`), record };
  }
  const want = dns01Digest(keyAuthorization);
  if (records.some((r) => r.join('') === want)) return { ok: true, record };
  return { ok: false, problem: problem('incorrectResponse', `The TXT records at ${name} do not hold the expected digest.`), record };
}
