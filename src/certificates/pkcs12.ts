import * as pkijs from 'pkijs';
import { webcrypto } from 'node:crypto';
import { bytes } from './x509.ts';

pkijs.setEngine('node', new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto }));

const KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const CERT_BAG = '1.2.840.113549.1.12.10.1.3';
const ITERATIONS = 100_000;

/**
 * A PKCS#12 file holding one private key (PKCS#8, any algorithm) and its certificates (leaf
 * first): PBES2 with AES-256-CBC and PBKDF2-SHA-256, SHA-256 MAC, as OpenSSL 3 writes by default.
 */
export async function buildPkcs12(pkcs8: Uint8Array, certificates: Uint8Array[], password: string): Promise<Buffer> {
  const pwd = bytes(new TextEncoder().encode(password)).buffer;
  const keyBag = new pkijs.SafeBag({ bagId: KEY_BAG, bagValue: new pkijs.PKCS8ShroudedKeyBag({ parsedValue: pkijs.PrivateKeyInfo.fromBER(bytes(pkcs8)) }) });
  const certBags = certificates.map((der) => new pkijs.SafeBag({ bagId: CERT_BAG, bagValue: new pkijs.CertBag({ parsedValue: pkijs.Certificate.fromBER(bytes(der)) }) }));
  const pfx = new pkijs.PFX({
    parsedValue: {
      integrityMode: 0,
      authenticatedSafe: new pkijs.AuthenticatedSafe({
        parsedValue: {
          safeContents: [
            { privacyMode: 0, value: new pkijs.SafeContents({ safeBags: [keyBag] }) },
            { privacyMode: 1, value: new pkijs.SafeContents({ safeBags: certBags }) },
          ],
        },
      }),
    },
  });
  const enc = { password: pwd, contentEncryptionAlgorithm: { name: 'AES-CBC', length: 256 }, hmacHashAlgorithm: 'SHA-256', iterationCount: ITERATIONS };
  await (keyBag.bagValue as pkijs.PKCS8ShroudedKeyBag).makeInternalValues(enc as never);
  await pfx.parsedValue!.authenticatedSafe!.makeInternalValues({ safeContents: [{}, enc] } as never);
  await pfx.makeInternalValues({ password: pwd, iterations: ITERATIONS, pbkdf2HashAlgorithm: 'SHA-256', hmacHashAlgorithm: 'SHA-256' } as never);
  return Buffer.from(pfx.toSchema().toBER(false));
}

/** Reads a PKCS#12 (for importing a CA): the first key as PKCS#8 and every certificate, DER. */
export async function readPkcs12(p12: Uint8Array, password: string): Promise<{ pkcs8: Uint8Array | null; certificates: Uint8Array[] }> {
  const pwd = bytes(new TextEncoder().encode(password)).buffer;
  const pfx = pkijs.PFX.fromBER(bytes(p12));
  await pfx.parseInternalValues({ password: pwd, checkIntegrity: true } as never);
  const safe = pfx.parsedValue!.authenticatedSafe!;
  await safe.parseInternalValues({ safeContents: safe.safeContents.map(() => ({ password: pwd })) } as never);
  let pkcs8: Uint8Array | null = null;
  const certificates: Uint8Array[] = [];
  for (const content of safe.parsedValue.safeContents) {
    for (const bag of (content.value as pkijs.SafeContents).safeBags) {
      if (bag.bagId === KEY_BAG) {
        const shrouded = bag.bagValue as pkijs.PKCS8ShroudedKeyBag;
        await (shrouded as unknown as { parseInternalValues(p: unknown): Promise<void> }).parseInternalValues({ password: pwd });
        pkcs8 ??= new Uint8Array(shrouded.parsedValue!.toSchema().toBER(false));
      } else if (bag.bagId === '1.2.840.113549.1.12.10.1.1') {
        pkcs8 ??= new Uint8Array((bag.bagValue as pkijs.PrivateKeyInfo).toSchema().toBER(false));
      } else if (bag.bagId === CERT_BAG) {
        certificates.push(new Uint8Array(((bag.bagValue as pkijs.CertBag).parsedValue as pkijs.Certificate).toSchema().toBER(false)));
      }
    }
  }
  return { pkcs8, certificates };
}
