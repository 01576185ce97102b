import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

/*
 * A minimal OpenID issuer for the benchmark's bearer-token HTTP line: a discovery document and a
 * JWKS on loopback, and RS256 access tokens signed here for the benchmark's approvers (subject
 * approverNN, account domain BENCH, so each token acts as the same identity BENCH\approverNN the
 * Basic line signs in as). The server under test verifies them exactly as it would any issuer's.
 */

export const BENCH_AUDIENCE = 'https://countersign.bench/api';

export interface BenchIssuer {
  issuer: string;
  /** The environment that makes the server under test trust this issuer. */
  env: Record<string, string>;
  tokenFor(accountName: string): Promise<string>;
  close(): Promise<void>;
}

export async function startBenchIssuer(): Promise<BenchIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'RS256', use: 'sig' };
  let issuer = '';
  const server: Server = createServer((req, res) => {
    const body = req.url === '/.well-known/openid-configuration' ? { issuer, jwks_uri: `${issuer}/jwks` } : req.url === '/jwks' ? { keys: [jwk] } : null;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    env: {
      COUNTERSIGN_OIDC_ISSUER: issuer,
      COUNTERSIGN_OIDC_AUDIENCE: BENCH_AUDIENCE,
      COUNTERSIGN_OIDC_ACCOUNT_DOMAIN: 'BENCH',
      COUNTERSIGN_OIDC_EGRESS_ALLOW: '127.0.0.1',
    },
    tokenFor: (accountName) =>
      new SignJWT({ scope: 'openid' })
        .setProtectedHeader({ alg: 'RS256', kid: 'bench-1', typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(BENCH_AUDIENCE)
        .setSubject(accountName.replace(/^BENCH\\/, ''))
        .setIssuedAt()
        .setExpirationTime('2h')
        .sign(privateKey),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
