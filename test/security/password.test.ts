import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashParameters, hashPassword, hashPasswordScrypt, needsRehash, verifyPassword } from '../../src/security/password.ts';

const CHEAP = { memoryKiB: 8192, timeCost: 1, parallelism: 1 };

describe('password hashing', () => {
  it('stores argon2id in PHC form with the parameters, and verifies', async () => {
    const h = await hashPassword('correct horse battery');
    expect(h).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await verifyPassword('correct horse battery', h)).toBe(true);
    expect(await verifyPassword('correct horse batterY', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
    expect(hashParameters(h)).toEqual({ algorithm: 'argon2id', params: { memoryKiB: 19456, timeCost: 2, parallelism: 1 } });
  });

  it('uses the configured parameters', async () => {
    const h = await hashPassword('pw-12345678', { memoryKiB: 12_288, timeCost: 3, parallelism: 2 });
    expect(h).toMatch(/^\$argon2id\$v=19\$m=12288,t=3,p=2\$/);
    expect(await verifyPassword('pw-12345678', h)).toBe(true);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashPassword('same', CHEAP), hashPassword('same', CHEAP)]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('normalises Unicode so composed and decomposed forms match', async () => {
    const h = await hashPassword('caf\u00e9-pass', CHEAP);
    expect(await verifyPassword('cafe\u0301-pass', h)).toBe(true);
    const s = await hashPasswordScrypt('caf\u00e9-pass', 1024);
    expect(await verifyPassword('cafe\u0301-pass', s)).toBe(true);
  });

  it('answers false, never throws, for unreadable or hostile stored hashes', async () => {
    const h = await hashPasswordScrypt('pw-12345678', 1024);
    const parts = h.split('$');
    const a = await hashPassword('pw-12345678', CHEAP);
    const bad = [
      '',
      'plain',
      'bcrypt$x',
      parts.slice(0, 5).join('$'),
      ['scrypt', '1000', ...parts.slice(2)].join('$'), // N not a power of two
      ['scrypt', String(2 ** 24), ...parts.slice(2)].join('$'), // N far too large
      ['scrypt', parts[1], '999', ...parts.slice(3)].join('$'),
      [...parts.slice(0, 4), '!!!', parts[5]].join('$'),
      [...parts.slice(0, 5), 'AAAA'].join('$'), // hash too short
      a.replace('m=8192', 'm=99999999'), // would demand ~100 GB
      a.replace('t=1', 't=999'),
      a.replace('p=1', 'p=200'),
      a.replace('$argon2id$', '$argon2i$'),
      a.replace('$argon2id$', '$argon2d$'),
      a.slice(0, -30), // hash too short
      `${a}$extra`,
    ];
    for (const s of bad) {
      expect(await verifyPassword('pw-12345678', s)).toBe(false);
      expect(hashParameters(s).algorithm).toBe('unknown');
    }
    expect(await verifyPassword('pw-12345678', a)).toBe(true);
  });

  it('keeps verifying scrypt hashes stored before argon2id, with the parameters stored with them', async () => {
    const salt = Buffer.from('0123456789abcdef');
    const key = scryptSync('older', salt, 32, { N: 1024, r: 8, p: 1 });
    const stored = `scrypt$1024$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
    expect(await verifyPassword('older', stored)).toBe(true);
    expect(await verifyPassword('newer', stored)).toBe(false);
    expect(hashParameters(stored)).toEqual({ algorithm: 'scrypt' });
  });

  it('asks for a rehash of scrypt hashes and of argon2id hashes weaker than configured, never a downgrade', async () => {
    const wanted = { memoryKiB: 19_456, timeCost: 2, parallelism: 1 };
    expect(needsRehash(await hashPasswordScrypt('x', 1024), wanted)).toBe(true);
    expect(needsRehash(await hashPassword('x', CHEAP), wanted)).toBe(true);
    expect(needsRehash(await hashPassword('x', { ...wanted, timeCost: 1 }), wanted)).toBe(true);
    expect(needsRehash(await hashPassword('x', wanted), wanted)).toBe(false);
    expect(needsRehash(await hashPassword('x', { memoryKiB: 32_768, timeCost: 3, parallelism: 1 }), wanted)).toBe(false);
    expect(needsRehash('garbage', wanted)).toBe(false);
  });
});
