import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ADMIN } from './server.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildServer<Ready> {
  child: ChildProcess;
  /** Resolves with the exit code when the process ends (null when a signal ended it). */
  exited: Promise<number | null>;
  /** The first JSON line with a `url` the process printed (its ready line). */
  ready: Ready;
  stderr: () => string;
}

/**
 * Starts a Countersign server script (run with tsx from the repository root) as a real process
 * on a random loopback port with the test admin, and waits for its ready line. The environment is
 * `base`, then those defaults, then `env`.
 */
export async function startChildServer<Ready extends { url: string }>(script: string, base: NodeJS.ProcessEnv, env: Record<string, string> = {}): Promise<ChildServer<Ready>> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...base, PORT: '0', COUNTERSIGN_ADMIN_USER: ADMIN.user, COUNTERSIGN_ADMIN_PASSWORD: ADMIN.password, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start in 30 s: ${err}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line);
        if (msg.url) {
          clearTimeout(timer);
          resolve(msg);
        }
      } catch {
        /* other output */
      }
    });
    void exited.then((code) => reject(new Error(`${script} exited (${code}) before listening: ${err}`)));
  });
  return { child, exited, ready, stderr: () => err };
}
