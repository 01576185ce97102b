/** Where http-01 answers are kept: the store, so that every node answers the CA (CertificateStore implements it). */
export interface ChallengeStore {
  putAcmeChallenge(token: string, keyAuthorization: string, expiresAt: string): Promise<void>;
  getAcmeChallenge(token: string, now: string): Promise<string | null>;
  deleteAcmeChallenge(token: string): Promise<void>;
}

/**
 * The built-in http-01 responder: token -> key authorization, held while a challenge is being
 * validated (and at most `ttlMs`, should the node placing the order stop). Served without
 * authentication at GET /.well-known/acme-challenge/{token} (src/api/acme-challenge-routes.ts) by
 * any node: the answer is public by design (RFC 8555 8.3).
 */
export class ChallengeResponder {
  constructor(
    private readonly store: ChallengeStore,
    private readonly ttlMs: number,
  ) {}

  put(token: string, keyAuthorization: string): Promise<void> {
    return this.store.putAcmeChallenge(token, keyAuthorization, new Date(Date.now() + this.ttlMs).toISOString());
  }

  remove(token: string): Promise<void> {
    return this.store.deleteAcmeChallenge(token);
  }

  /** RFC 8555 8.1: tokens are base64url; anything else is not ours (and never reaches the store). */
  async answer(token: string): Promise<string | null> {
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(token)) return null;
    return this.store.getAcmeChallenge(token, new Date().toISOString());
  }
}
