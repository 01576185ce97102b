import { spawn } from 'node:child_process';

/**
 * Runs one helper process for a script step with hard limits: a wall-clock timeout, a cap on
 * stdout, and the job's AbortSignal. The process gets its
 * own process group, and the whole group is killed on any limit.
 */
export interface ProcessRun {
  command: string;
  args: string[];
  stdin: string;
  env: Record<string, string>;
  cwd: string;
  timeoutMs: number;
  maxOutputBytes: number;
  signal: AbortSignal;
}

export interface ProcessOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Which limit ended the process, if one did. */
  limit: 'timeout' | 'output' | 'aborted' | null;
  /** The process could not be started (e.g. ENOENT, EACCES). */
  spawnError: NodeJS.ErrnoException | null;
}

const STDERR_KEEP = 64 * 1024;

export function runProcess(run: ProcessRun): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    let outSize = 0;
    let err = '';
    let limit: ProcessOutcome['limit'] = null;
    let spawnError: NodeJS.ErrnoException | null = null;
    let settled = false;

    const child = spawn(run.command, run.args, { cwd: run.cwd, env: run.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true, windowsHide: true });

    const kill = (why: NonNullable<ProcessOutcome['limit']>): void => {
      if (limit === null) limit = why;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };

    const timer = setTimeout(() => kill('timeout'), run.timeoutMs);
    const onAbort = () => kill('aborted');
    if (run.signal.aborted) onAbort();
    else run.signal.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (chunk: Buffer) => {
      outSize += chunk.length;
      if (outSize > run.maxOutputBytes) {
        kill('output');
        return;
      }
      out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (err.length < STDERR_KEEP) err += chunk.toString('utf8').slice(0, STDERR_KEEP - err.length);
    });
    child.stdin.on('error', () => {
      /* the process exited before reading all of its input: its exit tells why */
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e;
      finish(null, null);
    });
    child.on('close', (code, signal) => finish(code, signal));
    child.stdin.end(run.stdin);

    function finish(code: number | null, signal: NodeJS.Signals | null): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      run.signal.removeEventListener('abort', onAbort);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: err, limit, spawnError });
    }
  });
}
