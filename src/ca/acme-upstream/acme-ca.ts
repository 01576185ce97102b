import https from 'node:https';
import http from 'node:http';
import acme from 'acme-client';
import { decodeCsr, publicKeyInfo } from '../../certificates/csr.ts';
import { bytes, pemBlocks, subtle, thumbprintOf, toPem, x509 } from '../../certificates/x509.ts';
import { signingParams } from '../embedded-ca.ts';
import { checkHost, type EgressPolicy } from '../../domain/egress.ts';
import { checkedLookup, EgressDenied } from '../../steps/support/egress-http.ts';
import type { CaRecord } from '../../store/certificate-store.ts';
import { CaRefusal, type CaConnector, type IssuedCertificate, type IssueRequest } from '../connector.ts';
import type { KeyProtector } from '../key-protection.ts';
import type { ChallengeResponder } from './challenges.ts';
import { planIdentifiers } from './identifiers.ts';

/*
 * acme-client keeps one axios instance for the process and, by default, retries a failed request
 * up to five times with growing delays. Retrying is the job runner's business (its backoff, its
 * attempt limit, recorded in the instance's history), so the client gives up at once.
 */
(acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;
// Its retry interceptor, not retrying, reads `error.response` of an error that has none (connection
// refused, TLS failure) and throws a TypeError instead: such errors are passed on as they are.
for (const h of (acme.axios.interceptors.response as unknown as { handlers: ({ rejected?: (e: unknown) => unknown } | null)[] }).handlers) {
  const rejected = h?.rejected;
  if (h && rejected) h.rejected = (error) => ((error as { response?: unknown })?.response ? rejected(error) : Promise.reject(error));
}

/** What an ACME CA record's `config` holds (no secrets: the account key is sealed in `sealedKey`). */
export interface AcmeCaConfig {
  directoryUrl: string;
  contact: string[];
  /** The account's URL (its key id), known once registered. */
  accountUrl: string;
  /** PEM certificates to trust for the directory's TLS, instead of the system's roots. */
  caBundlePem: string | null;
  /** Whether an external account binding was used at registration (its key is not kept). */
  externalAccountBinding: boolean;
}

export interface AcmeCaInput {
  logicalName: string;
  hostName: string;
  directoryUrl: string;
  contact: string[];
  caBundlePem: string | null;
  /** RFC 8555 7.3.4; the HMAC key is base64url, used once to register and not stored. */
  eab: { kid: string; hmacKey: string } | null;
  termsOfServiceAgreed: boolean;
}

/** Where the order placed for each request is remembered (CertificateStore implements it). */
export interface AcmeOrderStore {
  getAcmeOrder(caId: number, idempotencyKey: string): Promise<string | null>;
  putAcmeOrder(caId: number, idempotencyKey: string, orderUrl: string, createdAt: string): Promise<void>;
}

/** What the connector needs from the server: the egress policy, the time limit of one ACME call, the http-01 responder, the order memory. */
export interface AcmeEnvironment {
  orders: AcmeOrderStore;
  egress: EgressPolicy;
  timeoutMs: number;
  challenges: ChallengeResponder;
  /** How long to wait for the CA to validate and issue, in total. */
  orderTimeoutMs: number;
}

export const accountKeyLabel = (logicalName: string): string => `acme-account:${logicalName}`;

/**
 * An external ACME CA (RFC 8555) as a CA connector: an approved request's CSR is sent as an
 * order, its authorizations are answered with http-01 (served by the built-in responder) or
 * found valid already, the order is finalized and the certificate chain downloaded. Every call
 * goes through the egress policy. Errors are sorted for the runner: the CA unreachable or
 * failing (network, 5xx, timeouts) is transient and retried; the CA refusing (an ACME problem
 * document, an invalid order or authorization) is a `CaRefusal` and fails the step.
 */
export class AcmeUpstreamCa implements CaConnector {
  /** The chain of the last certificate issued, without the leaf: an ACME CA's intermediates can change. */
  private lastChain: Uint8Array[];

  private constructor(
    private readonly record: CaRecord,
    private readonly config: AcmeCaConfig,
    private readonly accountKeyPem: Buffer,
    private readonly env: AcmeEnvironment,
  ) {
    this.lastChain = record.chainPem.flatMap((pem) => pemBlocks(pem, 'CERTIFICATE')).map((b) => new Uint8Array(b));
  }

  get id(): number {
    return this.record.id;
  }
  get logicalName(): string {
    return this.record.logicalName;
  }
  get hostName(): string {
    return this.record.hostName;
  }

  /** Generates an account key, registers the account with the CA and returns the record to store. */
  static async register(input: AcmeCaInput, protector: KeyProtector, env: AcmeEnvironment): Promise<Omit<CaRecord, 'id'>> {
    const accountKey = await acme.crypto.createPrivateEcdsaKey('P-256');
    const client = makeClient(input.directoryUrl, accountKey, null, input.caBundlePem, env, input.eab);
    try {
      await client.createAccount({
        termsOfServiceAgreed: input.termsOfServiceAgreed,
        contact: input.contact.map((c) => (c.startsWith('mailto:') ? c : `mailto:${c}`)),
      });
    } catch (e) {
      throw classify(e, `registering an account at ${input.directoryUrl}`);
    }
    const config: AcmeCaConfig = {
      directoryUrl: input.directoryUrl,
      contact: input.contact,
      accountUrl: client.getAccountUrl(),
      caBundlePem: input.caBundlePem,
      externalAccountBinding: input.eab !== null,
    };
    return {
      logicalName: input.logicalName,
      hostName: input.hostName,
      chainPem: [],
      sealedKey: protector.seal(accountKey, accountKeyLabel(input.logicalName)),
      sealedRootKey: null,
      imported: false,
      createdAt: new Date().toISOString(),
      connector: 'acme',
      config: config as unknown as Record<string, unknown>,
    };
  }

  static load(record: CaRecord, protector: KeyProtector, env: AcmeEnvironment): AcmeUpstreamCa {
    const key = protector.open(record.sealedKey, accountKeyLabel(record.logicalName));
    return new AcmeUpstreamCa(record, record.config as unknown as AcmeCaConfig, key, env);
  }

  /** Settings as shown to operators (no key). */
  properties(): Record<string, unknown> {
    return { Acme: true, DirectoryUrl: this.config.directoryUrl, AccountUrl: this.config.accountUrl, Contact: this.config.contact };
  }

  chain(): Uint8Array[] {
    return this.lastChain;
  }

  private client(): acme.Client {
    return makeClient(this.config.directoryUrl, this.accountKeyPem, this.config.accountUrl, this.config.caBundlePem, this.env, null);
  }

  /**
   * ACME has no idempotency key of its own: the order placed for `idempotencyKey` (the request) is
   * remembered in the store before anything else happens, and a retry (after a crash, a timeout,
   * on another node) resumes that order where it stands, so one request is one certificate at the CA.
   */
  async issue(req: IssueRequest, idempotencyKey: string): Promise<IssuedCertificate> {
    const csrPem = req.csrPem ?? (req.keyForCsr ? await csrFor(req, req.keyForCsr) : null);
    if (!csrPem) throw new CaRefusal(`${this.logicalName} is an ACME CA: it signs a CSR, and this request has neither a CSR nor a key Countersign holds.`);
    const csr = await decodeCsr(csrPem);
    const plan = planIdentifiers(csr.sans, csr.subjectParts.CN?.[0] ?? null, req.sans);
    if (!plan.ok) throw new CaRefusal(`${this.logicalName} cannot order this certificate: ${plan.reason}`);
    const client = this.client();
    const deadline = Date.now() + this.env.orderTimeoutMs;
    let pem: string;
    try {
      let order = await this.resumeOrder(client, idempotencyKey);
      // An earlier attempt's order the CA has given up on (invalid, expired): this attempt (a retry, a restarted instance) orders anew.
      if (!order || order.status === 'invalid') {
        order = await client.createOrder({ identifiers: plan.identifiers });
        await this.env.orders.putAcmeOrder(this.id, idempotencyKey, order.url, new Date().toISOString());
      }
      if (order.status === 'invalid') throw new CaRefusal(`the order ${order.url} is invalid.`);
      const authorizations = order.status === 'pending' ? await client.getAuthorizations(order) : [];
      for (const authz of authorizations) {
        if (authz.status === 'valid') continue;
        if (authz.status !== 'pending') throw new CaRefusal(`the authorization for ${authz.identifier.value} is ${authz.status}.`);
        const challenge = authz.challenges.find((c) => c.type === 'http-01');
        if (!challenge) throw new CaRefusal(`the CA offers no http-01 challenge for ${authz.identifier.value} (offered: ${authz.challenges.map((c) => c.type).join(', ')}).`);
        const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
        await this.env.challenges.put(challenge.token, keyAuthorization);
        try {
          // An earlier attempt may have answered it already: then only wait for the CA's verdict.
          if (challenge.status === 'pending') await client.completeChallenge(challenge);
          await waitUntil(deadline, () => client.waitForValidStatus(challenge));
        } finally {
          await this.env.challenges.remove(challenge.token).catch(() => {});
        }
      }
      const current = order;
      const finalized = current.status === 'pending' || current.status === 'ready' ? await waitUntil(deadline, () => client.finalizeOrder(current, csrPem)) : current;
      pem = await waitUntil(deadline, () => client.getCertificate(finalized));
    } catch (e) {
      throw classify(e, `ordering from ${this.config.directoryUrl}`);
    }
    const [leaf, ...chain] = pemBlocks(pem, 'CERTIFICATE').map((b) => new Uint8Array(b));
    if (!leaf) throw new Error(`${this.config.directoryUrl} answered no certificate.`);
    if (chain.length) this.lastChain = chain;
    const cert = new x509.X509Certificate(bytes(leaf));
    return {
      der: leaf,
      serialNumber: cert.serialNumber.toUpperCase(),
      thumbprint: await thumbprintOf(leaf),
      subjectDn: cert.subject,
      issuerDn: cert.issuer,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      signingAlgorithm: signatureName(cert),
      chain,
    };
  }

  /** The order an earlier attempt placed for this request, as it stands now; null when there is none or it is gone (expired, deleted). */
  private async resumeOrder(client: acme.Client, idempotencyKey: string): Promise<acme.Order | null> {
    const url = await this.env.orders.getAcmeOrder(this.id, idempotencyKey);
    if (!url) return null;
    try {
      return await client.getOrder({ url } as acme.Order);
    } catch (e) {
      // The CA unreachable: retry later. The CA no longer knowing the order: place a new one.
      if (classify(e, '') instanceof CaRefusal) return null;
      throw e;
    }
  }

  /**
   * RFC 8555 7.6, signed with the account key (the account that ordered it). `reason`: RFC 5280
   * CRLReason. ACME revocation is permanent: a hold (6) or a release is refused before asking.
   */
  async revoke(certificate: { der: Uint8Array; serialNumber: string }, reason: number | 'release'): Promise<void> {
    if (reason === 'release' || reason === 6)
      throw new CaRefusal(`${this.config.directoryUrl} is an ACME CA: its revocations are permanent, so a certificate cannot be put on hold or released there.`);
    try {
      await this.client().revokeCertificate(toPem(certificate.der), { reason });
    } catch (e) {
      throw classify(e, `revoking at ${this.config.directoryUrl}`);
    }
  }
}

/** A CSR for a key Countersign generated (PFX enrollment): the request's subject, its DNS and IP SANs. */
async function csrFor(req: IssueRequest, pkcs8: Uint8Array): Promise<string> {
  const p = signingParams(publicKeyInfo(req.publicKey));
  const privateKey = await subtle.importKey('pkcs8', bytes(pkcs8), p.import, false, ['sign']);
  const publicKey = await subtle.importKey('spki', bytes(req.publicKey), p.import, true, ['verify']);
  const names: x509.JsonGeneralName[] = [
    ...(req.sans.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...['ip', 'ip4', 'ip6'].flatMap((f) => req.sans[f] ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  // Kinds ACME cannot validate go in too, so the identifier plan refuses them by name.
  for (const value of req.sans.rfc822 ?? []) names.push({ type: 'email', value });
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: req.subject,
    keys: { privateKey, publicKey },
    signingAlgorithm: p.sign,
    extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  return csr.toString('pem');
}

/** A client whose every request goes through the egress policy, trusts the configured bundle, and has a time limit. */
function makeClient(
  directoryUrl: string,
  accountKey: Buffer,
  accountUrl: string | null,
  caBundlePem: string | null,
  env: AcmeEnvironment,
  eab: { kid: string; hmacKey: string } | null,
): acme.Client {
  const client = new acme.Client({
    directoryUrl,
    accountKey,
    accountUrl: accountUrl ?? undefined,
    externalAccountBinding: eab ?? undefined,
    // Polling of pending objects: short steps, bounded by the order deadline (waitUntil).
    backoffAttempts: 30,
    backoffMin: 200,
    backoffMax: 3000,
  });
  const lookup = checkedLookup(env.egress) as never;
  const httpsAgent = new https.Agent({ ca: caBundlePem ?? undefined, lookup, keepAlive: false });
  const httpAgent = new http.Agent({ lookup, keepAlive: false });
  // acme-client has no per-client transport option; its HttpClient passes these request options to axios.
  const transport = (client as unknown as { http: { request: (url: string, method: string, opts?: Record<string, unknown>) => Promise<unknown> } }).http;
  const request = transport.request.bind(transport);
  transport.request = (url, method, opts = {}) => {
    const decision = checkHost(env.egress, new URL(url).hostname);
    if (!decision.ok) return Promise.reject(new EgressDenied(decision.reason));
    return request(url, method, { ...opts, httpsAgent, httpAgent, proxy: false, maxRedirects: 0, timeout: env.timeoutMs, maxContentLength: MAX_RESPONSE_BYTES }).then((resp) => {
      const status = (resp as { status: number }).status;
      // acme-client reads any status as an answer; a failing or overloaded CA is transient for us.
      if (status >= 500 || status === 429) throw new CaBusy(`${method.toUpperCase()} ${url} answered HTTP ${status}`);
      return resp;
    });
  };
  return client;
}

/** No ACME object or certificate chain comes near this; a CA sending more is not heard out. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

async function waitUntil<T>(deadline: number, op: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const left = Math.max(1, deadline - Date.now());
  try {
    return await Promise.race([
      op(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new AcmeTimeout(`the CA did not validate and issue within ${Math.round(left / 1000)} s`)), left);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

class AcmeTimeout extends Error {}
class CaBusy extends Error {}

/** Network codes that mean "not reached" or "no answer": worth trying again later. */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ERR_BAD_RESPONSE']);

/**
 * Sorts an error of acme-client: refusals (ACME problem documents, objects that became invalid,
 * egress denied, TLS not trusted) are CaRefusal; the CA unreachable, slow or answering 5xx is a
 * plain Error, which the enrollment turns into a retryable CaUnavailable.
 */
function classify(e: unknown, doing: string): Error {
  if (e instanceof CaRefusal) return new CaRefusal(`${doing}: ${e.message}`);
  if (e instanceof EgressDenied) return new CaRefusal(`${doing}: the egress policy does not allow it (${e.message}).`);
  const err = e as Error & { code?: string };
  const message = (err?.message ?? String(e)).replace(/\s+/g, ' ').slice(0, 500);
  if (e instanceof AcmeTimeout || e instanceof CaBusy) return new Error(`${doing}: ${message}.`);
  if (err?.code && TRANSIENT_CODES.has(err.code)) return new Error(`${doing}: the CA could not be reached or did not answer (${err.code}).`);
  if (err?.code && /CERT|SELF_SIGNED|UNABLE_TO/.test(err.code))
    return new CaRefusal(`${doing}: the CA's TLS certificate is not trusted (${err.code}); give the CA bundle that issued it.`);
  return new CaRefusal(`${doing}: the CA refused: ${message}`);
}

function signatureName(cert: x509.X509Certificate): string {
  const a = cert.signatureAlgorithm as Algorithm & { hash?: { name?: string } | string };
  const hash = typeof a.hash === 'string' ? a.hash : (a.hash?.name ?? '');
  const h = hash.replace('-', '').toLowerCase();
  return a.name === 'ECDSA' ? `${h}ECDSA` : `${h}RSA`;
}
