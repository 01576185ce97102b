import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config.ts';
import { egressPolicy } from '../../src/domain/egress.ts';
import { createServer, type Server, type ServerOptions } from '../../src/server.ts';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from './database.ts';
import { checkErrorBody, checkSchema, expectValidResponse, type ContractDoc } from './openapi.ts';

/** COUNTERSIGN_EGRESS_ALLOW for tests: the loopback addresses the stand-ins listen on. */
export const LOOPBACK_EGRESS = egressPolicy('127.0.0.1,localhost,::1', '');

export const ADMIN = { user: 'admin', password: 'admin-test-password' };

export const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

export interface TestApp {
  server: Server;
  url: string;
  adminAuth: string;
  /** Calls the API over real HTTP and checks every response against Keyfactor's contract. */
  call: (method: string, path: string, opts?: CallOptions) => Promise<ApiResponse>;
  close: () => Promise<void>;
}

export interface CallOptions {
  auth?: string | null;
  body?: unknown;
  /** Raw body text (for malformed JSON tests). */
  raw?: string;
  headers?: Record<string, string>;
  /** Skip the contract check (extension endpoints and options). */
  unchecked?: boolean;
}

export interface ApiResponse {
  status: number;
  body: any;
  headers: Headers;
  text: string;
}

/**
 * A real server on a random loopback port, with its own SQLite file, or its own PostgreSQL schema
 * when COUNTERSIGN_TEST_STORE=postgres (so the whole suite runs against both stores).
 */
export async function startTestApp(overrides: Partial<Config> = {}, serverOptions: ServerOptions = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-test-'));
  const pgUrl = usePostgres() && overrides.databaseUrl === undefined ? await testDatabaseUrl() : null;
  const config: Config = {
    port: 0,
    host: '127.0.0.1',
    databaseUrl: pgUrl ?? `sqlite:${join(dir, 'test.db')}`,
    adminUser: ADMIN.user,
    adminPassword: ADMIN.password,
    reconcileIntervalMs: 60_000,
    authCacheTtlMs: 60_000,
    maxWaitMs: 30 * 24 * 3600_000,
    logLevel: 'silent',
    ...overrides,
    // REST steps in tests call stand-ins on loopback: allowed by configuration, as an operator would.
    steps: { egress: LOOPBACK_EGRESS, ...overrides.steps },
  };
  const server = await createServer(config, serverOptions);
  const address = await server.app.listen({ port: 0, host: '127.0.0.1' });
  const adminAuth = basic(ADMIN.user, ADMIN.password);
  const call = makeCaller(address, adminAuth);
  return {
    server,
    url: address,
    adminAuth,
    call,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
      if (pgUrl) await dropTestDatabase(pgUrl);
    },
  };
}

/** `fetchImpl`: another fetch (e.g. one trusting a test CA, for a server speaking HTTPS). */
export function makeCaller(base: string, defaultAuth: string, fetchImpl: typeof fetch = fetch) {
  return async (method: string, path: string, opts: CallOptions = {}): Promise<ApiResponse> => {
    const headers: Record<string, string> = { 'x-keyfactor-requested-with': 'APIClient', accept: 'application/json', ...opts.headers };
    const auth = opts.auth === undefined ? defaultAuth : opts.auth;
    if (auth) headers.authorization = auth;
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    const res = await fetchImpl(base + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    const out = { status: res.status, body: parsed as any, headers: res.headers, text };
    if (!opts.unchecked) checkContract(method, path, out, headers);
    return out;
  };
}

/** Every response of a contract operation must validate; every error must have Keyfactor's shape. */
function checkContract(method: string, path: string, res: ApiResponse, headers: Record<string, string>): void {
  if (res.status >= 400) {
    const problems = checkErrorBody(res.body);
    if (problems.length) throw new Error(`${method} ${path} -> ${res.status}: error body not in Keyfactor's shape: ${problems.join('; ')} (${res.text})`);
    return;
  }
  const v2 = /^\s*2/.test(headers['x-keyfactor-api-version'] ?? '');
  const isSecurity = /^\/KeyfactorAPI\/(Security|PermissionSets|Permissions|Status)/i.test(path);
  if (method === 'POST' && /^\/KeyfactorAPI\/Workflow\/Instances\/?(\?|$)/i.test(path)) {
    // Our start extension: not in the contract, but its body is an InstanceResponse.
    const problems = checkSchema('workflow-v1', 'InstanceResponse', res.body);
    if (problems.length) throw new Error(`POST ${path}: ${problems.join('; ')}`);
    return;
  }
  const isCertificates = /^\/KeyfactorAPI\/(Enrollment|Certificates|CertificateAuthority|Templates|MetadataFields|EnrollmentPatterns|Alerts)(\/|\?|$)/i.test(path);
  const isAuditMore = /^\/KeyfactorAPI\/(Audit|CertificateCollections|Alerts\/Expiration\/(Schedule|Test|TestAll))(\/|\?|$)/i.test(path);
  const doc: ContractDoc = isAuditMore
    ? 'audit-more-v1'
    : isCertificates
      ? 'certificates-v1'
      : isSecurity
        ? v2 && /\/Security\/Roles/i.test(path)
          ? 'security-v2'
          : 'security-v1'
        : v2 && isV2WorkflowOp(method, path)
          ? 'workflow-v2'
          : 'workflow-v1';
  expectValidResponse({ doc, method, url: path, status: res.status, body: res.body, contentType: res.headers.get('content-type') ?? undefined });
}

/** The four operations that have a version-2 shape (GET/POST Definitions, GET/PUT Definitions/{id}). */
function isV2WorkflowOp(method: string, path: string): boolean {
  const p = path.split('?')[0].replace(/\/$/, '');
  if (/^\/KeyfactorAPI\/Workflow\/Definitions$/i.test(p)) return method === 'GET' || method === 'POST';
  if (/^\/KeyfactorAPI\/Workflow\/Definitions\/[0-9a-f-]{36}$/i.test(p)) return method === 'GET' || method === 'PUT';
  return false;
}
