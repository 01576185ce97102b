import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { CaConnector, RevocationSigner } from '../ca/connector.ts';
import {
  isIssuer,
  issuerHashes,
  type IssuerHashes,
  type OcspAnswer,
  OCSPResponseStatus,
  type OcspResponder,
  type OcspStatus,
  OcspMalformed,
  ocspError,
  ocspResponder,
  parseOcspRequest,
  signedOcspResponse,
} from '../certificates/ocsp.ts';
import { subtle } from '../certificates/x509.ts';
import type { Store } from '../store/store.ts';

export interface RevocationStatusOptions {
  /** How long a CRL is valid (nextUpdate - thisUpdate); it is reissued when less than half is left. Default 7 days. */
  crlValidityMs?: number;
  /** How long an OCSP answer is valid; a cached one is reused for half of it. Default 1 hour. */
  ocspValidityMs?: number;
  /** How stale this node's view of another node's revocations may be (ms). Default 500. */
  revisionTtlMs?: number;
  /** Logs a failure of a background CRL reissue (the next request tries again). */
  log?: (msg: string, err: unknown) => void;
  now?: () => number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The delegated responder's certificate: short-lived, renewed a day before it ends. */
const RESPONDER_VALIDITY_MS = 7 * DAY;
const RESPONDER_RENEW_MS = DAY;
/** Cached answers per CA, at most: asking about many made-up serials must not grow memory without bound. */
const MAX_CACHED = 50_000;
/** Revocations within this window share one proactive CRL reissue (a fetch never waits for it: it signs when stale). */
const CRL_REISSUE_DELAY_MS = 1000;

interface CachedAnswer {
  der: Uint8Array;
  freshUntil: number;
}

interface CaState {
  ca: CaConnector & { publisher: RevocationSigner };
  issuer: IssuerHashes;
  issuerDer: Uint8Array;
  /** The CA's revocation revision as last read, and when. */
  revision: number;
  revisionReadAt: number;
  responder: (OcspResponder & { notAfter: number }) | null;
  responderPending: Promise<OcspResponder> | null;
  /** Nonce-free single answers by serial number, valid for `revision` and one responder. */
  answers: Map<string, CachedAnswer>;
  /** The same answers keyed by the request's bytes. */
  raw: Map<string, CachedAnswer>;
  answersRevision: number;
  crl: { der: Uint8Array; revision: number; nextUpdate: number; thisUpdate: number } | null;
  crlPending: Promise<Uint8Array> | null;
  /** A revocation arrived while a CRL was being signed: sign again once that one is stored. */
  crlAgain: boolean;
}

/**
 * What the embedded CA publishes for relying parties: its CRL and OCSP answers. Both are
 * signed once and reused until the CA's revocation revision (kept in the store, raised by
 * every revocation on any node) moves or they age: OCSP from a per-serial cache, the CRL from
 * the store. A node reads the revision at most every revisionTtlMs, so a revocation on
 * another node shows within that time; on this node at once (changed()).
 */
export class RevocationStatus {
  private readonly cas = new Map<number, CaState>();
  private readonly crlValidityMs: number;
  private readonly ocspValidityMs: number;
  private readonly revisionTtlMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private readonly reissues = new Map<number, NodeJS.Timeout>();

  constructor(
    private readonly store: Store,
    private readonly lookupCa: (id: number) => CaConnector | undefined,
    private readonly opts: RevocationStatusOptions = {},
  ) {
    this.crlValidityMs = opts.crlValidityMs ?? 7 * DAY;
    this.ocspValidityMs = opts.ocspValidityMs ?? HOUR;
    this.revisionTtlMs = opts.revisionTtlMs ?? 500;
    this.now = opts.now ?? Date.now;
  }

  /** Reissues CRLs before their nextUpdate, in the background. */
  start(caIds: () => number[]): void {
    const every = Math.max(1000, Math.min(this.crlValidityMs / 4, HOUR));
    this.timer = setInterval(() => {
      for (const id of caIds()) this.crl(id).catch((e) => this.opts.log?.(`Reissuing the CRL of CA ${id} failed; the next request tries again.`, e));
    }, every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const t of this.reissues.values()) clearTimeout(t);
    this.reissues.clear();
  }

