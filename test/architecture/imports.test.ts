import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * The allowed import directions (docs/architecture.md). A rule names the folder an import starts
 * in and the folders it must never reach; paths are relative to src/.
 */
const RULES: { from: string; never: string[]; why: string }[] = [
  { from: 'domain', never: ['*'], why: 'the pure core imports nothing outside itself' },
  { from: 'store', never: ['api', 'service', 'runner', 'steps', 'security', 'cli', 'portal', 'server.ts'], why: 'persistence knows only the domain' },
  { from: 'steps', never: ['api', 'service', 'runner', 'store', 'cli', 'portal', 'server.ts'], why: 'step types are plugins of the core, run by the runner' },
  {
    from: 'service',
    never: ['api', 'runner', 'cli', 'portal', 'server.ts', 'store/sqlite', 'store/postgres'],
    why: 'services orchestrate the store port, not its implementations',
  },
  { from: 'api', never: ['store/sqlite', 'store/postgres', 'runner', 'cli', 'server.ts'], why: 'routes translate the wire to services' },
  { from: 'runner', never: ['api', 'cli', 'portal', 'server.ts', 'store/sqlite', 'store/postgres'], why: 'the runner executes effects through services and plugins' },
  { from: 'security', never: ['api', 'runner', 'cli', 'portal', 'server.ts', 'store/sqlite', 'store/postgres'], why: 'security rules do not know the transport' },
];

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'app') return []; // the portal's browser app has its own tsconfig and bundle
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx|mts|cts)$/.test(name) ? [path] : [];
  });
}

/** Relative imports of a file, as paths relative to the source root (static, re-exports and dynamic import()). */
function importsOf(file: string, root: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)].map(
    (m) => m[1] ?? m[2] ?? m[3],
  );
  return specs.filter((s) => s.startsWith('.')).map((s) => relative(root, resolve(dirname(file), s)));
}

const within = (path: string, folder: string): boolean => path === folder || path.startsWith(`${folder}/`);

/** Every import in `root` that goes against `rule`, as "file -> target". */
function violations(rule: (typeof RULES)[number], root: string): string[] {
  const broken: string[] = [];
  for (const file of sourceFiles(root).filter((f) => within(relative(root, f), rule.from))) {
    for (const target of importsOf(file, root)) {
      const forbidden = rule.never.includes('*') ? target.startsWith('..') || !within(target, rule.from) : rule.never.some((n) => within(target, n));
      if (forbidden) broken.push(`${relative(root, file)} -> ${target}`);
    }
  }
  return broken;
}

describe('import directions', () => {
  it('finds the source tree', () => {
    expect(sourceFiles(SRC).length).toBeGreaterThan(20);
  });

  for (const rule of RULES) {
    it(`${rule.from}/ never imports ${rule.never.join(', ')} (${rule.why})`, () => {
      expect(violations(rule, SRC)).toEqual([]);
    });
  }

  it('reports imports that go the wrong way, in every import form', () => {
    const root = mkdtempSync(join(tmpdir(), 'imports-'));
    try {
      for (const d of ['domain', 'api', 'store/sqlite']) mkdirSync(join(root, d), { recursive: true });
      writeFileSync(join(root, 'domain/a.ts'), "import type { X } from '../api/b.ts';\nexport { y } from './c.ts';\nconst z = import('../store/sqlite/s.ts');\n");
      writeFileSync(join(root, 'api/b.ts'), "import { S } from '../store/sqlite/s.ts';\n");
      const rule = (from: string) => RULES.find((r) => r.from === from)!;
      expect(violations(rule('domain'), root)).toEqual(['domain/a.ts -> api/b.ts', 'domain/a.ts -> store/sqlite/s.ts']);
      expect(violations(rule('api'), root)).toEqual(['api/b.ts -> store/sqlite/s.ts']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
