/**
 * A stand-in for announcement signatures in simulations: the "signature" is the key and a
 * 32-bit checksum of key and message. It catches altered bytes and wrong keys but anyone
 * can forge it: never use it outside simulations and tests.
 */
import type { SignedAnnouncement } from "./announcement.ts";
import { announcementSigningMessage } from "./announcement.ts";
import type { AnnouncementSigner, AnnouncementVerifier } from "./signatures.ts";

/** Signs with the fake scheme. */
export class FakeAnnouncementSigner implements AnnouncementSigner {
  readonly publicKey: Uint8Array;

  constructor(publicKey: Uint8Array) {
    if (publicKey.length !== 32) {
      throw new RangeError("Cannot make fake signer: key is not 32 bytes");
    }
    this.publicKey = publicKey;
  }

  /** A deterministic 32-byte key for a node id. */
  static forNode(id: string): FakeAnnouncementSigner {
    const key = new Uint8Array(32);
    for (let i = 0; i < 32; i++) {
      key[i] = checksum(key, new TextEncoder().encode(`${id}/${i}`)) & 0xff;
    }
    return new FakeAnnouncementSigner(key);
  }

  sign(message: Uint8Array): Uint8Array {
    const signature = new Uint8Array(64);
    signature.set(this.publicKey, 0);
    new DataView(signature.buffer).setUint32(32, checksum(this.publicKey, message));
    return signature;
  }
}

/** Verifies the fake scheme, counting calls. */
export class FakeAnnouncementVerifier implements AnnouncementVerifier {
  /** Number of signature checks made. */
  verifyCount = 0;
  #memo: WeakMap<SignedAnnouncement, Uint8Array> | undefined;

  /**
   * `memo`, shared between the verifiers of one simulation, remembers each announcement
   * object that verified and under which key, so it is checked once for all routers.
   */
  constructor({ memo }: { memo?: WeakMap<SignedAnnouncement, Uint8Array> } = {}) {
    this.#memo = memo;
  }

  verifyAnnouncement(a: SignedAnnouncement, publicKey: Uint8Array): boolean | undefined {
    const memo = this.#memo;
    if (memo === undefined) return undefined;
    this.verifyCount++;
    const known = memo.get(a);
    if (known !== undefined && sameBytes(known, publicKey)) return true;
    const ok = this.#check(publicKey, a.signature, announcementSigningMessage(a.body));
    if (ok) memo.set(a, publicKey);
    return ok;
  }

  verify(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): boolean {
    this.verifyCount++;
    return this.#check(publicKey, signature, message);
  }

  #check(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): boolean {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    for (let i = 0; i < 32; i++) if (signature[i] !== publicKey[i]) return false;
    const view = new DataView(signature.buffer, signature.byteOffset, 64);
    return view.getUint32(32) === checksum(publicKey, message);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// FNV-1a, 32 bit: fast, not cryptographic.
function checksum(key: Uint8Array, message: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i], 0x01000193);
  for (let i = 0; i < message.length; i++) h = Math.imul(h ^ message[i], 0x01000193);
  return h >>> 0;
}
