import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * SoftHSM2, the software PKCS#11 token of Debian's `softhsm2`, initialised by the tests in a
 * temporary token directory (SOFTHSM2_CONF), and OpenSC's pkcs11-tool to look into it from
 * outside the server.
 */

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** Under CI a missing SoftHSM2 or pkcs11-tool fails the suite; locally the tests skip with a message. */
export function requireSoftHsm(): boolean {
  const missing = [SOFTHSM_MODULE, '/usr/bin/softhsm2-util', '/usr/bin/pkcs11-tool'].filter((f) => !existsSync(f));
  if (missing.length === 0) return true;
  if (process.env.CI === 'true') throw new Error(`${missing.join(', ')} missing: apt-get install softhsm2 opensc (.ci/run installs them).`);
  console.warn(`Skipping the PKCS#11 tests: ${missing.join(', ')} not installed (apt-get install softhsm2 opensc).`);
  return false;
}

/**
 * Points this process's SoftHSM2 at a fresh token directory (SoftHSM reads SOFTHSM2_CONF when
 * the module is initialised, once per process) and returns a function that adds a token.
 */
export function useSoftHsm(): { conf: string; initToken: (label: string, pin: string) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-softhsm-'));
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  return {
    conf,
    initToken: (label, pin) => {
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', `${pin}-so`], {
        stdio: 'pipe',
        env: { ...process.env, SOFTHSM2_CONF: conf },
      });
    },
  };
}

/** Runs pkcs11-tool against a token of the module; returns exit status and output. */
export function pkcs11Tool(conf: string, args: string[]): { status: number; out: string } {
  const r = spawnSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, ...args], { env: { ...process.env, SOFTHSM2_CONF: conf }, encoding: 'utf8' });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}
