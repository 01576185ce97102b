import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import Provider from 'oidc-provider';

/*
 * A real OpenID provider (node-oidc-provider, OpenID Certified) on a loopback port, for the
 * bearer-token and portal sign-in tests. Clients: service accounts with client credentials (JWT
 * access tokens for API_AUDIENCE, opaque ones for OPAQUE_AUDIENCE), the introspection client, and
 * the portal's public client (authorization code + PKCE, dev login form: any name, any password).
 * Keys can be rotated while it runs (a new provider with the new key first behind the same port).
 */

export const API_AUDIENCE = 'https://countersign.test/api';
export const OPAQUE_AUDIENCE = 'urn:countersign:opaque';

export interface ServiceClient {
  clientId: string;
  secret: string;
  roles?: string[];
}

export interface TestProvider {
  issuer: string;
  /** Signs any JWT with the provider's current key (for person tokens and tampering cases). */
  sign(claims: Record<string, unknown>, opts?: { alg?: string; expiresIn?: string | number; kid?: string }): Promise<string>;
  /** A client-credentials access token from the provider's token endpoint. */
  clientCredentials(client: ServiceClient, resource?: string): Promise<string>;
  /** Registers the portal's redirect URI on its public client (known once the app listens). */
  allowPortal(redirectUri: string): void;
  /** Replaces the signing key (the old one stays published unless dropOld). */
  rotate(dropOld?: boolean): Promise<void>;
  /** How many times the JWKS was fetched. */
  readonly jwksFetches: number;
  /** Names a person signing in through the dev login form is given roles by (their login name -> roles). */
  personRoles: Map<string, string[]>;
  close(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateJwk: JWK;
  privateKey: CryptoKey;
}

async function newKey(n: number): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `key-${n}-${Math.random().toString(36).slice(2, 8)}`;
  return { kid, privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' }, privateKey };
}

export async function startTestProvider(opts: { services: ServiceClient[]; introspector?: ServiceClient }): Promise<TestProvider> {
  const portalRedirectUris: string[] = [];
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  let jwksFetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/jwks')) jwksFetches++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const rolesOf = new Map(opts.services.map((c) => [c.clientId, c.roles ?? []]));
  const personRoles = new Map<string, string[]>();
  let keys: SigningKey[] = [await newKey(1)];

  const build = (): { callback(): unknown } => {
    const clients: Record<string, unknown>[] = [
      ...[...opts.services, ...(opts.introspector ? [opts.introspector] : [])].map((c) => ({
        client_id: c.clientId,
        client_secret: c.secret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      })),
    ];
    if (portalRedirectUris.length)
      clients.push({
        client_id: 'countersign-portal',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: portalRedirectUris,
      });
    const provider = new Provider(issuer, {
      clients: clients as never,
      jwks: { keys: keys.map((k) => k.privateJwk) as never },
      pkce: { required: () => true },
      features: {
        devInteractions: { enabled: true },
        clientCredentials: { enabled: true },
        introspection: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => API_AUDIENCE,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, resource: string) => {
            if (resource !== API_AUDIENCE && resource !== OPAQUE_AUDIENCE) throw new Error('unknown resource');
            return { scope: 'openid profile email', audience: resource, accessTokenFormat: resource === OPAQUE_AUDIENCE ? 'opaque' : 'jwt', accessTokenTTL: 600 };
          },
        },
      },
      // The roles claim: a service client's configured roles, or a person's by login name.
      extraTokenClaims: async (_ctx: unknown, token: { clientId?: string; accountId?: string }) => {
        const roles = token.accountId ? personRoles.get(token.accountId) : token.clientId ? rolesOf.get(token.clientId) : undefined;
        return roles?.length ? { roles } : undefined;
      },
      findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub, email: `${sub}@example.test` }) }),
      claims: { openid: ['sub'], email: ['email'] },
      cookies: { keys: ['test-cookie-key-0123456789'] },
      loadExistingGrant: async (ctx: any) => {
        // Consent is implied for the test clients: a grant covering what was asked.
        const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
        grant.addOIDCScope('openid profile email');
        grant.addResourceScope(API_AUDIENCE, 'openid profile email');
        await grant.save();
        return grant;
      },
    } as never);
    provider.proxy = false;
    return provider;
  };
  handler = build().callback() as never;

  const post = async (path: string, body: URLSearchParams, auth: string) => {
    const res = await fetch(`${issuer}${path}`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  return {
    issuer,
    personRoles,
    get jwksFetches() {
      return jwksFetches;
    },
    async sign(claims, o = {}) {
      const key = keys[0]!;
      const jwt = new SignJWT({ ...claims }).setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? key.kid, typ: 'at+jwt' }).setIssuedAt();
      if (!('iss' in claims)) jwt.setIssuer(issuer);
      if (!('exp' in claims)) jwt.setExpirationTime(o.expiresIn ?? '5m');
      return jwt.sign(key.privateKey);
    },
    async clientCredentials(client, resource = API_AUDIENCE) {
      const auth = `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}`;
      const r = await post('/token', new URLSearchParams({ grant_type: 'client_credentials', resource, scope: 'openid' }), auth);
      return r.access_token as string;
    },
    allowPortal(uri) {
      portalRedirectUris.push(uri);
      handler = build().callback() as never;
    },
    async rotate(dropOld = false) {
      const next = await newKey(keys.length + 1);
      keys = dropOld ? [next] : [next, ...keys];
      handler = build().callback() as never;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
