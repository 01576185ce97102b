import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { ADMIN, basic, makeCaller, type TestApp } from '../support/server.ts';

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

const ROOT = new URL('../..', import.meta.url).pathname;

export async function startNode(databaseUrl: string, env: Record<string, string> = {}): Promise<Node> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/multinode/node-process.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: '0',
      COUNTERSIGN_ADMIN_USER: ADMIN.user,
      COUNTERSIGN_ADMIN_PASSWORD: ADMIN.password,
      LOG_LEVEL: 'silent',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const first = await new Promise<{ url: string; pid: number; owner: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start in 30 s: ${err}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line);
        if (msg.url) {
          clearTimeout(timer);
          resolve(msg);
        }
      } catch {
        /* other output */
      }
    });
    void exited.then((code) => reject(new Error(`node exited (${code}) before listening: ${err}`)));
  });
  const adminAuth = basic(ADMIN.user, ADMIN.password);
  const app = { url: first.url, adminAuth, call: makeCaller(first.url, adminAuth) } as unknown as TestApp;
  return { ...first, child, exited, app, stderr: () => err };
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
