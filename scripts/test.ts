/**
 * The README's test command (`npm test`), self-provisioning on a fresh machine with only Node and
 * npm: type-checks and builds, finds or starts a PostgreSQL, finds Chromium, then runs the suite
 * on SQLite and on PostgreSQL. It prints what it uses and what it started, and removes what it
 * started.
 *
 *   npm test                                   # everything
 *   npm test -- test/api/definitions.test.ts   # the checks, then these files on both stores
 *   tsx scripts/test.ts --store postgres --no-checks test/store/...   # one store, no type-check/build
 *
 * Chromium: $CHROMIUM_PATH, /usr/bin/chromium, /usr/bin/chromium-browser, or playwright's
 * download. Missing, the browser tests are skipped with a note, except under CI=true, where that
 * is a failure.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { provideTestPostgres, redact, type TestPostgres } from './test-postgres.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const CI = process.env.CI === 'true' || process.env.CI === '1';

interface Options {
  stores: Array<'sqlite' | 'postgres'>;
  checks: boolean;
  vitestArgs: string[];
}

function parseArgs(argv: string[]): Options {
  const options: Options = { stores: ['sqlite', 'postgres'], checks: true, vitestArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--store') {
      const store = argv[++i];
      if (store !== 'sqlite' && store !== 'postgres') throw new Error(`--store takes sqlite or postgres, got ${store ?? 'nothing'}`);
      options.stores = [store];
    } else if (arg === '--no-checks') options.checks = false;
    else options.vitestArgs.push(arg);
  }
  return options;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: 'inherit' });
    child.on('error', (err) => {
      console.error(`== cannot run ${command}: ${err.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Chromium for the portal's browser tests, or undefined. */
async function findChromium(): Promise<{ path: string; source: string } | undefined> {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return existsSync(fromEnv) ? { path: fromEnv, source: 'CHROMIUM_PATH' } : undefined;
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(p)) return { path: p, source: 'the system' };
  try {
    const { chromium } = await import('playwright-core');
    const p = chromium.executablePath();
    if (p && existsSync(p)) return { path: p, source: "playwright's download" };
  } catch {
    // No playwright browser registry: nothing more to look for.
  }
  return undefined;
}

/** Test files that drive a browser (they import the portal's browser helpers and launch()). */
function browserTestFiles(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.ts') && /browser\.ts['"]/.test(readFileSync(p, 'utf8')) && /\blaunch\(/.test(readFileSync(p, 'utf8'))) found.push(path.relative(ROOT, p));
    }
  };
  walk(path.join(ROOT, 'test'));
  return found.sort();
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const env: NodeJS.ProcessEnv = { ...process.env };
  const vitestArgs = [...options.vitestArgs];

  const chromium = await findChromium();
  if (chromium) {
    env.CHROMIUM_PATH = chromium.path;
    console.log(`== Chromium: ${chromium.path} (${chromium.source})`);
  } else {
    const hint = 'install it with `apt-get install chromium` (Debian/Ubuntu) or point CHROMIUM_PATH at a Chromium binary';
    if (CI) {
      console.error(`== Chromium: not found, and CI=true requires the browser tests: ${hint}.`);
      return 1;
    }
    const files = browserTestFiles();
    console.log(`== Chromium: not found; SKIPPING the browser tests (${files.join(', ')}): ${hint}.`);
    for (const f of files) vitestArgs.push('--exclude', f);
  }

  if (options.checks) {
    // Biome first: lint and house-style findings are the quickest failures to report.
    for (const script of ['lint', 'typecheck', 'typecheck:portal', 'build:portal']) {
      console.log(`== npm run ${script}`);
      const code = await run(NPM, ['run', '--silent', script]);
      if (code !== 0) {
        console.error(`== npm run ${script} failed (exit ${code}); see above. Nothing else was run.`);
        return code;
      }
    }
  }

  // Provided for the SQLite run too: some tests compare the two stores or need PostgreSQL anyway.
  let postgres: TestPostgres | undefined;
  try {
    postgres = await provideTestPostgres(ROOT);
  } catch (err) {
    console.error(`== PostgreSQL: ${(err as Error).message}`);
    return 1;
  }
  console.log(`== PostgreSQL: ${postgres.description}`);
  env.COUNTERSIGN_TEST_DATABASE_URL = postgres.url;
  const stop = async () => {
    if (!postgres) return;
    const p = postgres;
    postgres = undefined;
    await p.stop();
    if (p.description.startsWith('a throwaway')) console.log('== PostgreSQL: throwaway server stopped and removed');
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stop().finally(() => process.exit(130)));
  }

  try {
    let failed = 0;
    for (const store of options.stores) {
      const storeEnv = { ...env };
      if (store === 'postgres') {
        storeEnv.COUNTERSIGN_TEST_STORE = 'postgres';
        console.log(`== vitest on PostgreSQL (${redact(postgres.url)})`);
      } else {
        delete storeEnv.COUNTERSIGN_TEST_STORE;
        console.log('== vitest on SQLite');
      }
      const code = await run(NPM, ['exec', '--', 'vitest', 'run', ...vitestArgs], storeEnv);
      if (code !== 0) failed = code;
    }
    if (!chromium) console.log('== note: the browser tests were skipped (no Chromium; `apt-get install chromium`).');
    return failed;
  } finally {
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`== test run failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
