import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { DEFAULT_ARGON2 } from '../../src/security/password.ts';
import { Passwords } from '../../src/security/passwords.ts';

/* The password settings read from the environment (docs/configuration.md), and the breached list file. */

const dir = mkdtempSync(join(tmpdir(), 'countersign-pwconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('password configuration', () => {
  it('defaults: 8 to 1024 characters, no list, argon2id 19 MiB / 2 passes / 1 lane, local accounts on', () => {
    const c = loadConfig({});
    expect(c.passwords).toEqual({ policy: { minLength: 8, maxLength: 1024 }, breachedFile: null, hashing: DEFAULT_ARGON2 });
    expect(c.localAccounts).toEqual({ enabled: true, breakGlass: null });
  });

  it('reads every variable', () => {
    const c = loadConfig({
      COUNTERSIGN_PASSWORD_MIN_LENGTH: '14',
      COUNTERSIGN_PASSWORD_MAX_LENGTH: '128',
      COUNTERSIGN_PASSWORD_BREACHED_FILE: '/etc/countersign/pwned.txt',
      COUNTERSIGN_ARGON2_MEMORY_KIB: '65536',
      COUNTERSIGN_ARGON2_TIME_COST: '3',
      COUNTERSIGN_ARGON2_PARALLELISM: '2',
      COUNTERSIGN_LOCAL_ACCOUNTS: 'OFF',
      COUNTERSIGN_BREAK_GLASS: ' CORP\\breakglass ',
    });
    expect(c.passwords).toEqual({
      policy: { minLength: 14, maxLength: 128 },
      breachedFile: '/etc/countersign/pwned.txt',
      hashing: { memoryKiB: 65536, timeCost: 3, parallelism: 2 },
    });
    expect(c.localAccounts).toEqual({ enabled: false, breakGlass: 'CORP\\breakglass' });
  });

  it('refuses values that would weaken or break the policy, naming the variable', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ COUNTERSIGN_PASSWORD_MIN_LENGTH: '6' }, /COUNTERSIGN_PASSWORD_MIN_LENGTH/],
      [{ COUNTERSIGN_PASSWORD_MAX_LENGTH: '100000' }, /COUNTERSIGN_PASSWORD_MAX_LENGTH/],
      [{ COUNTERSIGN_PASSWORD_MIN_LENGTH: '20', COUNTERSIGN_PASSWORD_MAX_LENGTH: '12' }, /must not be less/],
      [{ COUNTERSIGN_ARGON2_MEMORY_KIB: '1024' }, /COUNTERSIGN_ARGON2_MEMORY_KIB/],
      [{ COUNTERSIGN_ARGON2_TIME_COST: '0' }, /COUNTERSIGN_ARGON2_TIME_COST/],
      [{ COUNTERSIGN_ARGON2_PARALLELISM: 'many' }, /COUNTERSIGN_ARGON2_PARALLELISM/],
      [{ COUNTERSIGN_LOCAL_ACCOUNTS: 'sometimes' }, /COUNTERSIGN_LOCAL_ACCOUNTS/],
      [{ COUNTERSIGN_BREAK_GLASS: 'a:b' }, /COUNTERSIGN_BREAK_GLASS/],
    ];
    for (const [env, message] of bad) expect(() => loadConfig(env), JSON.stringify(env)).toThrow(message);
  });

  it('a minimum above the default maximum raises the default maximum with it', () => {
    expect(loadConfig({ COUNTERSIGN_PASSWORD_MIN_LENGTH: '2000' }).passwords?.policy).toEqual({ minLength: 2000, maxLength: 2000 });
  });

  it('reads the breached list file at start; a missing file stops the start', () => {
    const file = join(dir, 'list.txt');
    writeFileSync(file, 'hunter2-hunter2\n');
    const p = new Passwords({ breachedFile: file });
    expect(p.breachedCount).toBe(1);
    expect(p.isBreached('hunter2-hunter2')).toBe(true);
    expect(p.isBreached('hunter3-hunter3')).toBe(false);
    expect(() => new Passwords({ breachedFile: join(dir, 'missing.txt') })).toThrow(/COUNTERSIGN_PASSWORD_BREACHED_FILE .* cannot be read/);
  });
});
