import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/*
 * The management portal: a static single-page app served by the Countersign server at
 * /KeyfactorPortal (src/portal/serve.ts). Build: `npm run build:portal` -> dist/portal/.
 * Development: `npx vite --config src/portal/app/vite.config.ts` with a server on :8080
 * (COUNTERSIGN_API to point elsewhere); API calls are proxied.
 */
export default defineConfig(({ command }) => ({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/KeyfactorPortal/',
  publicDir: 'public',
  // Vite 8 transforms TSX with oxc; React 19's automatic runtime needs no plugin.
  oxc: { jsx: { runtime: 'automatic', importSource: 'react', development: command !== 'build' } },
  build: {
    outDir: fileURLToPath(new URL('../../../dist/portal', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // The strict Content-Security-Policy forbids inline scripts; keep everything in files.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  // A build is always React's production build, even when started from a test runner that set
  // NODE_ENV=test (Vite keeps an existing NODE_ENV).
  define: command === 'build' ? { 'process.env.NODE_ENV': JSON.stringify('production') } : {},
  server: {
    proxy: { '/KeyfactorAPI': process.env.COUNTERSIGN_API ?? 'http://127.0.0.1:8080' },
  },
}));
