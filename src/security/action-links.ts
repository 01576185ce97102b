import { createHmac, timingSafeEqual } from 'node:crypto';

/** Where one-click links point (api/action-pages.ts serves them; the runner writes them into mail). */
export const ACTION_PATH = '/Countersign/Act';

/**
 * One-click links. A link carries a signed claim: this identity may take this action (one the
 * step type declares in oneClickActions, e.g. Approve) on this step of this instance until this
 * time. It is bound to one person and one step visit (steps are visited once per instance); it
 * is single use because a second signal by the same identity on the same step is a duplicate
 * (or, if different, refused).
 */
export interface ActionClaim {
  instanceId: string;
  step: string;
  identityId: number;
  /** A key of the step type's oneClickActions. */
  action: string;
  /** Expiry, ms since epoch. */
  expires: number;
}

const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export function signAction(claim: ActionClaim, secret: string): string {
  const body = b64(JSON.stringify({ i: claim.instanceId, s: claim.step, u: claim.identityId, a: claim.action, x: claim.expires }));
  return `${body}.${mac(body, secret)}`;
}

export type VerifyResult = { ok: true; claim: ActionClaim } | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

export function verifyAction(token: string, secret: string, now = Date.now()): VerifyResult {
  const m = /^([A-Za-z0-9_-]{10,2000})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(mac(m[1], secret));
  const given = Buffer.from(m[2]);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'signature' };
  let raw: { i?: unknown; s?: unknown; u?: unknown; a?: unknown; d?: unknown; x?: unknown };
  try {
    raw = JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  // Links made before actions were named carry d: 1 (approve) or 0 (deny); they keep that meaning.
  const action = typeof raw.a === 'string' ? raw.a : raw.d === 1 ? 'Approve' : raw.d === 0 ? 'Deny' : null;
  if (typeof raw.i !== 'string' || typeof raw.s !== 'string' || typeof raw.u !== 'number' || action === null || action === '' || typeof raw.x !== 'number')
    return { ok: false, reason: 'malformed' };
  if (raw.x < now) return { ok: false, reason: 'expired' };
  return { ok: true, claim: { instanceId: raw.i, step: raw.s, identityId: raw.u, action, expires: raw.x } };
}

const mac = (body: string, secret: string): string => createHmac('sha256', secret).update(`countersign-action/${body}`).digest('base64url');