  /**
   * A revocation on this node: forget what was signed before (the next OCSP answer and CRL fetch
   * reflect it), and reissue the CRL in the background, once for the revocations of a second.
   */
  changed(caId: number): void {
    const s = this.cas.get(caId);
    if (s) {
      s.revisionReadAt = 0;
      s.answers.clear();
      s.raw.clear();
    }
    if (this.reissues.has(caId)) return;
    const timer = setTimeout(() => {
      this.reissues.delete(caId);
      const state = this.cas.get(caId);
      if (state?.crlPending) {
        state.crlAgain = true;
        return;
      }
      this.crl(caId).catch((e) => this.opts.log?.(`Reissuing the CRL of CA ${caId} after a revocation failed; the next request tries again.`, e));
    }, CRL_REISSUE_DELAY_MS);
    timer.unref();
    this.reissues.set(caId, timer);
  }

  /** The CA's certificate (DER), or null when Countersign does not publish for it. */
  issuerCertificate(caId: number): Uint8Array | null {
    return this.state(caId)?.issuerDer ?? null;
  }

  /** The current CRL (DER); null when no such CA publishes here. */
  async crl(caId: number): Promise<Uint8Array | null> {
    const s = this.state(caId);
    if (!s) return null;
    await this.refreshRevision(s);
    const now = this.now();
    if (s.crl && s.crl.revision >= s.revision && s.crl.nextUpdate - now > this.crlValidityMs / 2) return s.crl.der;
    s.crlPending ??= this.loadOrSignCrl(caId, s).finally(() => {
      s.crlPending = null;
      if (s.crlAgain) {
        s.crlAgain = false;
        s.revisionReadAt = 0;
        this.crl(caId).catch((e) => this.opts.log?.(`Reissuing the CRL of CA ${caId} after a revocation failed; the next request tries again.`, e));
      }
    });
    return s.crlPending;
  }

