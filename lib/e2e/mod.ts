/**
 * End-to-end cryptography: keys, handshake, ratchet, file encryption, safety numbers.
 * Pure: no I/O, no clock, no `Deno.*`; runs in Deno and in browsers.
 *
 * @module
 */
export * from "./errors.ts";
export * from "./ed25519.ts";
