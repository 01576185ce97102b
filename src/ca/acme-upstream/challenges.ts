/**
 * The built-in http-01 responder's memory: token -> key authorization, held only while a
 * challenge of this node is being validated. Served without authentication at
 * GET /.well-known/acme-challenge/{token} (src/api/acme-challenge-routes.ts): the answer is public
 * by design (RFC 8555 8.3). Tokens are per node: behind a load balancer the CA's validation
 * request must reach the node that placed the order (docs/certificates.md, "ACME upstream").
 */
export class ChallengeResponder {
  private readonly tokens = new Map<string, string>();

  put(token: string, keyAuthorization: string): void {
    this.tokens.set(token, keyAuthorization);
  }

  remove(token: string): void {
    this.tokens.delete(token);
  }

  /** RFC 8555 8.1: tokens are base64url; anything else is not ours. */
  answer(token: string): string | null {
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(token)) return null;
    return this.tokens.get(token) ?? null;
  }
}
