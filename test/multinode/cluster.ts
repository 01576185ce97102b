import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { ADMIN, basic, makeCaller, type TestApp } from '../support/server.ts';
import { startChildServer } from '../support/child-server.ts';

/** A Countersign node running as its own process (test/multinode/node-process.ts). */
export interface Node {
  url: string;
  pid: number;
  /** Its job runner's lease owner id. */
  owner: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** The TestApp-shaped handle fixtures need (only `call` and `adminAuth`). */
  app: TestApp;
  stderr: () => string;
}

export async function startNode(databaseUrl: string, env: Record<string, string> = {}): Promise<Node> {
  const { child, exited, ready, stderr } = await startChildServer<{ url: string; pid: number; owner: string }>('test/multinode/node-process.ts', process.env, {
    DATABASE_URL: databaseUrl,
    ...env,
  });
  const adminAuth = basic(ADMIN.user, ADMIN.password);
  const app = { url: ready.url, adminAuth, call: makeCaller(ready.url, adminAuth) } as unknown as TestApp;
  return { ...ready, child, exited, app, stderr };
}

/** SIGTERM and wait for a clean exit. */
export async function stopNode(node: Node): Promise<number | null> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return node.child.exitCode;
  node.child.kill('SIGTERM');
  return node.exited;
}

export interface Shot {
  node: Node;
  path: string;
  auth: string;
  body: unknown;
}

/**
 * Opens every connection first (one keep-alive agent per node), then sends every request in the
 * same tick, so they reach the nodes as close to together as the machine allows.
 */
export async function fireTogether(shots: Shot[]): Promise<(Shot & { status: number; text: string })[]> {
  const agents = new Map<Node, http.Agent>();
  for (const s of shots) if (!agents.has(s.node)) agents.set(s.node, new http.Agent({ keepAlive: true, maxSockets: shots.length }));
  const send = (node: Node, path: string, auth: string, method: string, body?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const { hostname, port } = new URL(node.url);
      const req = http.request(
        { hostname, port, path, method, agent: agents.get(node), headers: { 'content-type': 'application/json', 'x-keyfactor-requested-with': 'APIClient', authorization: auth } },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  // First one request per (node, credentials), so each node verifies each password once (the
  // authenticator does not share a verification between concurrent requests), then warm the pool.
  const firsts = new Map(shots.map((s) => [`${s.node.url} ${s.auth}`, s]));
  await Promise.all([...firsts.values()].map((s) => send(s.node, '/KeyfactorAPI/Status/Endpoints', s.auth, 'GET')));
  await Promise.all(shots.map((s) => send(s.node, '/KeyfactorAPI/Status/Endpoints', s.auth, 'GET')));
  const out = await Promise.all(shots.map(async (s) => ({ ...s, ...(await send(s.node, s.path, s.auth, 'POST', JSON.stringify(s.body))) })));
  for (const a of agents.values()) a.destroy();
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until check() is truthy or the time runs out. */
export async function waitFor<T>(check: () => Promise<T>, ms: number, what: string): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}
