import assert from "node:assert/strict";
import { createCertificate } from "./tls.ts";

/** Serves TLS with `cert` on loopback and connects to it as `hostname` trusting only `cert`. */
async function handshake(cert: { cert: string; key: string }, hostname: string): Promise<string> {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...cert });
  // The server's side fails too when the client refuses the certificate: ignored here.
  const accepted = (async () => {
    const conn = await listener.accept();
    try {
      await conn.write(new TextEncoder().encode("hello"));
    } finally {
      conn.close();
    }
  })().catch(() => {});
  try {
    const { port } = listener.addr as Deno.NetAddr;
    const conn = await Deno.connectTls({ hostname, port, caCerts: [cert.cert] });
    try {
      const buf = new Uint8Array(5);
      let n = 0;
      for (let i = 0; i < 10 && n < 5; i++) n += (await conn.read(buf.subarray(n))) ?? 5;
      await accepted;
      return new TextDecoder().decode(buf);
    } finally {
      conn.close();
    }
  } finally {
    listener.close();
    await accepted;
  }
}

Deno.test("createCertificate(): rustls serves it and a client trusting it accepts each name", async () => {
  const material = await createCertificate(["::1"], Date.now());
  assert.match(
    material.cert,
    /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/,
  );
  assert.match(material.key, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.equal(await handshake(material, "127.0.0.1"), "hello");
  assert.equal(await handshake(material, "localhost"), "hello");
});

Deno.test("createCertificate(): a name it was not made for is refused", async () => {
  const material = await createCertificate(["127.0.0.1"], Date.now());
  await assert.rejects(handshake(material, "example.com"));
});

Deno.test("createCertificate(): an expired one is refused, a current one from ten years ago is not", async () => {
  const day = 24 * 3600_000;
  const old = await createCertificate(["127.0.0.1"], Date.now() - 3651 * day);
  await assert.rejects(handshake(old, "127.0.0.1"));
  const almost = await createCertificate(["127.0.0.1"], Date.now() - 3640 * day);
  assert.equal(await handshake(almost, "127.0.0.1"), "hello");
});

Deno.test("createCertificate(): IPv6 names in every text form, and a clear error for a bad one", async () => {
  for (const ip of ["::1", "fe80::1:2", "::ffff:10.0.0.1", "2001:db8:0:0:0:0:0:1"]) {
    await createCertificate([ip], Date.now());
  }
  await assert.rejects(createCertificate(["1::2::3"], Date.now()), /not an IP address/);
  await assert.rejects(createCertificate(["1:2:3:4:5:6:7:8:9"], Date.now()), /not an IP address/);
});
