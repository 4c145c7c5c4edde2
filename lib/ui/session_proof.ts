/**
 * How a page proves it holds the UI token without sending it: an
 * HMAC-SHA-256 (RFC 2104) under the token of a label, the page's origin and
 * a fresh nonce chosen by the server. The server computes the same value
 * (this one function, shared), so a proof is useless on another port (the
 * origin differs), later (the nonce expires and is single-use), or to
 * whoever answers on the port instead of fedchat (it learns no token).
 */

/** Header carrying the session secret on every API request. */
export const SESSION_HEADER = "x-fedchat-session";
/** The WebSocket subprotocol the event socket speaks (the server answers with it). */
export const EVENTS_PROTOCOL = "fedchat";
/** Prefix of the second subprotocol offered, which carries the session secret. */
export const SESSION_PROTOCOL_PREFIX = "fedchat-session.";

const LABEL = "fedchat-ui-session-v1";

/** base64url without padding. */
export function base64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The proof for `nonce` at `origin` (`http://127.0.0.1:PORT`), as base64url. */
export async function sessionProof(token: string, origin: string, nonce: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(token),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const data = new TextEncoder().encode(`${LABEL}\n${origin}\n${nonce}`);
  return base64Url(new Uint8Array(await crypto.subtle.sign("HMAC", key, data)));
}
