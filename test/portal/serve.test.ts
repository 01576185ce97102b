import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PORTAL_CSP, portalPlugin } from '../../src/portal/serve.ts';

/** The static-file plugin on its own, over a fake build. */
let dir: string;
let app: FastifyInstance;
let empty: FastifyInstance;

const INDEX = '<!doctype html><title>portal</title><script type="module" src="/KeyfactorPortal/assets/index-AbCdEf12.js"></script>';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'countersign-portal-'));
  mkdirSync(join(dir, 'build', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'build', 'index.html'), INDEX);
  writeFileSync(join(dir, 'build', 'assets', 'index-AbCdEf12.js'), 'console.log(1)');
  writeFileSync(join(dir, 'build', 'assets', 'index-XyZ98765.css'), 'body{}');
  writeFileSync(join(dir, 'build', 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(dir, 'secret.txt'), 'outside the build');
  app = Fastify();
  await app.register(portalPlugin({ root: join(dir, 'build') }));
  empty = Fastify();
  await empty.register(portalPlugin({ root: join(dir, 'missing') }));
});
afterAll(async () => {
  await app.close();
  await empty.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the portal plugin', () => {
  it('answers index.html at /KeyfactorPortal and /KeyfactorPortal/, revalidated, with a strict CSP', async () => {
    for (const url of ['/KeyfactorPortal', '/KeyfactorPortal/']) {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toBe(PORTAL_CSP);
      expect(PORTAL_CSP).toMatch(/^default-src 'self'/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.body).toBe(INDEX);
    }
  });

  it('answers index.html for client routes (deep links, reloads)', async () => {
    for (const url of ['/KeyfactorPortal/inbox', '/KeyfactorPortal/instances/0b0e7c5e-8f51-4c31-9d8e-1c2d3e4f5a6b', '/KeyfactorPortal/definitions?version=2']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toBe(INDEX);
    }
  });

  it('serves hashed assets with their content type, cached for a year', async () => {
    const js = await app.inject({ url: '/KeyfactorPortal/assets/index-AbCdEf12.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.body).toBe('console.log(1)');
    const css = await app.inject({ url: '/KeyfactorPortal/assets/index-XyZ98765.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const svg = await app.inject({ url: '/KeyfactorPortal/favicon.svg' });
    expect(svg.headers['content-type']).toBe('image/svg+xml');
    expect(svg.headers['cache-control']).toBe('no-cache');
  });

  it('answers HEAD like GET, without a body', async () => {
    const res = await app.inject({ method: 'HEAD', url: '/KeyfactorPortal/assets/index-AbCdEf12.js' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
  });

  it('answers 404 (not the page) for a missing asset', async () => {
    const res = await app.inject({ url: '/KeyfactorPortal/assets/index-gone1234.js' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect((await app.inject({ url: '/KeyfactorPortal/robots.txt' })).statusCode).toBe(404);
  });

  it('never serves files outside the build', async () => {
    for (const url of [
      '/KeyfactorPortal/../secret.txt',
      '/KeyfactorPortal/%2e%2e/secret.txt',
      '/KeyfactorPortal/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/KeyfactorPortal/..%5csecret.txt',
    ]) {
      const res = await app.inject({ url });
      expect(res.body, url).not.toContain('outside the build');
    }
    expect((await app.inject({ url: '/KeyfactorPortal/%E0%A4%A' })).statusCode).toBe(400);
  });

  it('redirects / to the portal', async () => {
    const res = await app.inject({ url: '/' });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/KeyfactorPortal/');
  });

  it('answers a clear 503 page when the portal has not been built', async () => {
    for (const url of ['/KeyfactorPortal', '/KeyfactorPortal/inbox', '/KeyfactorPortal/assets/x-12345678.js']) {
      const res = await empty.inject({ url });
      expect(res.statusCode, url).toBe(503);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toContain('npm run build:portal');
    }
  });
});
