import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { createCertificate } from "../tls.ts";
import { startReading, stopReading } from "./socket_reading.ts";

const CHUNK = new Uint8Array(64 * 1024);
const MIB = 1024 * 1024;

Deno.test({
  name: "stopReading() makes TCP push back on the writer; startReading() delivers everything",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const material = await createCertificate(["127.0.0.1"], Date.now());
    const server = tls.createServer(material);
    let reader: tls.TLSSocket | null = null;
    let received = 0;
    server.on("secureConnection", (s: tls.TLSSocket) => {
      reader = s;
      stopReading(s);
      s.on("data", (d: Uint8Array) => void (received += d.length));
      s.on("error", () => {});
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const writer = tls.connect({
      host: "127.0.0.1",
      port: (server.address() as AddressInfo).port,
      rejectUnauthorized: false,
    });
    writer.on("error", () => {});
    try {
      await new Promise((r) => writer.once("secureConnect", r));
      for (let i = 0; i < 1000 && reader === null; i++) await new Promise((r) => setTimeout(r, 5));
      // 32 MiB offered: far more than loopback's kernel buffers (a few MiB) hold.
      let written = 0;
      for (let i = 0; i < 512; i++) {
        writer.write(CHUNK);
        written += CHUNK.length;
      }
      // Let the kernel take what it will; the rest must stay with the writer.
      for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(received, 0, "nothing delivered while stopped");
      assert.ok(
        writer.writableLength > 16 * MIB,
        `the writer still holds ${writer.writableLength} bytes: TCP pushed back`,
      );
      startReading(reader!);
      const end = Date.now() + 20_000;
      while (received < written && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      assert.equal(received, written);
    } finally {
      writer.destroy();
      (reader as tls.TLSSocket | null)?.destroy();
      await new Promise((r) => server.close(r));
    }
  },
});
