import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tmp } from './openssl.ts';

/*
 * Real relying-party tools: openssl verify -crl_check, openssl crl and openssl ocsp. Run
 * asynchronously: the server under test may live in this very process, and it must keep
 * answering while openssl waits for it.
 */
const run = promisify(execFile);

export interface ToolResult {
  ok: boolean;
  out: string;
}

async function openssl(args: string[]): Promise<ToolResult> {
  try {
    const r = await run('openssl', args, { timeout: 30_000 });
    return { ok: true, out: `${r.stdout}${r.stderr}` };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    return { ok: false, out: `${x.stdout ?? ''}${x.stderr ?? ''}${x.stdout || x.stderr ? '' : x.message}` };
  }
}

const derToPem = (der: Uint8Array, label: string) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END ${label}-----\n`;

/** `openssl verify -crl_check`: the leaf checked against the CRL, the root trusted, the issuing CA untrusted. */
export async function verifyWithCrl(leafPem: string, chainPems: string[], crlDer: Uint8Array): Promise<ToolResult> {
  const dir = tmp();
  writeFileSync(join(dir, 'root.pem'), chainPems[chainPems.length - 1]!);
  writeFileSync(join(dir, 'int.pem'), chainPems.slice(0, -1).join(''));
  writeFileSync(join(dir, 'leaf.pem'), leafPem);
  writeFileSync(join(dir, 'crl.pem'), derToPem(crlDer, 'X509 CRL'));
  return openssl(['verify', '-crl_check', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'int.pem'), '-CRLfile', join(dir, 'crl.pem'), join(dir, 'leaf.pem')]);
}

/** `openssl crl -inform DER -text`, with the CRL's signature checked against its issuer. */
export async function crlText(crlDer: Uint8Array, issuerPem: string): Promise<ToolResult> {
  const dir = tmp();
  writeFileSync(join(dir, 'crl.der'), crlDer);
  writeFileSync(join(dir, 'issuer.pem'), issuerPem);
  return openssl(['crl', '-inform', 'DER', '-in', join(dir, 'crl.der'), '-noout', '-text', '-CAfile', join(dir, 'issuer.pem')]);
}

export interface OcspOptions {
  nonce?: boolean;
  /** Ask about this serial (hex) instead of a certificate. */
  serial?: string;
  /** Also keep the raw response. */
  respout?: boolean;
}

/**
 * `openssl ocsp -issuer … -cert … -url …`: the response is verified (signature, delegated
 * responder chaining to the trusted root, nonce) and the status printed ("…: good").
 */
export async function ocspCheck(
  url: string,
  issuerPem: string,
  rootPem: string,
  leafPem: string | null,
  o: OcspOptions = {},
): Promise<ToolResult & { status: string | null; response?: Buffer }> {
  const dir = tmp();
  writeFileSync(join(dir, 'issuer.pem'), issuerPem);
  writeFileSync(join(dir, 'root.pem'), rootPem);
  const args = ['ocsp', '-issuer', join(dir, 'issuer.pem'), '-CAfile', join(dir, 'root.pem'), '-verify_other', join(dir, 'issuer.pem'), '-url', url, '-resp_text'];
  if (leafPem) {
    writeFileSync(join(dir, 'leaf.pem'), leafPem);
    args.push('-cert', join(dir, 'leaf.pem'));
  } else args.push('-serial', `0x${o.serial}`);
  if (o.nonce === false) args.push('-no_nonce');
  if (o.respout) args.push('-respout', join(dir, 'resp.der'));
  const r = await openssl(args);
  const m = /^[^\n:]+: (good|revoked|unknown)\s*$/m.exec(r.out);
  return { ...r, status: m ? m[1]! : null, response: o.respout && r.ok ? readFileSync(join(dir, 'resp.der')) : undefined };
}

/** An OCSP request (DER) made by openssl, for sending by other means (the GET form). */
export async function ocspRequest(issuerPem: string, leafPem: string, nonce = false): Promise<Buffer> {
  const dir = tmp();
  writeFileSync(join(dir, 'issuer.pem'), issuerPem);
  writeFileSync(join(dir, 'leaf.pem'), leafPem);
  const args = ['ocsp', '-issuer', join(dir, 'issuer.pem'), '-cert', join(dir, 'leaf.pem'), '-reqout', join(dir, 'req.der')];
  if (!nonce) args.push('-no_nonce');
  const r = await openssl(args);
  if (!r.ok) throw new Error(r.out);
  return readFileSync(join(dir, 'req.der'));
}

/** `openssl ocsp -respin`: verifies a response fetched by other means and prints the status. */
export async function ocspVerifyResponse(response: Buffer, issuerPem: string, rootPem: string, leafPem: string): Promise<ToolResult & { status: string | null }> {
  const dir = tmp();
  writeFileSync(join(dir, 'resp.der'), response);
  writeFileSync(join(dir, 'issuer.pem'), issuerPem);
  writeFileSync(join(dir, 'root.pem'), rootPem);
  writeFileSync(join(dir, 'leaf.pem'), leafPem);
  const r = await openssl([
    'ocsp',
    '-respin',
    join(dir, 'resp.der'),
    '-issuer',
    join(dir, 'issuer.pem'),
    '-cert',
    join(dir, 'leaf.pem'),
    '-CAfile',
    join(dir, 'root.pem'),
    '-verify_other',
    join(dir, 'issuer.pem'),
    '-resp_text',
  ]);
  const m = /^[^\n:]+: (good|revoked|unknown)\s*$/m.exec(r.out);
  return { ...r, status: m ? m[1]! : null };
}

/** `openssl x509 -text` of a certificate, asynchronously. */
export async function certText(pem: string): Promise<string> {
  const dir = tmp();
  writeFileSync(join(dir, 'c.pem'), pem);
  return (await openssl(['x509', '-noout', '-text', '-in', join(dir, 'c.pem')])).out;
}
