/*
 * Start-up time: from spawning `node dist/server/cli/main.js serve` on a fresh SQLite file to its
 * first 200 on /healthz, against a `node -e` hello-world HTTP server measured the same way in the
 * same run (alternating, so drift of a shared machine hits both). Needs `npm run build` first.
 * Usage: tsx bench/startup.ts [runs]   (default 9)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = join(import.meta.dirname, '../dist/server/cli/main.js');
const HELLO = "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Milliseconds from spawn to the first 200 answer on `path`; the process is then stopped. */
async function timeToFirstAnswer(args: string[], env: Record<string, string>, path: string): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: 'ignore' });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  try {
    for (;;) {
      if (exited) throw new Error(`${args.join(' ')} exited before answering`);
      if (performance.now() - started > 60_000) throw new Error(`${args.join(' ')} did not answer within 60 s`);
      const ok = await fetch(`http://127.0.0.1:${port}${path}`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    child.kill('SIGKILL');
    if (!exited) await new Promise((r) => child.once('exit', r));
  }
}

async function countersign(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-startup-'));
  try {
    return await timeToFirstAnswer(
      [MAIN, 'serve'],
      { DATABASE_URL: `sqlite:${join(dir, 'fresh.db')}`, COUNTERSIGN_ADMIN_PASSWORD: 'startup-bench-password', LOG_LEVEL: 'warn' },
      '/healthz',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
};
const fmt = (x: { min: number; median: number; max: number }, digits = 0) => `${x.min.toFixed(digits)} / ${x.median.toFixed(digits)} / ${x.max.toFixed(digits)}`;

const runs = Number(process.argv[2] ?? 9);
await countersign(); // warm-up: file cache, not counted
await timeToFirstAnswer(['-e', HELLO], {}, '/');
const server: number[] = [];
const hello: number[] = [];
const ratios: number[] = [];
for (let i = 0; i < runs; i++) {
  const a = await countersign();
  const b = await timeToFirstAnswer(['-e', HELLO], {}, '/');
  server.push(a);
  hello.push(b);
  ratios.push(a / b);
}
console.log(`runs: ${runs} (alternating), node ${process.version}`);
console.log(`countersign serve, fresh SQLite -> /healthz 200, ms (min / median / max): ${fmt(summary(server))}`);
console.log(`node -e hello-world HTTP -> 200, ms (min / median / max):                 ${fmt(summary(hello))}`);
console.log(`ratio per pair (min / median / max):                                      ${fmt(summary(ratios), 1)}`);
