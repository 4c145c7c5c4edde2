/**
 * The channel handshake (node links, and clients to their home node): both nodes prove possession of their Ed25519 node
 * keys over a transcript bound to this connection (both nonces, both ids, both
 * ephemeral keys, a protocol label), and derive keys for the link's own
 * encryption from an ephemeral X25519 exchange, so a proxy that terminates TLS
 * (nginx, Cloudflare) sees only ciphertext and cannot splice or replay.
 *
 *   I → R  HELLO_I  v, id_I, key_I, nonce_I, eph_I, expected id_R, endpoint_I, tls_I
 *   R → I  HELLO_R  v, id_R, key_R, nonce_R, eph_R, tls_R, sig_R(label‖"R"‖H(HELLO_I‖HELLO_R*))
 *   I → R  AUTH_I   sig_I(label‖"I"‖H(HELLO_I‖HELLO_R))
 *   both   k_IR, k_RI = HKDF-SHA-256(ikm = X25519(eph_I, eph_R),
 *                                    salt = H(HELLO_I‖HELLO_R‖AUTH_I), info = label‖dir)
 *   both   plain records iff tls_I = tls_R, both present
 *
 * `tls_X` (version 4) is the TLS channel binding X sees under this connection
 * (lib/wss/tls_binding.ts), or nothing. Equal values mean both nodes hold the
 * two ends of one TLS session: nothing between them terminates TLS, so TLS
 * alone hides, authenticates and orders the records, and the channel sends them
 * without its own cipher (secure_channel.ts). Different values (a proxy, an
 * attacker presenting its own certificate) or a missing one keep the records
 * sealed, as before version 4.
 *
 * Why no second signature over the binding: each binding is a field of its
 * sender's hello, and each side's one signature already covers both hellos, so
 * sig_X says "X, in the handshake with this transcript, holds the TLS session
 * tls_X", which is all a separate signature over (role, H(transcript), tls_X)
 * would say; it saves a sign and a verify per handshake. And why no "I verified
 * it" message: the choice is a function of the transcript, which both sides
 * know is the same once the signatures verify (each covers both hellos), and each
 * side compares against the binding of its own socket, which is what it put in
 * its hello. So both choose alike, or the handshake fails: whoever rewrites a
 * binding in transit breaks a signature (the link is refused, as for any
 * tampering), and whoever terminates TLS sees two sessions with different
 * bindings (sealed). Neither can make one side plain and the other sealed.
 *
 * Version 3 (no binding field) is refused as "unknown version", like 1 and 2:
 * nodes of one federation are upgraded together, and one version with one
 * layout keeps the decoder simple (a v3 peer would only ever be sealed).
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/base.ts";
import {
  constantTimeEqual,
  ed25519Sign,
  ed25519Verify,
  importEd25519PublicKey,
} from "../e2e/base.ts";
import { HOST_PATTERN, type NodeId, toNodeId } from "../ids.ts";
import { AuthError, ProtocolError } from "./errors.ts";

/** A node's (or a client's) signing identity. */
export interface NodeKey {
  privateKey: CryptoKey;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
}

/** Protocol label of node links, in every signature and key derivation. */
export const LINK_LABEL = "fedchat-link-v1";
/** Protocol label of a client authenticating to its home node (same handshake). */
export const CLIENT_LABEL = "fedchat-client-v1";
// 2: the channel after the handshake is ChaCha20-Poly1305 (secure_channel.ts).
// 3: its records carry several messages (secure_channel.ts).
// 4: each hello carries its sender's TLS channel binding; records are plain when they match.
const VERSION = 4;
/** A TLS channel binding's length (lib/wss/tls_binding.ts); a hello carries one or none. */
const BINDING_BYTES = 32;
const MSG = { helloI: 1, helloR: 2, authI: 3 } as const;
const MAX_HANDSHAKE_BYTES = 1024;

/** An endpoint a node asks to be dialled at. */
export interface Endpoint {
  host: string;
  port: number;
}

/** Who we are, for the handshake. */
export interface LinkSelf {
  nodeId: NodeId;
  key: NodeKey;
}

