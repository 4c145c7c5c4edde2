/**
 * The TLS channel binding of a connection: what lets the channel handshake
 * (lib/channel/handshake.ts, version 4) tell whether both nodes hold the two
 * ends of one and the same TLS session, or whether something in between
 * terminates TLS (a reverse proxy, or an attacker presenting its own
 * certificate, which nothing here rejects).
 *
 *   binding = SHA-256("fedchat-tls-binding" ‖ client Finished ‖ server Finished)
 *
 * Under TLS 1.3 each Finished's verify_data is an HMAC over the whole handshake
 * transcript (both key shares, both randoms, the certificate) with a key
 * derived from the (EC)DHE secret (RFC 8446 §4.4.4): both ends of one session
 * compute the same pair, and a party that terminates TLS on both sides holds
 * two sessions whose pairs differ (it cannot make two ECDHE exchanges with
 * different peers yield one secret and one transcript). Deno 2.9.6's node:tls
 * has no `exportKeyingMaterial` (RFC 9266's tls-exporter would be the standard
 * choice); `getFinished()` / `getPeerFinished()` give the verify_data on both
 * sides. Anything but TLS 1.3 with both values present gives no binding: the
 * channel then stays sealed. A session resumed without (EC)DHE would weaken
 * this; the dialer offers no session to resume (`dialWss` passes none).
 */
import { createHash } from "node:crypto";

/** The two Finished values and the protocol of a TLS socket (node:tls's `TLSSocket` has them). */
export interface FinishedSource {
  getProtocol(): string | null;
  getFinished(): Uint8Array | undefined;
  getPeerFinished(): Uint8Array | undefined;
}

/** Length of a binding in bytes. */
export const TLS_BINDING_BYTES = 32;
const LABEL = new TextEncoder().encode("fedchat-tls-binding");
/** TLS 1.3 Finished verify_data: the handshake hash's length (32 or 48 bytes). */
const MIN_FINISHED_BYTES = 32;

/**
 * The binding of `socket`'s TLS session, or null when it has none to give
 * (not TLS 1.3, or a Finished value missing or short). Call it once the
 * handshake is over and before the socket closes (the values go with it).
 */
export function tlsBinding(socket: FinishedSource, role: "client" | "server"): Uint8Array | null {
  let protocol: string | null;
  let mine: Uint8Array | undefined;
  let peers: Uint8Array | undefined;
  try {
    protocol = socket.getProtocol();
    mine = socket.getFinished();
    peers = socket.getPeerFinished();
  } catch {
    // A socket already gone has no binding: the channel stays sealed.
    return null;
  }
  if (protocol !== "TLSv1.3") return null;
  if (!mine || !peers || mine.length < MIN_FINISHED_BYTES || peers.length !== mine.length) {
    return null;
  }
  const [client, server] = role === "client" ? [mine, peers] : [peers, mine];
  const h = createHash("sha256");
  h.update(LABEL);
  h.update(client);
  h.update(server);
  return new Uint8Array(h.digest());
}
