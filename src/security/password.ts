import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/*
 * Password hashing with scrypt (node:crypto, no dependency). Stored text form:
 *
 *   scrypt$N$r$p$<salt base64>$<hash base64>
 *
 * N = 2^15, r = 8, p = 1 costs about 50-100 ms and 32 MiB per hash on a current server, which
 * is what slows down guessing. The parameters are stored with every hash, so they can be raised
 * later without invalidating existing hashes.
 */

const N = 2 ** 15;
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** Bounds for parameters read back from storage, so a corrupt row cannot demand gigabytes. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

function derive(password: string, salt: Buffer, keyLen: number, opts: ScryptOptions): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; allow twice that so Node's default 32 MiB cap does not bite.
  const maxmem = 256 * (opts.N ?? N) * (opts.r ?? R) + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLen, { ...opts, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const isPow2 = (n: number): boolean => n > 1 && (n & (n - 1)) === 0;

/** False for a wrong password and for a hash that cannot be read; never throws on bad input. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = typeof stored === 'string' ? stored.split('$') : [];
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map((x) => (/^\d{1,8}$/.test(x!) ? Number(x) : NaN)) as [number, number, number];
  if (!isPow2(n) || n > MAX_N || !(r >= 1 && r <= MAX_R) || !(p >= 1 && p <= MAX_P)) return false;
  if (!B64.test(parts[4]!) || !B64.test(parts[5]!)) return false;
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  if (salt.length < 8 || expected.length < 16 || expected.length > 128) return false;
  let actual: Buffer;
  try {
    actual = await derive(typeof password === 'string' ? password : '', salt, expected.length, { N: n, r, p });
  } catch {
    return false;
  }
  return timingSafeEqual(actual, expected);
}
