/**
 * The base of lib/e2e: the byte codec, the error hierarchy, Ed25519 and
 * constant-time comparison, and SHA-256 into a given buffer. It is what nodes,
 * links and wire codecs need, and it loads no MLS (ts-mls, HPKE, ML-KEM) and of
 * the npm packages only @noble/hashes' SHA-256. Code that
 * relays and never encrypts end to end (lib/node, lib/federation, lib/channel,
 * lib/protocol) imports this, not lib/e2e/mod.ts, so a headless node does not
 * load the group crypto (issue 13; tests/architecture_test.ts keeps it so).
 * Everything here is also exported by lib/e2e/mod.ts.
 *
 * @example
 * ```ts
 * import { ByteReader, ByteWriter, CodecError } from "./base.ts";
 * const bytes = new ByteWriter().u8(1).str16("alice@a").finish();
 * const r = new ByteReader(bytes, "greeting");
 * if (r.u8() !== 1) throw new CodecError("Cannot decode greeting: unknown version");
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./ed25519.ts";
export { ByteReader, ByteWriter } from "./byte_codec.ts";
export { sha256Into } from "./_sha256.ts";
