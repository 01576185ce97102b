import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export type Handler = (req: RecordedRequest, res: ServerResponse) => unknown;

export interface HttpStandIn {
  /** http://127.0.0.1:<port> */
  url: string;
  requests: RecordedRequest[];
  /** Replaceable; the default answers 404. */
  handler: Handler;
  /** How many TCP connections were opened (to show that nothing connected). */
  connections: number;
  close(): Promise<void>;
}

/** A loopback HTTP server that records every request and answers with `handler`. */
export async function startHttp(handler?: Handler): Promise<HttpStandIn> {
  const sockets = new Set<Socket>();
  const standIn: HttpStandIn = {
    url: '',
    requests: [],
    handler: handler ?? ((_req, res) => json(res, 404, { error: 'not found' })),
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const rec: RecordedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      standIn.requests.push(rec);
      Promise.resolve(standIn.handler(rec, res)).catch((err) => {
        if (!res.headersSent) json(res, 500, { error: String(err) });
      });
    });
  });
  server.on('connection', (s: Socket) => {
    standIn.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  standIn.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return standIn;
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export interface TokenEndpointOptions {
  clientId: string;
  clientSecret: string;
  expiresIn?: number;
}

/**
 * An OAuth 2.0 client-credentials token endpoint at POST /oauth2/v2.0/token: checks the client,
 * issues `token-<n>` with expires_in, and remembers which token it issued for which scope.
 */
export function tokenEndpoint(opts: TokenEndpointOptions): { path: string; issued: { token: string; scope: string | null; audience: string | null }[]; handle: Handler } {
  const issued: { token: string; scope: string | null; audience: string | null }[] = [];
  return {
    path: '/oauth2/v2.0/token',
    issued,
    handle: (req, res) => {
      const form = new URLSearchParams(req.body);
      if (req.method !== 'POST' || !/application\/x-www-form-urlencoded/.test(String(req.headers['content-type'])))
        return json(res, 400, { error: 'invalid_request', error_description: 'POST a form' });
      if (form.get('grant_type') !== 'client_credentials') return json(res, 400, { error: 'unsupported_grant_type' });
      if (form.get('client_id') !== opts.clientId || form.get('client_secret') !== opts.clientSecret)
        return json(res, 401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
      const token = `token-${issued.length + 1}`;
      issued.push({ token, scope: form.get('scope'), audience: form.get('audience') });
      json(res, 200, { token_type: 'Bearer', expires_in: opts.expiresIn ?? 3599, access_token: token });
    },
  };
}