  private async loadOrSignCrl(caId: number, s: CaState): Promise<Uint8Array> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const state = await this.certStore.revocationState(caId);
      s.revision = Math.max(s.revision, state.revision);
      s.revisionReadAt = this.now();
      const now = this.now();
      const stored = state.crl;
      if (stored && stored.revision >= state.revision && Date.parse(stored.nextUpdate) - now > this.crlValidityMs / 2) {
        s.crl = { der: stored.der, revision: stored.revision, nextUpdate: Date.parse(stored.nextUpdate), thisUpdate: Date.parse(stored.thisUpdate) };
        return stored.der;
      }
      const entries = await this.certStore.listRevoked(caId);
      const thisUpdate = new Date(now);
      const nextUpdate = new Date(now + this.crlValidityMs);
      const number = (stored?.number ?? 0) + 1;
      const der = await s.ca.publisher.signCrl({
        number,
        thisUpdate,
        nextUpdate,
        entries: entries.map((e) => ({ serialNumber: e.serialNumber, revocationDate: new Date(e.effectiveDate), reason: e.reason })),
      });
      // Another node may have signed the same number first: then read theirs (or sign the next one).
      if (await this.certStore.saveCrl(caId, { number, revision: state.revision, thisUpdate: thisUpdate.toISOString(), nextUpdate: nextUpdate.toISOString(), der })) {
        s.crl = { der, revision: state.revision, nextUpdate: nextUpdate.getTime(), thisUpdate: thisUpdate.getTime() };
        return der;
      }
    }
    throw new Error(`CRL of CA ${caId}: other nodes kept winning the CRL number; try again.`);
  }

  /**
   * Answers an OCSP request (DER) for a CA: always an OCSPResponse (DER), errors included
   * (RFC 6960 2.3), so relying parties get a protocol answer rather than an HTTP error.
   */
  async ocsp(caId: number, request: Uint8Array): Promise<Uint8Array> {
    const s = this.state(caId);
    if (!s) return ocspError(OCSPResponseStatus.unauthorized);
    await this.refreshRevision(s);
    if (s.answersRevision !== s.revision) {
      s.answers.clear();
      s.raw.clear();
      s.answersRevision = s.revision;
    }
    // The same request bytes as before (clients without a nonce send identical requests): no parsing at all.
    const rawKey = Buffer.from(request).toString('base64');
    const seen = s.raw.get(rawKey);
    if (seen && seen.freshUntil > this.now() && s.responder && s.responder.notAfter - this.now() > RESPONDER_RENEW_MS) return seen.der;
    let parsed: ReturnType<typeof parseOcspRequest>;
    try {
      parsed = parseOcspRequest(request);
    } catch (e) {
      if (e instanceof OcspMalformed) return ocspError(OCSPResponseStatus.malformedRequest);
      throw e;
    }
    const now = this.now();
    const responder = await this.responder(s);
    // The common case, one certificate without a nonce, is answered from the cache.
    // Only for this CA's own CertIDs: an answer for another issuer's CertID must never be served to this one's (cache poisoning).
    const single = parsed.queries.length === 1 && parsed.nonce === null && isIssuer(parsed.queries[0]!, s.issuer) ? parsed.queries[0]! : null;
    const cacheKey = single ? `${single.hash}:${single.serialNumber}` : null;
    if (cacheKey) {
      const hit = s.answers.get(cacheKey);
      if (hit && hit.freshUntil > now) {
        remember(s.raw, rawKey, hit);
        return hit.der;
      }
    }
    const answers: OcspAnswer[] = [];
    for (const q of parsed.queries) {
      const status = isIssuer(q, s.issuer) ? await this.statusOf(caId, q.serialNumber, now) : ({ kind: 'unknown' } as const);
      answers.push({ certId: q.certId, status, thisUpdate: new Date(now), nextUpdate: new Date(now + this.ocspValidityMs) });
    }
    const der = signedOcspResponse(responder, answers, new Date(now), parsed.nonce);
    if (cacheKey && s.answersRevision === s.revision) {
      const entry = { der, freshUntil: now + this.ocspValidityMs / 2 };
      remember(s.answers, cacheKey, entry);
      remember(s.raw, rawKey, entry);
    }
    return der;
  }

  private async statusOf(caId: number, serialNumber: string, _now: number): Promise<OcspStatus> {
    const cert = await this.certStore.findBySerial(caId, serialNumber);
    if (!cert) return { kind: 'unknown' };
    if (!cert.revocation) return { kind: 'good' };
    return { kind: 'revoked', at: new Date(cert.revocation.effectiveDate), reason: cert.revocation.reason };
  }

  private get certStore() {
    return this.store.certificates;
  }

  private state(caId: number): CaState | null {
    const known = this.cas.get(caId);
    if (known) return known;
    const ca = this.lookupCa(caId);
    if (!ca?.publisher) return null;
    const issuerDer = ca.chain()[0]!;
    const s: CaState = {
      ca: ca as CaState['ca'],
      issuer: issuerHashes(issuerDer),
      issuerDer,
      revision: 0,
      revisionReadAt: 0,
      responder: null,
      responderPending: null,
      answers: new Map(),
      raw: new Map(),
      answersRevision: -1,
      crl: null,
      crlPending: null,
      crlAgain: false,
    };
    this.cas.set(caId, s);
    return s;
  }

  private async refreshRevision(s: CaState): Promise<void> {
    const now = this.now();
    if (now - s.revisionReadAt < this.revisionTtlMs) return;
    const state = await this.certStore.revocationState(s.ca.id);
    s.revision = state.revision;
    s.revisionReadAt = now;
  }

  /** This node's delegated responder for a CA: a key in memory only, its certificate signed by the CA. */
  private async responder(s: CaState): Promise<OcspResponder> {
    const now = this.now();
    if (s.responder && s.responder.notAfter - now > RESPONDER_RENEW_MS) return s.responder;
    s.responderPending ??= (async () => {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const spki = publicKey.export({ type: 'spki', format: 'der' });
      const cryptoKey = await subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
      const notAfter = now + RESPONDER_VALIDITY_MS;
      const certificateDer = await s.ca.publisher.issueOcspResponder(cryptoKey, new Date(now - 60_000), new Date(notAfter));
      const responder = { ...ocspResponder(certificateDer, asPrivateKey(privateKey)), notAfter };
      s.responder = responder;
      s.answers.clear();
      s.raw.clear();
      return responder;
    })().finally(() => {
      s.responderPending = null;
    });
    return s.responderPending;
  }
}

const asPrivateKey = (k: KeyObject): KeyObject => (k.type === 'private' ? k : createPrivateKey(k.export({ type: 'pkcs8', format: 'der' })));

function remember(cache: Map<string, CachedAnswer>, key: string, value: CachedAnswer): void {
  if (cache.size >= MAX_CACHED && !cache.has(key)) cache.clear();
  cache.set(key, value);
}
