import * as jose from 'jose';
import { trustingFetch } from './support.ts';

/** A hand-rolled ACME client: every header and nonce under the test's control, to reach error paths. */
export interface AcmeAnswer {
  status: number;
  body: any;
  headers: Headers;
  text: string;
}

export interface KeyPair {
  privateKey: CryptoKey;
  jwk: jose.JWK;
  alg: string;
  thumbprint: string;
}

export async function newKey(alg = 'ES256'): Promise<KeyPair> {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(publicKey);
  return { privateKey: privateKey as CryptoKey, jwk, alg, thumbprint: await jose.calculateJwkThumbprint(jwk, 'sha256') };
}

export class RawAcme {
  readonly fetch: typeof fetch;
  dir: Record<string, string> = {};
  kid: string | null = null;

  constructor(
    readonly directoryUrl: string,
    rootPem: string,
    public key: KeyPair,
  ) {
    this.fetch = trustingFetch(rootPem);
  }

  async init(): Promise<this> {
    this.dir = (await (await this.fetch(this.directoryUrl)).json()) as Record<string, string>;
    return this;
  }

  async nonce(): Promise<string> {
    const r = await this.fetch(this.dir.newNonce!, { method: 'HEAD' });
    return r.headers.get('replay-nonce')!;
  }

  async sign(url: string, payload: unknown, opts: SignOptions = {}): Promise<jose.FlattenedJWS> {
    const key = opts.key ?? this.key;
    const header: jose.JWSHeaderParameters = { alg: opts.alg ?? key.alg, nonce: opts.nonce ?? (await this.nonce()), url: opts.url ?? url };
    const kid = opts.kid === undefined ? this.kid : opts.kid;
    if (opts.jwk || kid === null) header.jwk = key.jwk;
    else header.kid = kid;
    const bytes = payload === '' ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(payload));
    return new jose.FlattenedSign(bytes).setProtectedHeader(header).sign(opts.signWith ?? key.privateKey);
  }

  async post(url: string, payload: unknown, opts: SignOptions & { raw?: string; contentType?: string } = {}): Promise<AcmeAnswer> {
    const body = opts.raw ?? JSON.stringify(await this.sign(url, payload, opts));
    const r = await this.fetch(url, { method: 'POST', headers: { 'content-type': opts.contentType ?? 'application/jose+json' }, body });
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: r.status, body: parsed, headers: r.headers, text };
  }

  async register(payload: Record<string, unknown> = { termsOfServiceAgreed: true }): Promise<AcmeAnswer> {
    const r = await this.post(this.dir.newAccount!, payload, { kid: null });
    if (r.status === 201 || r.status === 200) this.kid = r.headers.get('location');
    return r;
  }
}

export interface SignOptions {
  kid?: string | null;
  jwk?: boolean;
  nonce?: string;
  url?: string;
  alg?: string;
  key?: KeyPair;
  signWith?: CryptoKey | Uint8Array;
}
