import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');

export interface Usage {
  cpu: { user: number; system: number };
  elu: { idle: number; active: number };
  rss: number;
  at: number;
  breakdown?: Record<string, { count: number; ms: number }>;
}

/** A bench/server-process.ts child, driven over JSON lines on stdin/stdout. */
export class ServerChild {
  private waiters: { type: string; resolve: (msg: any) => void; reject: (err: Error) => void }[] = [];
  private exited: Promise<number | null>;
  url = '';
  pid = 0;

  private constructor(private readonly proc: ChildProcess) {
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (line) => {
      let msg: any;
      try {
        msg = JSON.parse(line);
      } catch {
        process.stderr.write(`[server] ${line}\n`);
        return;
      }
      if (msg.type === 'error') {
        const w = this.waiters.shift();
        const err = new Error(`server child: ${msg.message}`);
        if (w) w.reject(err);
        else process.stderr.write(`${err.message}\n`);
        return;
      }
      const i = this.waiters.findIndex((w) => w.type === msg.type);
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(msg);
    });
    proc.stderr!.on('data', (d: Buffer) => process.stderr.write(`[server] ${d}`));
    this.exited = new Promise((resolve) =>
      proc.on('exit', (code) => {
        for (const w of this.waiters.splice(0)) w.reject(new Error(`server child exited (code ${code})`));
        resolve(code);
      }),
    );
  }

  /** Spawns `node [nodeArgs] --import tsx bench/server-process.ts` and waits for its URL. */
  static async start(opts: { env?: NodeJS.ProcessEnv; nodeArgs?: string[]; readyTimeoutMs?: number } = {}): Promise<ServerChild> {
    const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', join(HERE, 'server-process.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const child = new ServerChild(proc);
    const ready = await child.expect('ready', opts.readyTimeoutMs ?? 30_000);
    child.url = ready.url;
    child.pid = ready.pid;
    return child;
  }

  private expect(type: string, timeoutMs: number): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server child: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  request(cmd: object, reply: string, timeoutMs = 60_000): Promise<any> {
    const p = this.expect(reply, timeoutMs);
    this.proc.stdin!.write(`${JSON.stringify(cmd)}\n`);
    return p;
  }

  usage(): Promise<Usage> {
    return this.request({ cmd: 'usage' }, 'usage', 10_000);
  }

  /** Asks the child to close cleanly (so --cpu-prof is written); kills it after the timeout. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.proc.exitCode !== null) return;
    this.proc.stdin!.write(`${JSON.stringify({ cmd: 'close' })}\n`);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
