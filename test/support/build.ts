import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(import.meta.dirname, '../..');
const LOCK = join(tmpdir(), `countersign-build-${Buffer.from(ROOT).toString('base64url')}.lock`);

/**
 * Builds the server (dist/server) while no other test process builds: the tests that need the
 * built package (shutdown, pack) run in parallel workers and would otherwise rewrite dist/ under
 * each other. The portal (dist/portal) is built only when missing: the browser tests serve it
 * meanwhile, and `npm test` builds it before any test runs. The lock is a directory (mkdir is atomic).
 */
export async function buildLocked<T>(then: () => Promise<T> = async () => undefined as T): Promise<T> {
  for (const deadline = Date.now() + 10 * 60_000; ; ) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`waited 10 minutes for ${LOCK}; remove it if no build is running`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    await promisify(execFile)(process.execPath, ['scripts/build-server.mjs'], { cwd: ROOT, maxBuffer: 64 << 20 });
    if (!existsSync(join(ROOT, 'dist/portal/index.html'))) await promisify(execFile)('npm', ['run', 'build:portal'], { cwd: ROOT, maxBuffer: 64 << 20 });
    return await then();
  } finally {
    rmdirSync(LOCK);
  }
}
