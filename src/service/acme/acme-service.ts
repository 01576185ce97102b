import { createHash, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import * as jose from 'jose';
import { decodeCsr } from '../../certificates/csr.ts';
import { toPem } from '../../certificates/x509.ts';
import { AcmeProblem, acmeFail, problem } from '../../domain/acme/problems.ts';
import {
  authzStatusAt,
  challengeTypesFor,
  checkOrderIdentifiers,
  csrMismatches,
  defaultProfile,
  isCidr,
  keyAuthorization,
  normalizeDnsName,
  orderStatusAt,
} from '../../domain/acme/policy.ts';
import { CHALLENGE_TYPES, type AcmeAccount, type AcmeAuthz, type AcmeChallenge, type AcmeOrder, type AcmeProfile, type EabKey } from '../../domain/acme/types.ts';
import { CountersignError, fail } from '../../domain/errors.ts';
import type { JsonObject } from '../../domain/types.ts';
import type { Logger } from 'pino';
import { principalFor, type Principal } from '../../security/principal.ts';
import type { Store } from '../../store/store.ts';
import type { CertificateService } from '../certificates.ts';
import { validateDns01, validateHttp01, type ValidationResult, type ValidationSettings } from './validation.ts';

export const newId = (): string => randomBytes(16).toString('base64url');
/** Words of the ACME paths, which a profile name would shadow. */
export const RESERVED_PROFILE_NAMES = new Set(['directory', 'new-nonce', 'new-account', 'new-order', 'revoke-cert', 'key-change', 'acct', 'order', 'authz', 'chall', 'cert']);
const NONCE_TTL_MS = 60 * 60_000;
const AUTHZ_LIFETIME_MS = 7 * 24 * 3600_000;
/** Seconds a client waits before polling a processing order again (approvals take people). */
export const PROCESSING_RETRY_AFTER = 3;

export interface AcmeSettings {
  validation: ValidationSettings;
}

/** A verified account key: the JWK and its RFC 7638 thumbprint. */
export interface AccountKey {
  jwk: jose.JWK;
  thumbprint: string;
}

/**
 * The ACME server's orchestration: accounts, orders, authorizations and challenges kept in the
 * store, validation (validation.ts), and finalize as an enrollment through the template's
 * Enrollment workflow. The JWS layer (src/api/acme) hands in verified keys and payloads.
 */
export class AcmeService {
  constructor(
    private readonly store: Store,
    private readonly certificates: CertificateService,
    readonly settings: AcmeSettings,
    private readonly log: Logger,
  ) {}

  private get acme() {
    return this.store.acme;
  }

  private now(): string {
    return new Date().toISOString();
  }

  // Profiles -------------------------------------------------------------------------------------

  async profile(name: string): Promise<AcmeProfile> {
    const n = name.toLowerCase();
    const stored = await this.acme.getProfile(n);
    if (stored) return stored;
    if (n === 'default') return defaultProfile();
    throw new AcmeProblem('malformed', `No ACME profile '${name.slice(0, 64)}'.`, [], 404);
  }

  listProfiles(): Promise<AcmeProfile[]> {
    return this.acme.listProfiles();
  }

  /** Creates or replaces a profile after checking its template, CA and lists. */
  async putProfile(p: AcmeProfile): Promise<AcmeProfile> {
    const name = p.name.toLowerCase();
    if (!/^[a-z0-9_-]{1,64}$/.test(name) || RESERVED_PROFILE_NAMES.has(name))
      fail('ValidationFailed', `'${p.name}' cannot name a profile: letters, digits, - and _ (and not an ACME path word).`);
    const template = p.template === null ? null : await this.certificates.resolveTemplate(p.template, null);
    if (template) this.certificates.resolveCa(p.certificateAuthority, template);
    if (p.challengeTypes.length === 0 || p.challengeTypes.some((c) => !CHALLENGE_TYPES.includes(c)))
      fail('ValidationFailed', `ChallengeTypes must be a non-empty subset of ${CHALLENGE_TYPES.join(', ')}.`);
    for (const d of p.allowedDomains) if (!normalizeDnsName(d) || d.startsWith('*')) fail('ValidationFailed', `AllowedDomains: '${d}' is not a DNS name.`);
    for (const c of p.allowedIpRanges) if (!isCidr(c)) fail('ValidationFailed', `AllowedIpRanges: '${c}' is not a CIDR.`);
    if (!Number.isInteger(p.orderLifetimeSeconds) || p.orderLifetimeSeconds < 60 || p.orderLifetimeSeconds > 90 * 86400)
      fail('ValidationFailed', 'OrderLifetimeSeconds must be 60 to 7776000.');
    if (!Number.isInteger(p.maxPendingOrders) || p.maxPendingOrders < 1 || p.maxPendingOrders > 100_000) fail('ValidationFailed', 'MaxPendingOrders must be 1 to 100000.');
    const stored = { ...p, name, template: template?.commonName ?? null, allowedDomains: p.allowedDomains.map((d) => normalizeDnsName(d)!) };
    await this.acme.putProfile(stored);
    return stored;
  }

  deleteProfile(name: string): Promise<boolean> {
    return this.acme.deleteProfile(name);
  }

  /** A new EAB key for an identity: the HMAC key is returned once and kept sealed. */
  async createEabKey(accountName: string, profile: string | null, by: Principal): Promise<{ key: EabKey; hmac: string }> {
    const identity = (await this.store.findIdentityByName(accountName)) ?? fail('ValidationFailed', `No identity '${accountName}'.`);
    if (profile !== null) await this.profile(profile).catch(() => fail('ValidationFailed', `No ACME profile '${profile}'.`));
    const kid = newId();
    const secret = randomBytes(32);
    const key: EabKey = {
      kid,
      identityId: identity.id,
      profile: profile?.toLowerCase() ?? null,
      sealedKey: this.certificates.protector.seal(secret, `acme-eab:${kid}`),
      createdAt: this.now(),
      createdBy: by.identity.accountName,
      revokedAt: null,
      accountId: null,
    };
    await this.acme.insertEabKey(key);
    this.certificates.events.emit('acme.eab.created', { kid, identity: identity.accountName, profile: key.profile, by: by.identity.accountName });
    return { key, hmac: secret.toString('base64url') };
  }

  listEabKeys(): Promise<EabKey[]> {
    return this.acme.listEabKeys();
  }

  async revokeEabKey(kid: string, by: Principal): Promise<boolean> {
    const done = await this.acme.revokeEabKey(kid, this.now());
    if (done) this.certificates.events.emit('acme.eab.revoked', { kid, by: by.identity.accountName });
    return done;
  }

  // Nonces ---------------------------------------------------------------------------------------

  async newNonce(): Promise<string> {
    const nonce = randomBytes(16).toString('base64url');
    await this.acme.addNonce(nonce, Date.now() + NONCE_TTL_MS);
    return nonce;
  }

  consumeNonce(nonce: string): Promise<boolean> {
    return this.acme.consumeNonce(nonce, Date.now());
  }

  // Accounts -------------------------------------------------------------------------------------

  async findAccount(profile: AcmeProfile, id: string): Promise<AcmeAccount> {
    const account = await this.acme.getAccount(id);
    if (!account || account.profile !== profile.name) return acmeFail('accountDoesNotExist', 'No such account in this directory.');
    if (account.status !== 'valid') return acmeFail('unauthorized', `The account is ${account.status}.`);
    return account;
  }

  async findAccountByKey(profile: AcmeProfile, thumbprint: string): Promise<AcmeAccount | null> {
    return this.acme.findAccountByThumbprint(profile.name, thumbprint);
  }

  /**
   * newAccount (RFC 8555 §7.3). `eab` is the externalAccountBinding JWS, `url` the newAccount
   * URL it must name. Returns the account and whether it was created.
   */
  async newAccount(
    profile: AcmeProfile,
    key: AccountKey,
    payload: { contact?: unknown; onlyReturnExisting?: unknown; externalAccountBinding?: unknown },
    url: string,
  ): Promise<{ account: AcmeAccount; created: boolean }> {
    const existing = await this.acme.findAccountByThumbprint(profile.name, key.thumbprint);
    if (existing) {
      if (existing.status !== 'valid') acmeFail('unauthorized', `The account of this key is ${existing.status}.`);
      return { account: existing, created: false };
    }
    if (payload.onlyReturnExisting === true) acmeFail('accountDoesNotExist', 'No account exists for this key.');
    const contact = checkContact(payload.contact);
    const id = newId();
    let eab: EabKey | null = null;
    if (payload.externalAccountBinding !== undefined) eab = await this.verifyEab(profile, key, payload.externalAccountBinding, url);
    else if (profile.requireEab) acmeFail('externalAccountRequired', `ACME profile '${profile.name}' requires an External Account Binding (ask an administrator for an EAB key).`);
    const account: AcmeAccount = {
      id,
      profile: profile.name,
      thumbprint: key.thumbprint,
      jwk: key.jwk as Record<string, unknown>,
      status: 'valid',
      contact,
      identityId: eab?.identityId ?? null,
      eabKid: eab?.kid ?? null,
      createdAt: this.now(),
      rev: 1,
    };
    // Single use: the key is bound before the account exists; a lost race leaves the key bound to an id nobody holds (an admin issues a new key).
    if (eab && !(await this.acme.bindEabKey(eab.kid, id))) acmeFail('unauthorized', 'The EAB key is revoked or bound to another account.');
    const r = await this.acme.insertAccount(account);
    return r;
  }

  private async verifyEab(profile: AcmeProfile, key: AccountKey, raw: unknown, url: string): Promise<EabKey> {
    const jws = raw as jose.FlattenedJWSInput;
    if (!jws || typeof jws !== 'object' || typeof jws.protected !== 'string' || typeof jws.payload !== 'string' || typeof jws.signature !== 'string')
      acmeFail('malformed', 'externalAccountBinding must be a flattened JWS.');
    let header: jose.ProtectedHeaderParameters;
    try {
      header = jose.decodeProtectedHeader(jws as jose.FlattenedJWS);
    } catch {
      return acmeFail('malformed', 'The externalAccountBinding protected header is not readable.');
    }
    if (typeof header.kid !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(header.kid) || !/^HS(256|384|512)$/.test(String(header.alg)))
      acmeFail('malformed', 'externalAccountBinding needs a kid (as issued) and an HMAC alg (HS256).');
    if (header.url !== url) acmeFail('unauthorized', 'externalAccountBinding url must be the newAccount URL.');
    if ('nonce' in header) acmeFail('malformed', 'externalAccountBinding must not carry a nonce.');
    const eab = await this.acme.getEabKey(header.kid as string);
    if (!eab || eab.revokedAt || (eab.profile !== null && eab.profile !== profile.name)) return acmeFail('unauthorized', 'Unknown or revoked EAB key id.');
    if (eab.accountId !== null) acmeFail('unauthorized', 'This EAB key is already bound to an account.');
    const secret = this.certificates.protector.open(eab.sealedKey, `acme-eab:${eab.kid}`);
    let verified: jose.FlattenedVerifyResult;
    try {
      verified = await jose.flattenedVerify(jws, new Uint8Array(secret), { algorithms: ['HS256', 'HS384', 'HS512'] });
    } catch {
      return acmeFail('unauthorized', 'The externalAccountBinding signature does not verify with the EAB key.');
    }
    let inner: jose.JWK;
    try {
      inner = JSON.parse(new TextDecoder().decode(verified.payload)) as jose.JWK;
      if ((await jose.calculateJwkThumbprint(inner, 'sha256')) !== key.thumbprint) throw new Error('other key');
    } catch {
      return acmeFail('unauthorized', 'The externalAccountBinding payload must be the account key.');
    }
    return eab;
  }

  async updateAccount(account: AcmeAccount, payload: { contact?: unknown; status?: unknown }): Promise<AcmeAccount> {
    return this.retry(
      () => this.acme.getAccount(account.id),
      (a) => {
        const next = { ...a };
        if (payload.contact !== undefined) next.contact = checkContact(payload.contact);
        if (payload.status !== undefined) {
          if (payload.status !== 'deactivated') acmeFail('malformed', 'An account can only be updated to status "deactivated".');
          next.status = 'deactivated';
        }
        return next;
      },
      (a, rev) => this.acme.saveAccount(a, rev),
    );
  }

  /** keyChange (§7.3.5): the account now answers to `newKey`; false when another account has it. */
  async changeKey(account: AcmeAccount, newKey: AccountKey): Promise<AcmeAccount> {
    if (await this.acme.findAccountByThumbprint(account.profile, newKey.thumbprint)) throw new AcmeProblem('malformed', 'Another account already uses the new key.', [], 409);
    const next = { ...account, jwk: newKey.jwk as Record<string, unknown>, thumbprint: newKey.thumbprint };
    if (!(await this.acme.saveAccount(next, account.rev))) throw new AcmeProblem('malformed', 'The account changed meanwhile, or the new key is taken; try again.', [], 409);
    return { ...next, rev: account.rev + 1 };
  }

  async listOrderIds(account: AcmeAccount): Promise<string[]> {
    return this.acme.listOrderIds(account.id, 1000);
  }

  // Orders ---------------------------------------------------------------------------------------

  async newOrder(profile: AcmeProfile, account: AcmeAccount, payload: { identifiers?: unknown; notBefore?: unknown; notAfter?: unknown }): Promise<AcmeOrder> {
    if (payload.notBefore !== undefined || payload.notAfter !== undefined) acmeFail('malformed', 'notBefore and notAfter are not supported: validity comes from the template.');
    const identifiers = checkOrderIdentifiers(profile, payload.identifiers);
    const now = this.now();
    const pending = await this.acme.countPendingOrders(account.id, now);
    if (pending >= profile.maxPendingOrders)
      throw new AcmeProblem(
        'rateLimited',
        `This account has ${pending} pending orders; ACME profile '${profile.name}' allows ${profile.maxPendingOrders}. Finish or let some expire first.`,
      );
    const orderId = newId();
    const expires = new Date(Date.now() + profile.orderLifetimeSeconds * 1000).toISOString();
    const authzExpires = new Date(Math.min(Date.now() + AUTHZ_LIFETIME_MS, Date.parse(expires))).toISOString();
    const authzs: AcmeAuthz[] = identifiers.map(({ identifier, wildcard }) => ({
      id: newId(),
      orderId,
      accountId: account.id,
      identifier: wildcard ? { type: 'dns', value: identifier.value.slice(2) } : identifier,
      wildcard,
      status: 'pending',
      expires: authzExpires,
      challenges: challengeTypesFor(profile, identifier, wildcard).map((type) => ({
        id: newId(),
        type,
        token: newId(),
        status: 'pending',
        validated: null,
        error: null,
        record: null,
      })),
      rev: 1,
    }));
    for (const a of authzs)
      if (a.challenges.length === 0)
        acmeFail('rejectedIdentifier', `ACME profile '${profile.name}' offers no challenge type that can validate ${a.identifier.type} ${a.identifier.value}.`);
    const order: AcmeOrder = {
      id: orderId,
      accountId: account.id,
      profile: profile.name,
      status: 'pending',
      expires,
      identifiers: identifiers.map((i) => i.identifier),
      authzIds: authzs.map((a) => a.id),
      notBefore: null,
      notAfter: null,
      requestId: null,
      certificateId: null,
      error: null,
      createdAt: now,
      rev: 1,
    };
    await this.acme.insertOrder(order, authzs);
    return order;
  }

  /** The order as it stands now: authorization outcomes and the enrollment's progress folded in. */
  async order(account: AcmeAccount, id: string): Promise<AcmeOrder> {
    const order = await this.acme.getOrder(id);
    if (!order || order.accountId !== account.id) return acmeFail('unauthorized', 'No such order for this account.');
    return this.refresh(order);
  }

  private async refresh(order: AcmeOrder): Promise<AcmeOrder> {
    const now = this.now();
    let next: AcmeOrder | null = null;
    if (order.status === 'pending' || order.status === 'ready') {
      const status = orderStatusAt(order, await this.acme.listAuthzs(order.id), now);
      if (status !== order.status)
        next = { ...order, status, error: status === 'invalid' && !order.error ? problem('unauthorized', 'An authorization of this order failed or expired.') : order.error };
    } else if (order.status === 'processing' && order.requestId !== null) {
      next = await this.settle(order);
    }
    if (!next) return order;
    if (await this.acme.saveOrder(next, order.rev)) return { ...next, rev: order.rev + 1 };
    return (await this.acme.getOrder(order.id)) ?? order;
  }

  /** A processing order's enrollment: issued -> valid; rejected or failed -> invalid with the reason. */
  private async settle(order: AcmeOrder): Promise<AcmeOrder | null> {
    const request = await this.store.certificates.getRequest(order.requestId!);
    if (!request) return { ...order, status: 'invalid', error: problem('serverInternal', 'The enrollment request of this order is gone.') };
    const d = await this.certificates.enrollment.dispositionOf(request);
    if (d.disposition === 'ISSUED') return { ...order, status: 'valid', certificateId: d.certificate!.id };
    if (d.disposition === 'PENDING') return null;
    const reason = d.instance ? await this.denialReason(d.instance.id, d.instance.statusMessage) : 'The enrollment did not complete.';
    return { ...order, status: 'invalid', error: problem('unauthorized', `${d.disposition === 'DENIED' ? 'Denied' : 'Failed'}: ${reason}`) };
  }

  /** What the approvers said: the comments of the denials in the instance's history, then its status message. */
  private async denialReason(instanceId: string, statusMessage: string | null): Promise<string> {
    const history = await this.store.getHistory(instanceId);
    const comments = history.filter((h) => /^Denied: /.test(h.message)).map((h) => `${h.actor ? `${h.actor}: ` : ''}${h.message.replace(/^Denied: /, '')}`);
    return [...comments, statusMessage ?? ''].filter(Boolean).join(' ').slice(0, 2000) || 'The workflow ended without a certificate.';
  }

  async authz(account: AcmeAccount, id: string): Promise<AcmeAuthz> {
    const a = await this.acme.getAuthz(id);
    if (!a || a.accountId !== account.id) return acmeFail('unauthorized', 'No such authorization for this account.');
    const status = authzStatusAt(a, this.now());
    return status === a.status ? a : { ...a, status };
  }

  async deactivateAuthz(account: AcmeAccount, id: string): Promise<AcmeAuthz> {
    return this.retry(
      () => this.authz(account, id),
      (a) => {
        if (a.status !== 'pending' && a.status !== 'valid') acmeFail('malformed', `The authorization is ${a.status}.`);
        return { ...a, status: 'deactivated' };
      },
      (a, rev) => this.acme.saveAuthz(a, rev),
    );
  }

  /**
   * A client says a challenge is ready (§7.5.1): the server validates now, within the request
   * (bounded by the validation timeout), and answers with the outcome.
   */
  async respondChallenge(account: AcmeAccount, authzId: string, challengeId: string): Promise<{ authz: AcmeAuthz; challenge: AcmeChallenge }> {
    const a = await this.authz(account, authzId);
    const ch = a.challenges.find((c) => c.id === challengeId) ?? acmeFail('malformed', 'No such challenge.');
    if (a.status !== 'pending' || ch.status !== 'pending') return { authz: a, challenge: ch };
    const claimed: AcmeAuthz = { ...a, challenges: a.challenges.map((c) => (c.id === ch.id ? { ...c, status: 'processing' } : c)) };
    // Another request (or node) is validating this authorization: answer what it sees.
    if (!(await this.acme.saveAuthz(claimed, a.rev))) {
      const now = (await this.acme.getAuthz(authzId))!;
      return { authz: now, challenge: now.challenges.find((c) => c.id === challengeId)! };
    }
    const keyAuth = keyAuthorization(ch.token, account.thumbprint);
    const result = await (ch.type === 'http-01'
      ? validateHttp01(this.settings.validation, a.identifier, ch.token, keyAuth)
      : validateDns01(this.settings.validation, a.identifier, keyAuth)
    ).catch((err: unknown): ValidationResult => {
      // A bug, not the client's doing: the challenge must not stay processing.
      this.log.error({ err, component: 'acme' }, 'challenge validation failed unexpectedly');
      return { ok: false, problem: problem('serverInternal', 'Validation failed inside the server; it has been logged.'), record: {} };
    });
    const done: AcmeChallenge = result.ok
      ? { ...ch, status: 'valid', validated: this.now(), error: null, record: result.record }
      : { ...ch, status: 'invalid', error: result.problem, record: result.record };
    const final: AcmeAuthz = { ...claimed, status: result.ok ? 'valid' : 'invalid', challenges: claimed.challenges.map((c) => (c.id === ch.id ? done : c)) };
    await this.acme.saveAuthz(final, a.rev + 1);
    this.log.info({ component: 'acme', account: account.id, identifier: a.identifier.value, challenge: ch.type, outcome: done.status }, 'acme challenge validated');
    return { authz: { ...final, rev: a.rev + 2 }, challenge: done };
  }

  /**
   * finalize (§7.4): the CSR must ask for exactly the order's identifiers; then it is enrolled
   * through the profile's template, whose Enrollment workflow decides (approval or not).
   */
  async finalize(profile: AcmeProfile, account: AcmeAccount, orderId: string, csrB64u: unknown): Promise<AcmeOrder> {
    const order = await this.order(account, orderId);
    if (order.status !== 'ready') acmeFail('orderNotReady', `The order is ${order.status}, not ready.`);
    if (typeof csrB64u !== 'string' || !/^[A-Za-z0-9_-]+$/.test(csrB64u)) acmeFail('malformed', 'csr must be the base64url DER of a PKCS#10 request.');
    let decoded: Awaited<ReturnType<typeof decodeCsr>>;
    try {
      decoded = await decodeCsr(new Uint8Array(Buffer.from(csrB64u as string, 'base64url')));
    } catch (e) {
      return acmeFail('badCSR', `The CSR cannot be read: ${(e as Error).message}`);
    }
    if (!decoded.signatureValid) acmeFail('badCSR', 'The CSR signature does not verify with its own key.');
    if (decoded.publicKeyDer && Buffer.from(decoded.publicKeyDer).equals(await spkiOfJwk(account.jwk))) acmeFail('badCSR', 'The CSR must not use the account key.');
    const { dns = [], ip = [], ...others } = decoded.sans;
    const mismatches = csrMismatches(order.identifiers, {
      commonNames: decoded.subjectParts.CN ?? [],
      dns,
      ips: ip,
      other: Object.entries(others).flatMap(([k, v]) => v.map((x) => `${k}:${x}`)),
    });
    if (mismatches.length) acmeFail('badCSR', `The CSR does not match the order: ${mismatches.join('; ')}.`);
    // Everything that can refuse comes before the order is claimed, so a refusal never strands it in processing.
    const principal = await this.requester(profile, account);
    const authzs = await this.acme.listAuthzs(order.id);
    const context: JsonObject = {
      Account: account.id,
      Profile: profile.name,
      Contact: account.contact,
      Identifiers: order.identifiers.map((i) => `${i.type}:${i.value}`),
      Validation: authzs.map((a) => {
        const ch = a.challenges.find((c) => c.status === 'valid');
        return `${a.identifier.value}: ${ch ? `${ch.type} valid at ${ch.validated} (${Object.values(ch.record ?? {}).join(', ')})` : a.status}`;
      }),
    };
    const processing: AcmeOrder = { ...order, status: 'processing' };
    if (!(await this.acme.saveOrder(processing, order.rev))) acmeFail('orderNotReady', 'The order is being finalized by another request.');
    let current: AcmeOrder = { ...processing, rev: order.rev + 1 };
    let next: AcmeOrder;
    try {
      const template = profile.template ?? (await this.store.certificates.listTemplates())[0]?.commonName ?? null;
      const outcome = await this.certificates.enrollment.enroll(
        {
          kind: 'CSR',
          csr: toPem(decoded.der, 'CERTIFICATE REQUEST'),
          privateKey: null,
          subject: null,
          keyType: null,
          keyLength: null,
          curve: null,
          template,
          enrollmentPatternId: null,
          certificateAuthority: profile.certificateAuthority,
          sans: {},
          metadata: {},
          additionalFields: {},
          includeChain: true,
          deliverKeyNow: false,
          acme: context,
        },
        principal,
      );
      next = { ...current, requestId: outcome.requestId };
      if (outcome.disposition === 'ISSUED') next = { ...next, status: 'valid', certificateId: outcome.certificate!.id };
      else if (outcome.disposition !== 'PENDING') next = (await this.settle(next)) ?? { ...next, status: 'invalid', error: problem('unauthorized', outcome.message) };
    } catch (e) {
      if (!(e instanceof CountersignError) || e.status >= 500) {
        // Not the client's fault: back to ready so the client may finalize again.
        await this.acme.saveOrder({ ...current, status: 'ready' }, current.rev);
        throw e;
      }
      next = { ...current, status: 'invalid', error: problem('badCSR', e.message) };
      await this.acme.saveOrder(next, current.rev);
      throw new AcmeProblem('badCSR', e.message);
    }
    await this.acme.saveOrder(next, current.rev);
    current = { ...next, rev: current.rev + 1 };
    return current;
  }

  /** Who the enrollment is for: the EAB-bound identity, else the profile's service identity `ACME\<profile>`. */
  private async requester(profile: AcmeProfile, account: AcmeAccount): Promise<Principal> {
    if (account.identityId !== null) {
      const identity = await this.store.getIdentity(account.identityId);
      if (!identity) acmeFail('unauthorized', 'The Countersign identity this account is bound to no longer exists.');
      return principalFor(this.store, identity!);
    }
    const name = `ACME\\${profile.name}`;
    let identity = await this.store.findIdentityByName(name);
    if (!identity) {
      try {
        identity = await this.store.createIdentity({ accountName: name, identityType: 'User', sid: null, email: null, passwordHash: null, createdAt: this.now() });
      } catch {
        identity = await this.store.findIdentityByName(name);
      }
    }
    return principalFor(this.store, identity!);
  }

  /** The PEM chain of a valid order's certificate (leaf, issuing CA, root). */
  async certificateChain(account: AcmeAccount, orderId: string): Promise<string> {
    const order = await this.acme.getOrder(orderId);
    if (!order || order.accountId !== account.id) return acmeFail('unauthorized', 'No such certificate for this account.');
    if (order.status !== 'valid' || order.certificateId === null) return acmeFail('malformed', 'The order has no certificate (yet).');
    const cert = await this.store.certificates.getCertificate(order.certificateId);
    if (!cert) return acmeFail('malformed', 'The certificate was deleted.');
    return [cert.der, ...this.certificates.chainOf(cert.caId)].map((d) => toPem(d)).join('');
  }

  /**
   * revokeCert (§7.6): signed by the account that ordered the certificate (kid), or by the
   * certificate's own key (jwk). Reasons as RFC 5280 (0-10 but 7).
   */
  async revoke(profile: AcmeProfile, account: AcmeAccount | null, key: AccountKey | null, payload: { certificate?: unknown; reason?: unknown }): Promise<void> {
    if (typeof payload.certificate !== 'string' || !/^[A-Za-z0-9_-]+$/.test(payload.certificate)) acmeFail('malformed', 'certificate must be base64url DER.');
    const reason = payload.reason === undefined ? 0 : payload.reason;
    if (typeof reason !== 'number' || !Number.isInteger(reason) || reason < 0 || reason > 10 || reason === 7)
      acmeFail('badRevocationReason', 'reason must be an RFC 5280 reason code (0-10, not 7).');
    const der = Buffer.from(payload.certificate as string, 'base64url');
    const thumbprint = createHash('sha1').update(der).digest('hex').toUpperCase();
    const cert = await this.store.certificates.findCertificate({ thumbprint });
    if (!cert || !Buffer.from(cert.der).equals(der)) return acmeFail('malformed', 'This server did not issue that certificate.');
    if (account) {
      const order = await this.acme.findOrderByCertificate(cert.id);
      if (!order || order.accountId !== account.id || order.profile !== profile.name) acmeFail('unauthorized', 'This account did not order that certificate.');
    } else {
      let spki: Buffer;
      try {
        spki = Buffer.from(new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' }));
      } catch {
        return acmeFail('malformed', 'The certificate cannot be read.');
      }
      if (!key || !spki.equals(await spkiOfJwk(key.jwk as Record<string, unknown>)))
        acmeFail('unauthorized', 'The request must be signed by the account that ordered the certificate or by its key.');
    }
    const actor = account ? `ACME account ${account.id}` : 'ACME (certificate key)';
    let revoked: boolean;
    try {
      revoked = await this.certificates.revokeCertificate(cert, reason as number, actor);
    } catch (e) {
      // The revocation rules refused it (a reason Countersign does not take, a hold on a held certificate): say why.
      if (e instanceof CountersignError && e.status < 500) return acmeFail('badRevocationReason', e.message);
      throw e;
    }
    if (!revoked) acmeFail('alreadyRevoked', 'The certificate is revoked already.');
  }

  /** Load, change with a pure function, save on the revision read; again if another writer came first. */
  private async retry<T extends { rev: number }>(load: () => Promise<T | null>, change: (t: T) => T, save: (t: T, rev: number) => Promise<boolean>): Promise<T> {
    for (let i = 0; i < 5; i++) {
      const t = await load();
      if (!t) return acmeFail('malformed', 'The object no longer exists.');
      const next = change(t);
      if (await save(next, t.rev)) return { ...next, rev: t.rev + 1 };
    }
    throw new AcmeProblem('serverInternal', 'Too many concurrent changes; try again.', [], 503);
  }
}

function checkContact(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > 10) acmeFail('invalidContact', 'contact must be an array of at most 10 mailto: URLs.');
  return (raw as unknown[]).map((c) => {
    if (typeof c !== 'string' || c.length > 320 || !/^mailto:[^\s,?@]+@[^\s,?@]+$/i.test(c))
      acmeFail('unsupportedContact', 'Only mailto: contacts with one address are supported.');
    return c as string;
  });
}

async function spkiOfJwk(jwk: Record<string, unknown>): Promise<Buffer> {
  try {
    return createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  } catch {
    return Buffer.alloc(0);
  }
}
