import { afterAll, beforeAll, expect, it } from 'vitest';
import { dropTestDatabase, testDatabaseUrl } from '../support/database.ts';
import { basic } from '../support/server.ts';
import { startNode, stopNode, type Node } from './cluster.ts';

/*
 * Two real server processes sharing one PostgreSQL schema: a password changed or reset through
 * one node must stop working on the other at once, although the other had it cached (the cache
 * checks a security generation read that begins after each request arrives).
 */

let url: string;
let a: Node;
let b: Node;

beforeAll(async () => {
  url = await testDatabaseUrl();
  a = await startNode(url); // creates the administrator before the other starts
  b = await startNode(url);
}, 120_000);

afterAll(async () => {
  const codes = await Promise.all([a, b].filter(Boolean).map(stopNode));
  if (url) await dropTestDatabase(url);
  expect(codes.filter((c) => c !== null && c !== 0)).toEqual([]);
}, 60_000);

const ENDPOINTS = '/KeyfactorAPI/Status/Endpoints';

it('a password changed on one node is refused by the other immediately, cached or not; so is one reset there', async () => {
  const created = await a.app.call('POST', '/KeyfactorAPI/Security/Identities', { body: { AccountName: 'CORP\\roamer', Password: 'roamer-password-1' } });
  expect(created.status).toBe(200);
  const old = basic('CORP\\roamer', 'roamer-password-1');
  // Cached on both nodes.
  for (const n of [a, b, a, b]) expect((await n.app.call('GET', ENDPOINTS, { auth: old })).status).toBe(200);

  const changed = await a.app.call('PUT', '/KeyfactorAPI/Security/My/Password', {
    auth: old,
    body: { CurrentPassword: 'roamer-password-1', NewPassword: 'roamer-password-2' },
    unchecked: true,
  });
  expect(changed.status).toBe(204);
  // No waiting: the very next request on the other node is refused.
  expect((await b.app.call('GET', ENDPOINTS, { auth: old })).status).toBe(401);
  expect((await a.app.call('GET', ENDPOINTS, { auth: old })).status).toBe(401);
  const second = basic('CORP\\roamer', 'roamer-password-2');
  for (const n of [a, b]) expect((await n.app.call('GET', ENDPOINTS, { auth: second })).status).toBe(200);

  // An administrator resets it on node B; node A (which has the second password cached) refuses it at once.
  const reset = await b.app.call('POST', `/KeyfactorAPI/Security/Identities/${created.body.Id}/Password`, { body: { Password: 'roamer-password-3' }, unchecked: true });
  expect(reset.status).toBe(204);
  expect((await a.app.call('GET', ENDPOINTS, { auth: second })).status).toBe(401);
  expect((await a.app.call('GET', ENDPOINTS, { auth: basic('CORP\\roamer', 'roamer-password-3') })).status).toBe(200);
}, 60_000);
