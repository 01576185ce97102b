import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The key is missing or wrong for this store; the server must not start. */
export class KeyProtectionError extends Error {}

const VERSION = 'v1';

/**
 * Private keys at rest: AES-256-GCM under one key-encryption key from configuration. The label
 * (e.g. "ca:1", "request:42") is authenticated data, so a sealed value copied to another row does
 * not open there.
 */
export class KeyProtector {
  private readonly key: Buffer;
  constructor(key: Buffer) {
    if (key.length !== 32) throw new KeyProtectionError('The CA key-encryption key must be 32 bytes (base64 or hex of 32 random bytes).');
    this.key = Buffer.from(key);
  }

  seal(plain: Uint8Array, label: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(label));
    const body = Buffer.concat([c.update(plain), c.final()]);
    return `${VERSION}:${Buffer.concat([iv, body, c.getAuthTag()]).toString('base64')}`;
  }

  open(sealed: string, label: string): Buffer {
    const [version, b64] = sealed.split(':');
    if (version !== VERSION || !b64) throw new KeyProtectionError(`A sealed key (${label}) has an unknown format.`);
    const raw = Buffer.from(b64, 'base64');
    if (raw.length < 29) throw new KeyProtectionError(`A sealed key (${label}) is truncated.`);
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(label));
    d.setAuthTag(raw.subarray(raw.length - 16));
    try {
      return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]);
    } catch {
      throw new KeyProtectionError(`The configured CA key-encryption key does not open ${label}: it is not the key this store's CA keys were sealed with.`);
    }
  }
}

/** Accepts 32 bytes as base64 (standard or url-safe) or 64 hex digits. */
export function parseKeyText(text: string, source: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== 32) throw new KeyProtectionError(`${source} must hold 32 random bytes as base64 or 64 hex digits (e.g. \`openssl rand -base64 32\`).`);
  return key;
}

export interface KeySource {
  /** COUNTERSIGN_CA_KEY */
  key?: string;
  /** COUNTERSIGN_CA_KEY_FILE */
  keyFile?: string;
  /** Where a generated key lives when neither is configured (beside the data). */
  defaultFile: string;
}

/**
 * The key-encryption key: configured (environment or file), else the generated default file.
 * A key is generated only for a store that holds no sealed keys yet; for one that does, a missing
 * key stops the server with a message saying what to configure.
 */
export function resolveKeyProtector(src: KeySource, storeHasKeys: boolean, log: (msg: string) => void): KeyProtector {
  if (src.key) return new KeyProtector(parseKeyText(src.key, 'COUNTERSIGN_CA_KEY'));
  const file = src.keyFile ?? src.defaultFile;
  if (existsSync(file)) return new KeyProtector(parseKeyText(readFileSync(file, 'utf8'), `The CA key file ${file}`));
  if (src.keyFile) throw new KeyProtectionError(`COUNTERSIGN_CA_KEY_FILE names ${file}, which does not exist.`);
  if (storeHasKeys)
    throw new KeyProtectionError(
      `This store holds CA private keys, but no key-encryption key is configured: set COUNTERSIGN_CA_KEY or COUNTERSIGN_CA_KEY_FILE to the key they were sealed with (expected by default at ${file}).`,
    );
  mkdirSync(dirname(file), { recursive: true });
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    log(`Generated the CA key-encryption key in ${file} (mode 600). Back it up: without it the CA keys in the store cannot be used.`);
  } catch (e) {
    // Another process on this machine generated it at the same moment: use theirs.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    waitForContent(file);
  }
  return new KeyProtector(parseKeyText(readFileSync(file, 'utf8'), file));
}

/** A file another process has just created may still be empty for a moment. */
function waitForContent(file: string): void {
  const end = Date.now() + 2000;
  while (readFileSync(file, 'utf8').trim() === '' && Date.now() < end) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
}
