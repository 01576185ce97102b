import type { Session } from './api.ts';
import { BASE } from './router.tsx';

/*
 * Signing in through an OpenID provider: the authorization code flow with PKCE (RFC 7636) as a
 * public client. The browser goes to the provider, comes back to /KeyfactorPortal/signin/callback
 * with a code, and trades it (with the verifier only this tab knows) for an access token at the
 * provider's token endpoint. The token is the portal's credential from then on (Authorization:
 * Bearer), kept for this tab only, like Basic credentials; when it expires the API answers 401
 * and the portal asks to sign in again.
 */

export interface Provider {
  Name: string;
  Issuer: string;
  ClientId: string;
  Scopes: string;
  AccountDomain: string;
  AuthorizationEndpoint: string;
  TokenEndpoint: string;
}

export const CALLBACK_PATH = '/signin/callback';
const PENDING_KEY = 'countersign.portal.pkce';

export async function signInProviders(): Promise<Provider[]> {
  try {
    const res = await fetch(`${BASE}/sign-in/providers`, { credentials: 'omit', cache: 'no-store' });
    if (!res.ok) return [];
    const body = (await res.json()) as { Providers?: Provider[] };
    return Array.isArray(body.Providers) ? body.Providers : [];
  } catch {
    return [];
  }
}

const base64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const randomText = (n: number): string => base64url(crypto.getRandomValues(new Uint8Array(n)));
const redirectUri = (): string => `${window.location.origin}${BASE}${CALLBACK_PATH}`;

/** Leaves for the provider's sign-in page. */
export async function startSignIn(p: Provider): Promise<void> {
  const verifier = randomText(32);
  const state = randomText(16);
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, provider: p }));
  const url = new URL(p.AuthorizationEndpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: p.ClientId,
    redirect_uri: redirectUri(),
    scope: p.Scopes,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  window.location.assign(url.toString());
}

/** Back from the provider: checks the state, trades the code for an access token. */
export async function finishSignIn(search: URLSearchParams): Promise<Session> {
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  const pending = raw ? (JSON.parse(raw) as { verifier: string; state: string; provider: Provider }) : null;
  if (search.get('error')) throw new Error(`The identity provider refused the sign-in: ${search.get('error_description') ?? search.get('error')}.`);
  if (!pending || !search.get('code') || search.get('state') !== pending.state) throw new Error('This sign-in answer does not belong to a sign-in started here. Start again.');
  const res = await fetch(pending.provider.TokenEndpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: search.get('code')!,
      redirect_uri: redirectUri(),
      client_id: pending.provider.ClientId,
      code_verifier: pending.verifier,
    }).toString(),
    credentials: 'omit',
  });
  const body = (await res.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
  if (!res.ok || typeof body.access_token !== 'string') throw new Error(`The identity provider did not give a token (${body.error_description ?? body.error ?? res.status}).`);
  return { user: `${pending.provider.AccountDomain}\\${subjectOf(body.access_token) ?? pending.provider.Name}`, auth: `Bearer ${body.access_token}` };
}

/** The subject of a JWT access token, for display and "is this mine" checks; the server verifies the token itself. */
function subjectOf(token: string): string | null {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown; client_id?: unknown };
    return typeof payload.sub === 'string' ? payload.sub : null;
  } catch {
    return null;
  }
}
