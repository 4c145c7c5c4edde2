/**
 * The node's TLS certificate: ECDSA P-256, self-signed, CA:FALSE, with SANs
 * (rustls needs them; Chromium refuses Ed25519 TLS certificates). TLS hides
 * traffic from the network; who a node is, is proven by the node-key handshake.
 */
import { join } from "node:path";
import {
  DER_TRUE,
  derBitString,
  derExplicit,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derTime,
  derTlv,
  derUnsigned,
  derUtf8,
} from "./der.ts";
import type { Logger } from "./log.ts";

/** PEM certificate and key for a TLS listener. */
export interface TlsMaterial {
  cert: string;
  key: string;
}

/** File names inside the data directory. */
export const CERT_FILE = "server.crt";
export const CERT_KEY_FILE = "server.key";

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";
const COMMON_NAME = "2.5.4.3";
const BASIC_CONSTRAINTS = "2.5.29.19";
const KEY_USAGE = "2.5.29.15";
const EXT_KEY_USAGE = "2.5.29.37";
const SUBJECT_ALT_NAME = "2.5.29.17";
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

function notAnIp(name: string): Error {
  return new Error(`Cannot make a TLS certificate for ${JSON.stringify(name)}: not an IP address`);
}

function ipv4Bytes(name: string): number[] {
  const bytes = name.split(".").map(Number);
  if (bytes.length !== 4 || bytes.some((b) => !(b >= 0 && b <= 255))) throw notAnIp(name);
  return bytes;
}

/** The 16 bytes of an IPv6 address in text form ("::1", "fe80::1:2", "::ffff:1.2.3.4"). */
function ipv6Bytes(name: string): Uint8Array {
  const halves = name.split("::");
  if (halves.length > 2) throw notAnIp(name);
  const words = (part: string): number[] => {
    if (part === "") return [];
    const groups = part.split(":");
    const out: number[] = [];
    groups.forEach((g, i) => {
      if (i === groups.length - 1 && g.includes(".")) {
        const [a, b, c, d] = ipv4Bytes(g);
        out.push(a << 8 | b, c << 8 | d);
      } else if (/^[0-9a-f]{1,4}$/i.test(g)) out.push(parseInt(g, 16));
      else throw notAnIp(name);
    });
    return out;
  };
  const head = words(halves[0]);
  const tail = halves.length === 2 ? words(halves[1]) : [];
  const zeros = 8 - head.length - tail.length;
  if (halves.length === 2 ? zeros < 1 : zeros !== 0) throw notAnIp(name);
  const all = [...head, ...new Array(zeros).fill(0), ...tail];
  return Uint8Array.from(all.flatMap((w) => [w >> 8, w & 0xff]));
}

/** A subjectAltName entry: iPAddress [7] or dNSName [2]. */
function sanFor(name: string): Uint8Array {
  if (IPV4.test(name)) return derTlv(0x87, Uint8Array.from(ipv4Bytes(name)));
  if (name.includes(":")) return derTlv(0x87, ipv6Bytes(name));
  return derTlv(0x82, new TextEncoder().encode(name));
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? derSequence(derOid(oid), DER_TRUE, derOctetString(value))
    : derSequence(derOid(oid), derOctetString(value));
}

/** WebCrypto's ECDSA signature (r ‖ s, 32 bytes each) as X.509 wants it: SEQUENCE { r, s }. */
function ecdsaSignatureDer(raw: Uint8Array): Uint8Array {
  return derSequence(derUnsigned(raw.subarray(0, 32)), derUnsigned(raw.subarray(32)));
}

function toPem(label: string, der: Uint8Array): string {
  const b64 = der.toBase64();
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, "$&\n")}-----END ${label}-----\n`;
}

/**
 * Makes a self-signed ECDSA P-256 certificate for `hosts` plus localhost and
 * 127.0.0.1, valid for ten years from `nowMs`. Encoded here (lib/der.ts), not
 * with an X.509 library: one was 11 MiB of resident memory that a node kept
 * for good after its first start.
 */
export async function createCertificate(hosts: string[], nowMs: number): Promise<TlsMaterial> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]) as CryptoKeyPair;
  const names = [...new Set([...hosts, "localhost", "127.0.0.1"])].filter((h) =>
    h !== "0.0.0.0" && h !== "::"
  );
  const serial = new Uint8Array(16);
  crypto.getRandomValues(serial);
  serial[0] &= 0x7f;
  const signatureAlgorithm = derSequence(derOid(ECDSA_WITH_SHA256));
  const name = derSequence(derSet(derSequence(derOid(COMMON_NAME), derUtf8(names[0]))));
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const tbs = derSequence(
    derExplicit(0, derUnsigned(Uint8Array.of(2))), // v3
    derUnsigned(serial),
    signatureAlgorithm,
    name, // issuer
    derSequence(derTime(nowMs - 60_000), derTime(nowMs + 10 * 365 * 24 * 3600_000)),
    name, // subject
    spki,
    derExplicit(
      3,
      derSequence(
        extension(BASIC_CONSTRAINTS, true, derSequence()), // CA:FALSE
        extension(KEY_USAGE, true, derTlv(0x03, Uint8Array.of(7, 0x80))), // digitalSignature
        extension(EXT_KEY_USAGE, false, derSequence(derOid(SERVER_AUTH))),
        extension(SUBJECT_ALT_NAME, false, derSequence(...names.map(sanFor))),
      ),
    ),
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, tbs),
  );
  const cert = derSequence(tbs, signatureAlgorithm, derBitString(ecdsaSignatureDer(signature)));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { cert: toPem("CERTIFICATE", cert), key: toPem("PRIVATE KEY", pkcs8) };
}

/** Options of {@linkcode loadOrCreateCertificate}. */
export interface CertificateOptions {
  dataDir: string;
  hosts: string[];
  nowMs: number;
  log: Logger;
}

/**
 * Reads `server.crt` / `server.key` from the data directory, or makes them when
 * either is missing (deleting them regenerates them).
 */
export async function loadOrCreateCertificate(options: CertificateOptions): Promise<TlsMaterial> {
  const { dataDir, hosts, nowMs, log } = options;
  const certPath = join(dataDir, CERT_FILE);
  const keyPath = join(dataDir, CERT_KEY_FILE);
  try {
    return { cert: await Deno.readTextFile(certPath), key: await Deno.readTextFile(keyPath) };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const material = await createCertificate(hosts, nowMs);
  await Deno.writeTextFile(keyPath, material.key, { mode: 0o600 });
  await Deno.writeTextFile(certPath, material.cert, { mode: 0o644 });
  log.info("created TLS certificate", { file: certPath });
  return material;
}
