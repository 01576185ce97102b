// @peculiar/x509 resolves its ASN.1 parsers through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

/*
 * The one place that configures the X.509 library: Node's WebCrypto does every key operation.
 * Import x509 from here, never from '@peculiar/x509' directly, so the provider is always set.
 */
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
export const subtle = webcrypto.subtle;

export type PemOrDer = string | Uint8Array;

/** Lower-case hex without separators (thumbprints, serial numbers). */
export const hex = (b: ArrayBuffer | Uint8Array): string => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex');

/** SHA-1 thumbprint in Keyfactor's form: upper-case hex. */
export async function thumbprintOf(der: ArrayBuffer | Uint8Array): Promise<string> {
  return hex(await subtle.digest('SHA-1', der instanceof Uint8Array ? der : new Uint8Array(der))).toUpperCase();
}

export const toPem = (der: ArrayBuffer | Uint8Array, label = 'CERTIFICATE'): string => {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
};

/** Every PEM block of one label in a text, as DER. */
export function pemBlocks(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

/** A copy backed by a plain ArrayBuffer (what the ASN.1 and WebCrypto typings ask for). */
export const bytes = (b: Uint8Array | ArrayBuffer): Uint8Array<ArrayBuffer> => new Uint8Array(b instanceof Uint8Array ? b : new Uint8Array(b));
