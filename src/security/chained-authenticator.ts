import type { Authenticator, Principal } from './principal.ts';

/**
 * Several ways to sign in behind one Authenticator: each looks only at its own scheme (Basic,
 * Bearer) and answers null for the others, so the first principal found wins. A 401 offers every
 * scheme (RFC 9110 allows several challenges in one WWW-Authenticate header).
 */
export class ChainedAuthenticator implements Authenticator {
  readonly challenge: string;

  constructor(private readonly chain: readonly Authenticator[]) {
    this.challenge = chain.map((a) => a.challenge).join(', ');
  }

  async authenticate(authorization: string | undefined, remoteAddress: string): Promise<Principal | null> {
    for (const a of this.chain) {
      const p = await a.authenticate(authorization, remoteAddress);
      if (p) return p;
    }
    return null;
  }
}
