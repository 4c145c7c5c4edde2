/**
 * A stand-in for announcement signatures in simulations: the "signature" is the key and a
 * 32-bit checksum of key and message. It catches altered bytes and wrong keys but anyone
 * can forge it: never use it outside simulations and tests.
 */
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

  verify(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): boolean {
    this.verifyCount++;
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    for (let i = 0; i < 32; i++) if (signature[i] !== publicKey[i]) return false;
    const view = new DataView(signature.buffer, signature.byteOffset, 64);
    return view.getUint32(32) === checksum(publicKey, message);
  }
}

// FNV-1a, 32 bit: fast, not cryptographic.
function checksum(key: Uint8Array, message: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i], 0x01000193);
  for (let i = 0; i < message.length; i++) h = Math.imul(h ^ message[i], 0x01000193);
  return h >>> 0;
}
