// Compiles the server to JavaScript (dist/server) and copies the files it reads at run time
// (SQL migrations, worker scripts) beside the compiled code, so `node dist/server/cli/main.js`
// needs no TypeScript tooling.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/server');
const ASSETS = /\.(sql|cjs|mjs|wasm)$/;

rmSync(out, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

function copyAssets(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (path === join(root, 'src/portal/app')) continue; // built by Vite into dist/portal
    if (statSync(path).isDirectory()) copyAssets(path);
    else if (ASSETS.test(name)) cpSync(path, join(out, relative(join(root, 'src'), path)));
  }
}
copyAssets(join(root, 'src'));
chmodSync(join(out, 'cli/main.js'), 0o755);
console.log(`built the server into ${relative(root, out)}/`);