/** Keys of an established link, one per direction. */
export interface LinkKeys {
  /** Raw ChaCha20-Poly1305 keys, 32 bytes each. */
  send: Uint8Array;
  receive: Uint8Array;
  /**
   * The TLS channel binding both sides proved in the handshake (equal in both
   * hellos, each signed by its sender), or absent: the channel's records are
   * plain only on a connection whose own binding is this one (secure_channel.ts).
   */
  binding?: Uint8Array | null;
}

/** What the handshake proved about the peer. */
export interface PeerProof {
  nodeId: NodeId;
  publicKey: Uint8Array;
  /** The endpoint an initiator asked to be dialled at (responder side only). */
  endpoint: Endpoint | null;
}

const te = new TextEncoder();

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const w = new ByteWriter();
  for (const p of parts) w.raw(p);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", w.finish() as BufferSource));
}

function signedPayload(label: string, role: "I" | "R", hash: Uint8Array): Uint8Array {
  return new ByteWriter().raw(te.encode(label)).u8(0).raw(te.encode(role)).raw(hash)
    .finish();
}

async function ephemeral(): Promise<{ privateKey: CryptoKey; publicKey: Uint8Array }> {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, true, [
    "deriveBits",
  ]) as CryptoKeyPair;
  return {
    privateKey: pair.privateKey,
    publicKey: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)),
  };
}

async function deriveKeys(
  label: string,
  privateKey: CryptoKey,
  peerEphemeral: Uint8Array,
  salt: Uint8Array,
  role: "I" | "R",
): Promise<LinkKeys> {
  let shared: ArrayBuffer;
  try {
    const pub = await crypto.subtle.importKey(
      "raw",
      peerEphemeral as BufferSource,
      {
        name: "X25519",
      },
      false,
      [],
    );
    shared = await crypto.subtle.deriveBits({ name: "X25519", public: pub }, privateKey, 256);
  } catch (cause) {
    // An all-zero shared secret (low-order point) throws here: a refusal, not a crash.
    throw new AuthError("Cannot derive link keys: the peer's ephemeral key is refused", { cause });
  }
  const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
  const derive = async (dir: string) =>
    new Uint8Array(
      await crypto.subtle.deriveBits(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: salt as BufferSource,
          info: te.encode(`${label} ${dir}`),
        },
        ikm,
        256,
      ),
    );
  const [ir, ri] = await Promise.all([derive("I->R"), derive("R->I")]);
  return role === "I" ? { send: ir, receive: ri } : { send: ri, receive: ir };
}

/** A hello's binding field: a length (0 or 32), then the binding. */
function writeBinding(w: ByteWriter, binding: Uint8Array | null): ByteWriter {
  if (binding === null) return w.u8(0);
  if (binding.length !== BINDING_BYTES) {
    throw new RangeError(`Cannot write a TLS binding of ${binding.length} bytes`);
  }
  return w.u8(BINDING_BYTES).raw(binding);
}

function readBinding(r: ByteReader): Uint8Array | null {
  const n = r.u8("binding length");
  if (n === 0) return null;
  if (n !== BINDING_BYTES) throw new RangeError(`Cannot read a TLS binding of ${n} bytes`);
  return r.raw(BINDING_BYTES, "binding");
}

/**
 * The binding both sides proved, or null (records stay sealed): both hellos carry one and they
 * are equal. Both sides compute this on the same, signed transcript, so they agree.
 */
function provenBinding(
  bindingI: Uint8Array | null,
  bindingR: Uint8Array | null,
): Uint8Array | null {
  if (bindingI === null || bindingR === null) return null;
  return constantTimeEqual(bindingI, bindingR) ? bindingI : null;
}

function reader(bytes: Uint8Array, kind: number, what: string): ByteReader {
  if (bytes.length > MAX_HANDSHAKE_BYTES) throw new ProtocolError(`Cannot read ${what}: too large`);
  const r = new ByteReader(bytes, "handshake");
  if (r.u8("kind") !== kind) throw new ProtocolError(`Cannot read ${what}: unexpected message`);
  if (r.u8("version") !== VERSION) throw new ProtocolError(`Cannot read ${what}: unknown version`);
  return r;
}

