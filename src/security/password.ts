import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify, type Algorithm } from '@node-rs/argon2';
import { isWeaker, type Argon2Parameters, type StoredHashParameters } from '../domain/security/password-policy.ts';

/*
 * Password hashing. New hashes are argon2id (memory-hard; @node-rs/argon2, a prebuilt Rust
 * binding that runs on libuv's thread pool) in the standard PHC text form:
 *
 *   $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt b64>$<hash b64>
 *
 * Defaults m = 19 MiB, t = 2, p = 1 (OWASP's argon2id baseline; ~40-60 ms here). The parameters
 * are stored with every hash and configurable (COUNTERSIGN_ARGON2_*), so they can be raised later:
 * a hash weaker than the configured parameters is remade at the next successful log-in
 * (BasicAuthenticator). Hashes written before argon2id, `scrypt$N$r$p$<salt>$<hash>`, keep
 * verifying and are remade the same way.
 */

export type { Argon2Parameters } from '../domain/security/password-policy.ts';

export const DEFAULT_ARGON2: Argon2Parameters = { memoryKiB: 19_456, timeCost: 2, parallelism: 1 };

/** Bounds for configured parameters and for those read back from storage (a corrupt row must not demand gigabytes). */
export const ARGON2_LIMITS = {
  memoryKiB: { min: 8_192, max: 1_048_576 },
  timeCost: { min: 1, max: 20 },
  parallelism: { min: 1, max: 16 },
} as const;

/** Algorithm.Argon2id: the package's enum is a `const enum`, which this build cannot import. */
const ARGON2ID_ALGORITHM = 2 as Algorithm;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

export async function hashPassword(password: string, params: Argon2Parameters = DEFAULT_ARGON2): Promise<string> {
  return argon2Hash(password.normalize('NFC'), {
    algorithm: ARGON2ID_ALGORITHM,
    memoryCost: params.memoryKiB,
    timeCost: params.timeCost,
    parallelism: params.parallelism,
    outputLen: KEY_BYTES,
    salt: randomBytes(SALT_BYTES),
  });
}

/** False for a wrong password and for a hash that cannot be read; never throws on bad input. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const pw = typeof password === 'string' ? password : '';
  const kind = hashParameters(stored);
  if (kind.algorithm === 'argon2id') {
    try {
      return await argon2Verify(stored, pw.normalize('NFC'));
    } catch {
      return false;
    }
  }
  if (kind.algorithm === 'scrypt') return verifyScrypt(pw, stored);
  return false;
}

/** Whether the stored hash should be remade with `wanted` (older algorithm or weaker parameters). */
export const needsRehash = (stored: string, wanted: Argon2Parameters): boolean => isWeaker(hashParameters(stored), wanted);

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const ARGON2ID = /^\$argon2id\$v=19\$m=(\d{1,8}),t=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]{11,64})\$([A-Za-z0-9+/]{22,172})$/;

/** The algorithm and parameters of a stored hash, checked against the bounds; 'unknown' when unreadable. */
export function hashParameters(stored: string): StoredHashParameters {
  if (typeof stored !== 'string') return { algorithm: 'unknown' };
  const m = ARGON2ID.exec(stored);
  if (m) {
    const params = { memoryKiB: Number(m[1]), timeCost: Number(m[2]), parallelism: Number(m[3]) };
    const L = ARGON2_LIMITS;
    const within = (v: number, b: { max: number }) => v >= 1 && v <= b.max;
    // argon2 itself needs m >= 8 * p; older, cheaper hashes below our configurable minimum still verify.
    if (!within(params.memoryKiB, L.memoryKiB) || !within(params.timeCost, L.timeCost) || !within(params.parallelism, L.parallelism) || params.memoryKiB < 8 * params.parallelism)
      return { algorithm: 'unknown' };
    return { algorithm: 'argon2id', params };
  }
  return scryptParts(stored) ? { algorithm: 'scrypt' } : { algorithm: 'unknown' };
}

// scrypt (hashes stored before argon2id) -----------------------------------------------------------

/** Bounds for scrypt parameters read back from storage. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;
const isPow2 = (n: number): boolean => n > 1 && (n & (n - 1)) === 0;

function scryptParts(stored: string): { n: number; r: number; p: number; salt: Buffer; expected: Buffer } | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [n, r, p] = parts.slice(1, 4).map((x) => (/^\d{1,8}$/.test(x!) ? Number(x) : NaN)) as [number, number, number];
  if (!isPow2(n) || n > MAX_N || !(r >= 1 && r <= MAX_R) || !(p >= 1 && p <= MAX_P)) return null;
  if (!B64.test(parts[4]!) || !B64.test(parts[5]!)) return null;
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  if (salt.length < 8 || expected.length < 16 || expected.length > 128) return null;
  return { n, r, p, salt, expected };
}

function deriveScrypt(password: string, salt: Buffer, keyLen: number, opts: ScryptOptions): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; allow twice that so Node's default 32 MiB cap does not bite.
  const maxmem = 256 * (opts.N ?? 1) * (opts.r ?? 1) + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLen, { ...opts, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

async function verifyScrypt(password: string, stored: string): Promise<boolean> {
  const parts = scryptParts(stored);
  if (!parts) return false;
  let actual: Buffer;
  try {
    actual = await deriveScrypt(password, parts.salt, parts.expected.length, { N: parts.n, r: parts.r, p: parts.p });
  } catch {
    return false;
  }
  return timingSafeEqual(actual, parts.expected);
}

/** A scrypt hash in the stored form used before argon2id (tests, and migrations of old data). */
export async function hashPasswordScrypt(password: string, n = 2 ** 15): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await deriveScrypt(password, salt, KEY_BYTES, { N: n, r: 8, p: 1 });
  return `scrypt$${n}$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
}
