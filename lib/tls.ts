/**
 * The node's TLS certificate: ECDSA P-256, self-signed, CA:FALSE, with SANs
 * (rustls needs them; Chromium refuses Ed25519 TLS certificates). TLS hides
 * traffic from the network; who a node is, is proven by the node-key handshake.
 */
import type * as X509 from "@peculiar/x509";
import { join } from "node:path";
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

function sanFor(name: string): X509.JsonGeneralName {
  return IPV4.test(name) || name.includes(":")
    ? { type: "ip", value: name }
    : { type: "dns", value: name };
}

function toPem(label: string, der: ArrayBuffer): string {
  const b64 = new Uint8Array(der).toBase64();
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, "$&\n")}-----END ${label}-----\n`;
}

/**
 * Makes a self-signed ECDSA P-256 certificate for `hosts` plus localhost and
 * 127.0.0.1, valid for ten years from `nowMs`.
 */
export async function createCertificate(hosts: string[], nowMs: number): Promise<TlsMaterial> {
  // Loaded only when a certificate is made, to keep ordinary start-up fast.
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]) as CryptoKeyPair;
  const names = [...new Set([...hosts, "localhost", "127.0.0.1"])].filter((h) =>
    h !== "0.0.0.0" && h !== "::"
  );
  const serial = new Uint8Array(16);
  crypto.getRandomValues(serial);
  serial[0] &= 0x7f;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toHex(),
    name: `CN=${names[0]}`,
    notBefore: new Date(nowMs - 60_000),
    notAfter: new Date(nowMs + 10 * 365 * 24 * 3600_000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map(sanFor)),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { cert: cert.toString("pem") + "\n", key: toPem("PRIVATE KEY", pkcs8) };
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
