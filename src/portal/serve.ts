import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

/*
 * Serves the management portal (a Vite build in dist/portal) at /KeyfactorPortal. The portal is
 * static files and talks only to the public API under /KeyfactorAPI, so this plugin has no
 * routes of its own beyond files: hashed assets are cached for a year, everything else is
 * revalidated, and any other path under the prefix answers index.html (client-side routes).
 */

export const PORTAL_BASE = '/KeyfactorPortal';
/**
 * Where `npm run build:portal` writes (vite.config.ts outDir: dist/portal at the package root),
 * seen from this file in the sources (src/portal/) or in the built server (dist/server/portal/).
 */
const PORTAL_DIRS = ['../../dist/portal/', '../../portal/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
export const DEFAULT_PORTAL_DIR = PORTAL_DIRS.find((dir) => existsSync(dir)) ?? PORTAL_DIRS[0];

export interface PortalOptions {
  /** The built portal; default dist/portal at the repository root. */
  root?: string;
  /** Redirect GET / to the portal (default true). */
  redirectRoot?: boolean;
  /** Origins the portal may also fetch from: the identity providers' token endpoints (PKCE sign-in). */
  connectSources?: string[];
}

/** Strict: the portal's own scripts, styles, images and API calls only; no inline code, no framing. */
export const PORTAL_CSP = "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'";

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** Vite names built assets name-<hash>.ext under assets/; those never change, so cache them for good. */
const HASHED_ASSET = /^assets\/.+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';

const MISSING_BUILD = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Countersign portal not built</title></head>
<body>
<main>
<h1>The Countersign portal has not been built</h1>
<p>This server answers the API at <a href="/KeyfactorAPI/Status/Endpoints">/KeyfactorAPI</a>, but the web portal's files are missing.</p>
<p>Run <code>npm run build:portal</code> in the Countersign directory (it writes <code>dist/portal/</code>), then reload this page. <code>npm start</code> and <code>npm run demo</code> build it for you.</p>
</main>
</body>
</html>
`;

/** PORTAL_CSP, plus the identity providers' origins for fetch (the code-for-token exchange). */
export function portalCsp(connectSources: readonly string[] = []): string {
  return connectSources.length ? `${PORTAL_CSP}; connect-src 'self' ${connectSources.join(' ')}` : PORTAL_CSP;
}

function securityHeaders(reply: FastifyReply, csp: string): void {
  reply.header('Content-Security-Policy', csp);
  reply.header('X-Content-Type-Options', 'nosniff');
  reply.header('Referrer-Policy', 'no-referrer');
  reply.header('X-Frame-Options', 'DENY');
  reply.header('Cross-Origin-Opener-Policy', 'same-origin');
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export const portalPlugin =
  (opts: PortalOptions = {}): FastifyPluginAsync =>
  async (app) => {
    const root = resolve(opts.root ?? DEFAULT_PORTAL_DIR);
    const csp = portalCsp(opts.connectSources);
    const index = resolve(root, 'index.html');

    const sendFile = async (reply: FastifyReply, path: string, cache: string) => {
      const body = await readFile(path);
      reply.header('Content-Type', CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream');
      reply.header('Cache-Control', cache);
      return reply.code(200).send(body);
    };

    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      securityHeaders(reply, csp);
      // Checked on every request, so a build made while the server runs is picked up.
      if (!(await isFile(index))) {
        reply.header('Cache-Control', 'no-store');
        return reply.code(503).type('text/html; charset=utf-8').send(MISSING_BUILD);
      }
      const path = req.url.split('?')[0]!;
      let rel: string;
      try {
        rel = decodeURIComponent(path.slice(PORTAL_BASE.length)).replace(/^\/+/, '');
      } catch {
        return reply.code(400).type('text/plain; charset=utf-8').send('Bad request: the path is not valid percent-encoding.');
      }
      if (rel !== '' && !rel.includes('\0')) {
        const file = resolve(root, rel);
        if (file.startsWith(root + sep) && (await isFile(file))) return sendFile(reply, file, HASHED_ASSET.test(rel) ? IMMUTABLE : 'no-cache');
        // A missing script or stylesheet must not be answered with the page.
        if (rel.startsWith('assets/') || /\.[A-Za-z0-9]{1,11}$/.test(rel)) {
          reply.header('Cache-Control', 'no-store');
          return reply.code(404).type('text/plain; charset=utf-8').send(`Not found: ${PORTAL_BASE}/${rel}`);
        }
      }
      return sendFile(reply, index, 'no-cache');
    };

    app.get(PORTAL_BASE, handler);
    app.get(`${PORTAL_BASE}/*`, handler);
    if (opts.redirectRoot ?? true) app.get('/', async (_req, reply) => reply.redirect(`${PORTAL_BASE}/`, 302));
  };
