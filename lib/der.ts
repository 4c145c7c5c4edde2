/**
 * The few DER encodings (ITU-T X.690) a self-signed X.509 certificate needs
 * (lib/tls.ts): each function returns one complete TLV. Encoding only; input
 * comes from this process, never from a peer.
 */

function length(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** A TLV with tag byte `tag` around `parts`, concatenated. */
export function derTlv(tag: number, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const len = length(size);
  const out = new Uint8Array(1 + len.length + size);
  out[0] = tag;
  out.set(len, 1);
  let at = 1 + len.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** SEQUENCE. */
export const derSequence = (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> =>
  derTlv(0x30, ...parts);
/** SET (of one element here: no sorting needed). */
export const derSet = (...parts: Uint8Array[]): Uint8Array => derTlv(0x31, ...parts);
/** [n] EXPLICIT (constructed context-specific tag). */
export const derExplicit = (n: number, ...parts: Uint8Array[]): Uint8Array =>
  derTlv(0xa0 | n, ...parts);
/** OCTET STRING. */
export const derOctetString = (bytes: Uint8Array): Uint8Array => derTlv(0x04, bytes);
/** BIT STRING of whole bytes (no unused bits). */
export const derBitString = (bytes: Uint8Array): Uint8Array =>
  derTlv(0x03, Uint8Array.of(0), bytes);
/** UTF8String. */
export const derUtf8 = (text: string): Uint8Array => derTlv(0x0c, new TextEncoder().encode(text));
/** BOOLEAN TRUE. */
export const DER_TRUE: Uint8Array = Uint8Array.of(0x01, 0x01, 0xff);

/** INTEGER from unsigned big-endian bytes, in the shortest form DER requires. */
export function derUnsigned(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const v = bytes.subarray(start);
  return v.length > 0 && v[0] & 0x80 ? derTlv(0x02, Uint8Array.of(0), v) : derTlv(0x02, v);
}

/** OBJECT IDENTIFIER from its dotted form, e.g. "2.5.4.3". */
export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const out = [40 * arcs[0] + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) {
      groups.unshift(0x80 | (v & 0x7f));
    }
    out.push(...groups);
  }
  return derTlv(0x06, Uint8Array.from(out));
}

/** Time as RFC 5280 §4.1.2.5 wants it: UTCTime up to 2049, GeneralizedTime from 2050, whole seconds. */
export function derTime(ms: number): Uint8Array {
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z";
  const year = Number(iso.slice(0, 4));
  return year < 2050
    ? derTlv(0x17, new TextEncoder().encode(digits.slice(2)))
    : derTlv(0x18, new TextEncoder().encode(digits));
}
