import assert from "node:assert/strict";
import net, { type AddressInfo } from "node:net";
import tls from "node:tls";
import { createCertificate } from "../tls.ts";
import { readIntoBuffer, startReading, stopReading } from "./socket_reading.ts";

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

Deno.test({
  name:
    "readIntoBuffer() reads the cleartext and the ciphertext under it into kept buffers, on a wrapped (listener's) and a dialled socket, through stops and the end",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const material = await createCertificate(["127.0.0.1"], Date.now());
    const secureContext = tls.createSecureContext(material);
    const TOTAL = 8 * MIB;
    const pattern = new Uint8Array(256 * 1024).map((_, i) => (i * 11 + 5) & 255);
    const sockets: tls.TLSSocket[] = [];
    // What one side read: cleartext checked against the pattern, the buffers it came in, and the
    // buffers the TLS layer was handed ciphertext in (its `receive`, which the runtime's own
    // forwarder also calls).
    const reader = (s: tls.TLSSocket) => {
      const seen = {
        bytes: 0,
        wrong: 0,
        buffers: new Set<ArrayBufferLike>(),
        cipherBytes: 0,
        cipherBuffers: new Set<ArrayBufferLike>(),
      };
      // deno-lint-ignore no-explicit-any -- spying on the runtime's TLS handle
      const handle = (s as any)._handle;
      const receive = handle.receive;
      handle.receive = function (data: Uint8Array) {
        seen.cipherBytes += data.length;
        seen.cipherBuffers.add(data.buffer);
        return receive.call(this, data);
      };
      assert.ok(
        readIntoBuffer(s as unknown as net.Socket, (b) => {
          for (let i = 0; i < b.length; i++) {
            if (b[i] !== pattern[(seen.bytes + i) % pattern.length]) seen.wrong++;
          }
          seen.bytes += b.length;
          seen.buffers.add(b.buffer);
        }),
        "the runtime has the hooks",
      );
      return seen;
    };
    const pump = (s: tls.TLSSocket) => {
      let sent = 0;
      const more = () => {
        while (sent < TOTAL) {
          sent += pattern.length;
          if (!s.write(pattern)) return void s.once("drain", more);
        }
      };
      more();
    };
    let atServer: ReturnType<typeof reader> | null = null;
    let serverSocket: tls.TLSSocket | null = null;
    let serverEnded = false;
    // As lib/wss/server.ts does: a plain listener, TLS wrapped around each socket.
    const server = net.createServer({ pauseOnConnect: true }, (raw) => {
      const s = new tls.TLSSocket(raw, { isServer: true, secureContext } as tls.TLSSocketOptions);
      sockets.push(s);
      s.on("error", () => {});
      s.on("end", () => void (serverEnded = true));
      s.once("secure", () => {
        atServer = reader(s);
        serverSocket = s;
        s.resume();
      });
      raw.resume();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const client = tls.connect({
      host: "127.0.0.1",
      port: (server.address() as AddressInfo).port,
      rejectUnauthorized: false,
    });
    client.on("error", () => {});
    try {
      await new Promise((r) => client.once("secureConnect", r));
      for (let i = 0; i < 1000 && serverSocket === null; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      const atClient = reader(client);
      client.resume();
      pump(client);
      pump(serverSocket!);
      // Stopped and started again while the bytes flow: reading restarts with the kept buffer.
      for (let i = 0; i < 5; i++) {
        stopReading(serverSocket! as unknown as net.Socket);
        await new Promise((r) => setTimeout(r, 20));
        startReading(serverSocket! as unknown as net.Socket);
        await new Promise((r) => setTimeout(r, 5));
      }
      const end = Date.now() + 20_000;
      const done = () => atServer?.bytes === TOTAL && atClient.bytes === TOTAL;
      while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      for (const seen of [atServer!, atClient]) {
        assert.equal(seen.bytes, TOTAL);
        assert.equal(seen.wrong, 0);
        assert.equal(seen.buffers.size, 1, "every cleartext read in the one buffer");
        assert.ok(seen.cipherBytes > TOTAL, "the ciphertext went through the TLS layer's receive");
        assert.equal(seen.cipherBuffers.size, 1, "every ciphertext read in the one kept buffer");
      }
      // The end of the stream still reaches the socket (the runtime's own onread handles it).
      client.end();
      while (!serverEnded && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      assert.ok(serverEnded, "the server saw the end");
    } finally {
      client.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  },
});
