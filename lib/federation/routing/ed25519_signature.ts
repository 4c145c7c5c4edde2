/** The real announcement crypto: Ed25519 through WebCrypto, small-order keys refused. */
import { ed25519Sign, ed25519Verify, importEd25519PublicKey } from "../../e2e/base.ts";
import type { AnnouncementSigner, AnnouncementVerifier } from "./signatures.ts";

/** Signs announcements with a node's Ed25519 private key. */
export class Ed25519AnnouncementSigner implements AnnouncementSigner {
  readonly publicKey: Uint8Array;
  #privateKey: CryptoKey;

  private constructor(publicKey: Uint8Array, privateKey: CryptoKey) {
    this.publicKey = publicKey;
    this.#privateKey = privateKey;
  }

  /** Makes a signer from a key pair whose public key is extractable. */
  static async fromKeyPair(keyPair: CryptoKeyPair): Promise<Ed25519AnnouncementSigner> {
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", keyPair.publicKey));
    return new Ed25519AnnouncementSigner(raw, keyPair.privateKey);
  }

  /** Makes a signer with a fresh key pair (tests, first run). */
  static async generate(): Promise<Ed25519AnnouncementSigner> {
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
    return await Ed25519AnnouncementSigner.fromKeyPair(pair as CryptoKeyPair);
  }

  sign(message: Uint8Array): Promise<Uint8Array> {
    return ed25519Sign(this.#privateKey, message);
  }
}

/** Options of {@linkcode Ed25519AnnouncementVerifier}. */
export interface Ed25519VerifierOptions {
  /** Imported keys kept for reuse; the cache is emptied when it grows past this. */
  maxCachedKeys?: number;
}

/** Verifies announcement signatures with Ed25519, caching imported keys. */
export class Ed25519AnnouncementVerifier implements AnnouncementVerifier {
  #keys = new Map<string, Promise<CryptoKey | undefined>>();
  #maxCachedKeys: number;
  /** Number of signature checks made, for tests and metrics. */
  verifyCount = 0;

  constructor({ maxCachedKeys = 4096 }: Ed25519VerifierOptions = {}) {
    this.#maxCachedKeys = maxCachedKeys;
  }

  async verify(
    publicKey: Uint8Array,
    signature: Uint8Array,
    message: Uint8Array,
  ): Promise<boolean> {
    this.verifyCount++;
    const key = await this.#import(publicKey);
    if (key === undefined) return false;
    return await ed25519Verify(key, signature, message);
  }

  #import(raw: Uint8Array): Promise<CryptoKey | undefined> {
    const id = raw.toHex();
    let key = this.#keys.get(id);
    if (key === undefined) {
      if (this.#keys.size >= this.#maxCachedKeys) this.#keys.clear();
      // A refused key (small-order, non-canonical) verifies nothing.
      key = importEd25519PublicKey(raw).catch(() => undefined);
      this.#keys.set(id, key);
    }
    return key;
  }
}
