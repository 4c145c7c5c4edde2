/**
 * The bundled lib/e2e runs in headless Chromium: a full handshake, ratchet and file
 * round trip inside the page, and the same protocol across runtimes (Deno initiates,
 * Chromium accepts), so both WebCrypto implementations agree on every byte.
 *
 * Playwright needs more than the test run's permissions (home directory, /proc, a
 * temp profile), so the test re-runs this file as a driver in a child process
 * (allowed by --allow-run) with TMPDIR under .tmp/, and checks the driver's verdict.
 */
import assert from "node:assert/strict";
import * as e2e from "../lib/e2e/mod.ts";
import { browserTest, bundleE2e, fromHex, launchChromium, toHex } from "./_helpers/browser.ts";

const ROOT = new URL("../", import.meta.url);
const BUNDLE = new URL(".tmp/e2e_browser_bundle.js", ROOT);

const bundle = () => bundleE2e(BUNDLE);

async function drive(): Promise<void> {
  {
    const js = await Deno.readTextFile(BUNDLE);
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/e2e.js") {
        return new Response(js, { headers: { "content-type": "text/javascript" } });
      }
      return new Response("<!doctype html><title>e2e</title>", {
        headers: { "content-type": "text/html" },
      });
    });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      // 127.0.0.1 is a secure context, which WebCrypto requires.
      await page.goto(`http://127.0.0.1:${server.addr.port}/`);
      await page.evaluate(async () => {
        // deno-lint-ignore no-explicit-any
        (globalThis as any).e2e = await import("/e2e.js");
      });

      const inPage = await page.evaluate(async () => {
        // deno-lint-ignore no-explicit-any
        const e2e = (globalThis as any).e2e;
        const enc = new TextEncoder(), dec = new TextDecoder();
        const alice = await e2e.generateIdentity();
        const bob = await e2e.generateIdentity();
        const { request, pending } = await e2e.createChatRequest({
          identity: alice,
          from: "alice@nodea",
          to: "bob@nodeb",
          createdAtMs: Date.now(),
        });
        const verified = await e2e.readChatRequest(request, { localAddress: "bob@nodeb" });
        const accepted = await e2e.acceptChatRequest({ identity: bob, request: verified });
        const done = await e2e.completeChatRequest({
          identity: alice,
          pending,
          acceptance: accepted.acceptance,
        });
        e2e.checkHandshakeConfirm(done.confirm, accepted);
        let a = done.session, b = accepted.session;
        const seen: string[] = [];
        for (let i = 0; i < 20; i++) {
          const m = await e2e.ratchetEncrypt({ state: a, plaintext: enc.encode(`a${i}`) });
          a = m.newState;
          const r = await e2e.ratchetDecrypt({ state: b, message: m.message });
          b = r.newState;
          seen.push(dec.decode(r.plaintext));
          const m2 = await e2e.ratchetEncrypt({ state: b, plaintext: enc.encode(`b${i}`) });
          b = m2.newState;
          const r2 = await e2e.ratchetDecrypt({ state: a, message: m2.message });
          a = r2.newState;
          seen.push(dec.decode(r2.plaintext));
        }
        let replayRefused = false;
        const last = await e2e.ratchetEncrypt({ state: a, plaintext: enc.encode("x") });
        const got = await e2e.ratchetDecrypt({ state: b, message: last.message });
        try {
          await e2e.ratchetDecrypt({ state: got.newState, message: last.message });
        } catch (err) {
          replayRefused = err instanceof e2e.DecryptError;
        }
        const data = new Uint8Array(3 * 1024 * 1024 + 123);
        for (let i = 0; i < data.length; i++) data[i] = i * 7;
        const fe = new e2e.FileEncryptor();
        const chunks: Uint8Array[] = [];
        for await (const c of fe.encrypt([data])) chunks.push(c);
        const manifest = e2e.decodeFileManifest(e2e.encodeFileManifest(await fe.manifest()));
        let same = true, total = 0;
        for await (const p of new e2e.FileDecryptor(manifest).decrypt(chunks)) {
          for (let i = 0; i < p.length; i++) if (p[i] !== data[total + i]) same = false;
          total += p.length;
        }
        // Manifest v2: ChaCha20-Poly1305 through @noble/ciphers, the digest after the chunks.
        const v2 = {
          version: 2 as const,
          fileId: crypto.getRandomValues(new Uint8Array(16)),
          key: crypto.getRandomValues(new Uint8Array(32)),
          chunkBytes: 256 * 1024,
          byteLength: data.length,
          digest: null,
        };
        const sealer = new e2e.FileChunkSealer(v2);
        const digester = new e2e.FileDigester(v2.chunkBytes, 2);
        const sealed2: Uint8Array[] = [];
        for (let i = 0; i < sealer.chunkCount; i++) {
          const piece = data.subarray(i * v2.chunkBytes, (i + 1) * v2.chunkBytes);
          sealed2.push(await sealer.seal(i, piece));
          digester.add(await e2e.FileDigester.chunkDigest(piece));
        }
        const m2 = e2e.decodeFileManifest(
          e2e.encodeFileManifest({ ...v2, digest: digester.finish(data.length) }),
        );
        let total2 = 0;
        for await (const p of new e2e.FileDecryptor(m2).decrypt(sealed2)) {
          for (let i = 0; i < p.length; i++) if (p[i] !== data[total2 + i]) same = false;
          total2 += p.length;
        }
        let smallOrderRefused = 0;
        for (const k of e2e.ED25519_SMALL_ORDER_KEYS) {
          await e2e.importEd25519PublicKey(k).catch((err: unknown) => {
            if (err instanceof e2e.VerifyError) smallOrderRefused++;
          });
        }
        const state = e2e.decodeRatchetState(e2e.encodeRatchetState(a));
        return {
          seen: seen.join(","),
          replayRefused,
          fileOk: same && total === data.length && total2 === data.length,
          smallOrderRefused,
          stateRoundTrip: state.sendCount === a.sendCount,
        };
      });
      assert.equal(inPage.seen, Array.from({ length: 20 }, (_, i) => `a${i},b${i}`).join(","));
      assert.equal(inPage.replayRefused, true);
      assert.equal(inPage.fileOk, true);
      assert.equal(inPage.smallOrderRefused, 8);
      assert.equal(inPage.stateRoundTrip, true);

      // Across runtimes: Deno's Alice, Chromium's Bob.
      const alice = await e2e.generateIdentity();
      const { request, pending } = await e2e.createChatRequest({
        identity: alice,
        from: "alice@deno",
        to: "bob@chromium",
        createdAtMs: Date.now(),
      });
      const acceptance = await page.evaluate(async (requestHex: string) => {
        // deno-lint-ignore no-explicit-any
        const g = globalThis as any;
        const bytes = Uint8Array.from(requestHex.match(/../g) ?? [], (x) => parseInt(x, 16));
        const bob = await g.e2e.generateIdentity();
        const verified = await g.e2e.readChatRequest(bytes, { localAddress: "bob@chromium" });
        const accepted = await g.e2e.acceptChatRequest({ identity: bob, request: verified });
        g.bobSession = accepted.session;
        return Array.from(accepted.acceptance as Uint8Array, (x) => x.toString(16).padStart(2, "0"))
          .join("");
      }, toHex(request));
      const done = await e2e.completeChatRequest({
        identity: alice,
        pending,
        acceptance: fromHex(acceptance),
      });
      const sent = await e2e.ratchetEncrypt({
        state: done.session,
        plaintext: new TextEncoder().encode("from deno"),
      });
      const replyHex = await page.evaluate(async (messageHex: string) => {
        // deno-lint-ignore no-explicit-any
        const g = globalThis as any;
        const bytes = Uint8Array.from(messageHex.match(/../g) ?? [], (x) => parseInt(x, 16));
        const r = await g.e2e.ratchetDecrypt({ state: g.bobSession, message: bytes });
        if (new TextDecoder().decode(r.plaintext) !== "from deno") {
          throw new Error("wrong plaintext");
        }
        const m = await g.e2e.ratchetEncrypt({
          state: r.newState,
          plaintext: new TextEncoder().encode("from chromium"),
        });
        return Array.from(m.message as Uint8Array, (x) => x.toString(16).padStart(2, "0")).join("");
      }, toHex(sent.message));
      const reply = await e2e.ratchetDecrypt({ state: sent.newState, message: fromHex(replyHex) });
      assert.equal(new TextDecoder().decode(reply.plaintext), "from chromium");
    } finally {
      await browser.close();
      await server.shutdown();
    }
  }
}

browserTest({
  name: "lib/e2e handshake, ratchet and file round trip pass in headless Chromium",
  file: import.meta.url,
  drive: drive,
  before: bundle,
});
