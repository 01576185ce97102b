import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as graphene from 'graphene-pk11';
import { Crypto as P11Crypto, type CryptoKey as P11CryptoKey } from 'node-webcrypto-p11';

/** The token is not configured, cannot be opened, or lacks a key the store names; the server must not start. */
export class Pkcs11Error extends Error {}

/** Where the CA keys live when they are in a PKCS#11 token (COUNTERSIGN_PKCS11_*). */
export interface Pkcs11Settings {
  /** The PKCS#11 module (shared library), e.g. /usr/lib/softhsm/libsofthsm2.so. */
  module: string;
  /** The token's label (COUNTERSIGN_PKCS11_TOKEN); or `slot`, the slot's index in the module's list of slots with a token. */
  tokenLabel?: string;
  slot?: number;
  /** The user PIN (COUNTERSIGN_PKCS11_PIN), or a file holding it (COUNTERSIGN_PKCS11_PIN_FILE). */
  pin?: string;
  pinFile?: string;
}

/** A key in the token, as the store refers to it: CKA_ID (hex) and CKA_LABEL. */
export interface TokenKeyRef {
  id: string;
  label: string;
}

/**
 * One session with the token, shared by every CA of the process (a PKCS#11 module is initialised
 * once per process). Keys are generated in the token as token objects with CKA_SENSITIVE true
 * and CKA_EXTRACTABLE false: signing happens in the token and the private key never leaves it.
 */