function wrapDecode<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CodecError || e instanceof RangeError || e instanceof TypeError) {
      throw new ProtocolError(`Cannot read ${what}: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/** Initiator state between HELLO_I and HELLO_R. */
export interface InitiatorState {
  label: string;
  self: LinkSelf;
  expected: NodeId;
  ephemeral: CryptoKey;
  helloI: Uint8Array;
  /** Our TLS binding, as sent in HELLO_I. */
  binding: Uint8Array | null;
}

/** Options of {@linkcode initiatorHello}. */
export interface InitiatorHelloOptions {
  /** The node we mean to reach: a responder with another id is refused. */
  expected: NodeId;
  /** Where we ask to be dialled (node links), or null. */
  endpoint: Endpoint | null;
  /** {@linkcode LINK_LABEL} (default) or {@linkcode CLIENT_LABEL}. */
  label?: string;
  /** The TLS binding of the connection this handshake runs on (`WsConnection.tlsBinding`). */
  binding?: Uint8Array | null;
}

/** Builds HELLO_I. */
export async function initiatorHello(
  self: LinkSelf,
  options: InitiatorHelloOptions,
): Promise<{ state: InitiatorState; message: Uint8Array }> {
  const label = options.label ?? LINK_LABEL;
  const binding = options.binding ?? null;
  const eph = await ephemeral();
  const w = new ByteWriter().u8(MSG.helloI).u8(VERSION).str16(self.nodeId)
    .raw(self.key.publicKey).raw(crypto.getRandomValues(new Uint8Array(32)))
    .raw(eph.publicKey).str16(options.expected).str16(options.endpoint?.host ?? "")
    .u16(options.endpoint?.port ?? 0);
  const helloI = writeBinding(w, binding).finish();
  return {
    state: { label, self, expected: options.expected, ephemeral: eph.privateKey, helloI, binding },
    message: helloI,
  };
}

/** Responder state between HELLO_R and AUTH_I. */
export interface ResponderState {
  label: string;
  peer: PeerProof;
  peerKey: CryptoKey;
  ephemeral: CryptoKey;
  peerEphemeral: Uint8Array;
  helloI: Uint8Array;
  helloR: Uint8Array;
  /** The binding both hellos carry, or null (see {@linkcode LinkKeys.binding}). */
  binding: Uint8Array | null;
}

/** Options of {@linkcode responderHello}. */
export interface ResponderHelloOptions {
  /** {@linkcode LINK_LABEL} (default) or {@linkcode CLIENT_LABEL}. */
  label?: string;
  /** The TLS binding of the connection this handshake runs on (`WsConnection.tlsBinding`). */
  binding?: Uint8Array | null;
}

/**
 * Reads HELLO_I and answers HELLO_R. The initiator's identity is not proven
 * until {@linkcode responderFinish}.
 *
 * @throws {ProtocolError} malformed; {AuthError} addressed to another node or a refused key
 */
export async function responderHello(
  self: LinkSelf,
  helloI: Uint8Array,
  { label = LINK_LABEL, binding = null }: ResponderHelloOptions = {},
): Promise<{ state: ResponderState; message: Uint8Array }> {
  const f = wrapDecode("HELLO_I", () => {
    const r = reader(helloI, MSG.helloI, "HELLO_I");
    const nodeId = toNodeId(r.str16(32, "id"));
    const publicKey = r.raw(32, "key");
    r.raw(32, "nonce");
    const eph = r.raw(32, "ephemeral");
    const expected = r.str16(32, "expected id");
    const host = r.str16(253, "endpoint host");
    const port = r.u16("endpoint port");
    const tls = readBinding(r);
    r.end();
    // An endpoint is dialled, stored and shown: only a host name or address (or none).
    if (host !== "" && !HOST_PATTERN.test(host)) {
      throw new ProtocolError("Cannot read HELLO_I: the endpoint host is not a host name");
    }
    return { nodeId, publicKey, eph, expected, host, port, tls };
  });
  if (f.expected !== self.nodeId) {
    throw new AuthError(`Cannot accept link: it is addressed to ${JSON.stringify(f.expected)}`);
  }
  if (f.nodeId === self.nodeId) throw new AuthError("Cannot accept link: it claims our own id");
  let peerKey: CryptoKey;
  try {
    peerKey = await importEd25519PublicKey(f.publicKey);
  } catch (cause) {
    throw new AuthError("Cannot accept link: the peer's node key is refused", { cause });
  }
  const eph = await ephemeral();
  const unsigned = writeBinding(
    new ByteWriter().u8(MSG.helloR).u8(VERSION).str16(self.nodeId)
      .raw(self.key.publicKey).raw(crypto.getRandomValues(new Uint8Array(32)))
      .raw(eph.publicKey),
    binding,
  ).finish();
  const sig = await ed25519Sign(
    self.key.privateKey,
    signedPayload(label, "R", await sha256(helloI, unsigned)),
  );
  const helloR = new ByteWriter().raw(unsigned).raw(sig).finish();
  const endpoint = f.host && f.port ? { host: f.host, port: f.port } : null;
  return {
    state: {
      label,
      peer: { nodeId: f.nodeId, publicKey: f.publicKey, endpoint },
      peerKey,
      ephemeral: eph.privateKey,
      peerEphemeral: f.eph,
      helloI,
      helloR,
      binding: provenBinding(f.tls, binding),
    },
    message: helloR,
  };
}

/**
 * Reads HELLO_R, checks the responder's proof, and answers AUTH_I. The caller
 * then checks the proven key against its pins before using the link.
 *
 * @throws {ProtocolError} malformed; {AuthError} wrong id or bad signature
 */
export async function initiatorFinish(
  state: InitiatorState,
  helloR: Uint8Array,
): Promise<{ message: Uint8Array; keys: LinkKeys; peer: PeerProof }> {
  const f = wrapDecode("HELLO_R", () => {
    const r = reader(helloR, MSG.helloR, "HELLO_R");
    const nodeId = toNodeId(r.str16(32, "id"));
    const publicKey = r.raw(32, "key");
    r.raw(32, "nonce");
    const eph = r.raw(32, "ephemeral");
    const tls = readBinding(r);
    const sig = r.raw(64, "signature");
    r.end();
    return { nodeId, publicKey, eph, tls, sig };
  });
  if (f.nodeId !== state.expected) {
    throw new AuthError(
      `Cannot link: the node there is ${JSON.stringify(f.nodeId)}, not ${
        JSON.stringify(state.expected)
      }`,
    );
  }
  let key: CryptoKey;
  try {
    key = await importEd25519PublicKey(f.publicKey);
  } catch (cause) {
    throw new AuthError("Cannot link: the peer's node key is refused", { cause });
  }
  const unsigned = helloR.subarray(0, helloR.length - 64);
  const ok = await ed25519Verify(
    key,
    f.sig,
    signedPayload(state.label, "R", await sha256(state.helloI, unsigned)),
  );
  if (!ok) throw new AuthError("Cannot link: the peer's signature does not verify");
  const sig = await ed25519Sign(
    state.self.key.privateKey,
    signedPayload(state.label, "I", await sha256(state.helloI, helloR)),
  );
  const authI = new ByteWriter().u8(MSG.authI).u8(VERSION).raw(sig).finish();
  const keys = await deriveKeys(
    state.label,
    state.ephemeral,
    f.eph,
    await sha256(state.helloI, helloR, authI),
    "I",
  );
  return {
    message: authI,
    keys: { ...keys, binding: provenBinding(state.binding, f.tls) },
    peer: { nodeId: f.nodeId, publicKey: f.publicKey, endpoint: null },
  };
}

/**
 * Reads AUTH_I: the initiator has now proven its key.
 *
 * @throws {ProtocolError} malformed; {AuthError} bad signature
 */
export async function responderFinish(
  state: ResponderState,
  authI: Uint8Array,
): Promise<{ keys: LinkKeys; peer: PeerProof }> {
  const sig = wrapDecode("AUTH_I", () => {
    const r = reader(authI, MSG.authI, "AUTH_I");
    const s = r.raw(64, "signature");
    r.end();
    return s;
  });
  const ok = await ed25519Verify(
    state.peerKey,
    sig,
    signedPayload(state.label, "I", await sha256(state.helloI, state.helloR)),
  );
  if (!ok) throw new AuthError("Cannot accept link: the peer's signature does not verify");
  const keys = await deriveKeys(
    state.label,
    state.ephemeral,
    state.peerEphemeral,
    await sha256(state.helloI, state.helloR, authI),
    "R",
  );
  return { keys: { ...keys, binding: state.binding }, peer: state.peer };
}
