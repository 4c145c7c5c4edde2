/**
 * The node's Ed25519 identity: `server_private_key.pem` (PKCS#8, mode 0600) in
 * the data directory, and the fingerprints people compare.
 */
import { join } from "node:path";
import { importEd25519PublicKey } from "../e2e/base.ts";
import type { Logger } from "../log.ts";
import { FederationError } from "./errors.ts";

/** File name of the node identity key inside the data directory. */
export const NODE_KEY_FILE = "server_private_key.pem";

export type { NodeKey } from "../channel/mod.ts";
import type { NodeKey } from "../channel/mod.ts";

export {
  fingerprintMatches,
  fingerprintOf,
  fullFingerprint,
  shortFingerprint,
} from "../fingerprint.ts";

function pemBody(pem: string): Uint8Array {
  const m = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(pem);
  if (!m) throw new TypeError("no PKCS#8 PEM block");
  return Uint8Array.fromBase64(m[1].replace(/\s+/g, ""));
}

async function publicFromPrivate(privateKey: CryptoKey): Promise<Uint8Array> {
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  return Uint8Array.fromBase64(jwk.x!, { alphabet: "base64url" });
}

/**
 * Loads the node key, or creates it on first start. A present but unreadable
 * or corrupt key is an error, never silently replaced.
 *
 * @throws {FederationError} with what to do
 */
export async function loadOrCreateNodeKey(dataDir: string, log: Logger): Promise<NodeKey> {
  const file = join(dataDir, NODE_KEY_FILE);
  let pem: string | undefined;
  try {
    pem = await Deno.readTextFile(file);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new FederationError(
        `Cannot read node key ${JSON.stringify(file)}: ${(e as Error).message}; ` +
          "fix its permissions, or restore it from a backup",
        { cause: e },
      );
    }
  }
  if (pem !== undefined) {
    try {
      const privateKey = await crypto.subtle.importKey(
        "pkcs8",
        pemBody(pem) as BufferSource,
        { name: "Ed25519" },
        true,
        ["sign"],
      );
      const publicKey = await publicFromPrivate(privateKey);
      await importEd25519PublicKey(publicKey);
      return { privateKey, publicKey };
    } catch (cause) {
      throw new FederationError(
        `Cannot load node key ${JSON.stringify(file)}: the file is corrupt; restore it from a ` +
          "backup, or move it away to start this node with a new identity (linked nodes will " +
          "then refuse it until their owners accept the new key)",
        { cause },
      );
    }
  }
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const b64 = pkcs8.toBase64().replace(/.{1,64}/g, "$&\n");
  await Deno.writeTextFile(file, `-----BEGIN PRIVATE KEY-----\n${b64}-----END PRIVATE KEY-----\n`, {
    mode: 0o600,
    createNew: true,
  });
  log.info("created node identity key", { file });
  return {
    privateKey: pair.privateKey,
    publicKey: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)),
  };
}
