import { CountersignError } from '../domain/errors.ts';
import { loadConfig } from '../config.ts';
import { generatePassword as generateBootstrapPassword } from '../security/bootstrap.ts';
import { makeServices, type Services } from '../service/services.ts';
import { defaultRegistry } from '../steps/index.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';

/** Exit codes, documented in docs/operations.md. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A failure the operator can act on: printed as one line, exit 1, no stack trace. */
export class CliFailure extends Error {}

/** Opens the store named by DATABASE_URL (applying pending migrations, as the server does), runs fn, closes it. */
export async function withStore<T>(fn: (store: Store, services: Services) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const store = await openStore(config.databaseUrl);
  try {
    return await fn(
      store,
      makeServices(store, defaultRegistry(), { reconcileIntervalMs: config.reconcileIntervalMs, authCacheTtlMs: config.authCacheTtlMs, maxWaitMs: config.maxWaitMs }),
    );
  } finally {
    await store.close();
  }
}

/** Prints data: JSON when asked, otherwise the lines the caller formats. */
export function output(json: boolean | undefined, data: unknown, lines: () => string[]): void {
  if (json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else for (const l of lines()) process.stdout.write(`${l}\n`);
}

/** Left-aligned columns for people reading a terminal. */
export function table(header: string[], rows: (string | number | null)[][]): string[] {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  '));
}

/** 24 characters from the bootstrap's look-alike-free alphabet: about 140 bits, easy to type back. */
export const generatePassword = (): string => generateBootstrapPassword(24);

/** The whole of standard input, without the final newline (for --password-stdin). */
export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new CliFailure('--password-stdin reads the password from a pipe, e.g. printf %s "$PW" | countersign ...');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** One line for the operator: our own errors say what to do; anything else is shown by message. */
export function describeError(err: unknown): string {
  if (err instanceof CountersignError) return `${err.message} (${err.errorName})`;
  return err instanceof Error ? err.message : String(err);
}

/** DATABASE_URL for people: the password replaced by ***. */
export const maskUrl = (url: string): string => url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
