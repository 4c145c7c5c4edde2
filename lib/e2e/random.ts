/**
 * Randomness, injected so that frozen test vectors can fix every random choice.
 */
import { concat, utf8 } from "./_bytes.ts";
import { sha256 } from "./_sha256.ts";

/** A source of random bytes. */
export interface Random {
  /** Returns `length` fresh random bytes. */
  bytes(length: number): Uint8Array;
}

// crypto.getRandomValues fills at most 65,536 bytes per call (WebCrypto §10.1.1).
const MAX_GET_RANDOM_BYTES = 65_536;

/** The real source: WebCrypto's `crypto.getRandomValues`. */
export const SYSTEM_RANDOM: Random = Object.freeze({
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += MAX_GET_RANDOM_BYTES) {
      crypto.getRandomValues(out.subarray(i, Math.min(length, i + MAX_GET_RANDOM_BYTES)));
    }
    return out;
  },
});

/**
 * A deterministic stream for tests and frozen vectors only: block i is
 * SHA-256("fedchat/test-random" || seed || i). Never use it for real keys.
 */
export class DeterministicRandom implements Random {
  #seed: Uint8Array;
  #counter = 0;

  constructor(seed: string | Uint8Array) {
    this.#seed = typeof seed === "string" ? utf8(seed) : new Uint8Array(seed);
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let offset = 0; offset < length; offset += 32) {
      const counter = new Uint8Array(4);
      new DataView(counter.buffer).setUint32(0, this.#counter++);
      const block = sha256(concat(utf8("fedchat/test-random"), this.#seed, counter));
      out.set(block.subarray(0, Math.min(32, length - offset)), offset);
    }
    return out;
  }
}