export class Pkcs11Token {
  /** WebCrypto over the token's session: @peculiar/x509 signs through it. Its operations run one at a time. */
  readonly crypto: Crypto;
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly tokenLabel: string,
    private readonly p11: P11Crypto,
  ) {
    this.crypto = this.serialized(p11);
  }

  /**
   * A PKCS#11 session runs one cryptographic operation at a time (a second C_SignInit while one
   * is active fails with CKR_OPERATION_ACTIVE), and every CA of the process shares this session:
   * operations are queued.
   */
  private run<T>(op: () => Promise<T>): Promise<T> {
    const result = this.tail.then(op, op);
    this.tail = result.catch(() => {});
    return result;
  }

  private serialized(p11: P11Crypto): Crypto {
    const run = this.run.bind(this);
    const queue = <O extends object>(target: O): O =>
      new Proxy(target, {
        get(t, prop) {
          const v = Reflect.get(t, prop, t);
          return typeof v === 'function' ? (...args: unknown[]) => run(() => Promise.resolve(v.apply(t, args))) : v;
        },
      });
    const subtle = queue(p11.subtle);
    return new Proxy(p11, {
      get(t, prop) {
        if (prop === 'subtle') return subtle;
        const v = Reflect.get(t, prop, t);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    }) as unknown as Crypto;
  }

  private static opened = new Map<string, Pkcs11Token>();

  /** Opens (once per process, module and slot) a logged-in, read-write session; the PIN is never logged nor kept outside the module. */
  static open(s: Pkcs11Settings): Pkcs11Token {
    const pin = s.pin ?? (s.pinFile ? readPin(s.pinFile) : undefined);
    if (!pin) throw new Pkcs11Error('COUNTERSIGN_PKCS11_PIN or COUNTERSIGN_PKCS11_PIN_FILE must give the user PIN of the token.');
    const slot = findSlot(s);
    // A session per PIN too: a wrong PIN must fail even when a right one logged in before.
    const cacheKey = `${s.module}\u0000${slot.index}\u0000${createHash('sha256').update(pin).digest('hex')}`;
    const cached = Pkcs11Token.opened.get(cacheKey);
    if (cached) return cached;
    let p11: P11Crypto;
    try {
      p11 = new P11Crypto({ library: s.module, slot: slot.index, readWrite: true, pin });
    } catch (e) {
      const why = String((e as Error).message ?? e).replace(pin, '***');
      throw new Pkcs11Error(`Could not log in to the PKCS#11 token '${slot.label}' with the configured PIN: ${why}`);
    }
    const token = new Pkcs11Token(slot.label, p11);
    Pkcs11Token.opened.set(cacheKey, token);
    return token;
  }

  /** Generates a signing key pair in the token (token object, sensitive, never extractable). */
  async generate(params: RsaHashedKeyGenParams | EcKeyGenParams, label: string): Promise<{ keys: CryptoKeyPair; ref: TokenKeyRef }> {
    const keys = (await this.crypto.subtle.generateKey({ ...params, token: true, sensitive: true, label } as unknown as EcKeyGenParams, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    return { keys, ref: { id: idOf(keys.privateKey), label } };
  }

  /** The private key whose CKA_ID is `ref.id`, for signing with `params`. */
  async privateKey(ref: TokenKeyRef, params: RsaHashedImportParams | EcKeyImportParams): Promise<CryptoKey> {
    const index = (await this.run(() => this.p11.keyStorage.keys())).find((k) => k.startsWith('private-') && k.endsWith(`-${ref.id}`));
    if (!index)
      throw new Pkcs11Error(`The PKCS#11 token '${this.tokenLabel}' holds no private key with id ${ref.id} (label '${ref.label}'): is this the token the CA was created in?`);
    return (await this.run(() => this.p11.keyStorage.getItem(index, params, false, ['sign']))) as unknown as CryptoKey;
  }

  /** Deletes a key pair this process generated but does not use (it lost a race to create the CA). */
  async remove(ref: TokenKeyRef): Promise<void> {
    for (const k of await this.run(() => this.p11.keyStorage.keys())) if (k.endsWith(`-${ref.id}`)) await this.run(() => this.p11.keyStorage.removeItem(k));
  }

  /** The PKCS#11 attributes that keep the key in the token, read from the token itself. */
  keyAttributes(key: CryptoKey): { token: boolean; sensitive: boolean; extractable: boolean; neverExtractable: boolean } {
    const obj = (key as unknown as { key: graphene.SessionObject }).key.toType<graphene.PrivateKey>();
    const a = obj.getAttribute({ token: null, sensitive: null, extractable: null, neverExtractable: null });
    return { token: !!a.token, sensitive: !!a.sensitive, extractable: !!a.extractable, neverExtractable: !!a.neverExtractable };
  }
}

const idOf = (key: CryptoKey): string => {
  const id = (key as unknown as P11CryptoKey).id;
  return id.slice(id.lastIndexOf('-') + 1);
};

function readPin(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new Pkcs11Error(`COUNTERSIGN_PKCS11_PIN_FILE ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The slot holding the configured token: by label, else by index among the slots with a token. */
function findSlot(s: Pkcs11Settings): { index: number; label: string } {
  let mod: graphene.Module;
  try {
    mod = graphene.Module.load(s.module);
  } catch (e) {
    throw new Pkcs11Error(`The PKCS#11 module ${s.module} cannot be loaded: ${(e as Error).message}`);
  }
  // Initialised once per process and left so: the session opened next needs it, and graphene
  // hides whether another CA of this process initialised it already (finalizing would end that one's session).
  mod.initialize();
  const slots = mod.getSlots(true);
  const labels: string[] = [];
  for (let i = 0; i < slots.length; i++) labels.push(slots.items(i).getToken().label.trim());
  if (s.tokenLabel !== undefined) {
    const index = labels.indexOf(s.tokenLabel);
    if (index < 0) throw new Pkcs11Error(`No PKCS#11 token is labelled '${s.tokenLabel}' in ${s.module}; tokens: ${labels.map((l) => `'${l}'`).join(', ') || 'none'}.`);
    return { index, label: s.tokenLabel };
  }
  const index = s.slot ?? 0;
  if (index >= labels.length) throw new Pkcs11Error(`${s.module} has ${labels.length} slot(s) with a token; COUNTERSIGN_PKCS11_SLOT ${index} is not one of them.`);
  return { index, label: labels[index]! };
}
