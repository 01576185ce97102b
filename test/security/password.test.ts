import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/security/password.ts';

describe('password hashing', () => {
  it('stores scrypt$N$r$p$salt$hash and verifies', async () => {
    const h = await hashPassword('correct horse battery');
    expect(h).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(h.split('$')[4]!, 'base64')).toHaveLength(16);
    expect(await verifyPassword('correct horse battery', h)).toBe(true);
    expect(await verifyPassword('correct horse batterY', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('normalises Unicode so composed and decomposed forms match', async () => {
    const h = await hashPassword('caf\u00e9-pass');
    expect(await verifyPassword('cafe\u0301-pass', h)).toBe(true);
  });

  it('answers false, never throws, for unreadable or hostile stored hashes', async () => {
    const h = await hashPassword('pw-12345678');
    const parts = h.split('$');
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
    ];
    for (const s of bad) expect(await verifyPassword('pw-12345678', s)).toBe(false);
  });

  it('reads the parameters stored with the hash', async () => {
    // A hash made with other (cheaper) parameters still verifies: parameters can change over time.
    const { scryptSync } = await import('node:crypto');
    const salt = Buffer.from('0123456789abcdef');
    const key = scryptSync('older', salt, 32, { N: 1024, r: 8, p: 1 });
    const stored = `scrypt$1024$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
    expect(await verifyPassword('older', stored)).toBe(true);
    expect(await verifyPassword('newer', stored)).toBe(false);
  });
});
