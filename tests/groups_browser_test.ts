/**
 * The bundled lib/e2e group interface (MLS through ts-mls, X-Wing suite) runs in
 * headless Chromium: a three-member group inside the page (add, messages both
 * ways, removal, state export/import), and the same group across runtimes
 * (Deno creates and adds Chromium's member; both read each other's messages),
 * so both runtimes agree on every byte.
 *
 * Like tests/e2e_browser_test.ts, the test re-runs this file as a driver with
 * --allow-all (Playwright's needs) and checks the driver's verdict.
 */
import assert from "node:assert/strict";
import * as e2e from "../lib/e2e/mod.ts";
import { browserTest, bundleE2e, fromHex, launchChromium, toHex } from "./_helpers/browser.ts";

const ROOT = new URL("../", import.meta.url);
const BUNDLE = new URL(".tmp/groups_browser_bundle.js", ROOT);
const NOW = Date.UTC(2026, 0, 1);

const bundle = () => bundleE2e(BUNDLE);

async function drive(): Promise<void> {
  const js = await Deno.readTextFile(BUNDLE);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname === "/e2e.js") {
      return new Response(js, { headers: { "content-type": "text/javascript" } });
    }
    return new Response("<!doctype html><title>groups</title>", {
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

    const inPage = await page.evaluate(async (now: number) => {
      // deno-lint-ignore no-explicit-any
      const e2e = (globalThis as any).e2e;
      const enc = new TextEncoder(), dec = new TextDecoder();
      const people = [];
      for (const name of ["alice", "bob", "carol"]) {
        const identity = await e2e.generateIdentity();
        const address = `${name}@node-${name}`;
        const kp = await e2e.generateGroupKeyPackage({ identity, address, nowMs: now });
        people.push({ identity, address, kp });
      }
      let alice = await e2e.createGroup({
        identity: people[0].identity,
        address: people[0].address,
        name: "in the browser",
        homeNode: "node-alice",
        nowMs: now,
      });
      const kps = [];
      for (const p of people.slice(1)) {
        kps.push(await e2e.readGroupKeyPackage(p.kp.keyPackage, { nowMs: now }));
      }
      const add = await e2e.addGroupMembers({ state: alice, keyPackages: kps });
      alice = add.newState;
      let bob =
        (await e2e.joinGroup({ welcome: add.welcome, keyPackageSecrets: [people[1].kp.secret] }))
          .state;
      let carol =
        (await e2e.joinGroup({ welcome: add.welcome, keyPackageSecrets: [people[2].kp.secret] }))
          .state;
      const seen: string[] = [];
      const m1 = await e2e.encryptGroupMessage({ state: alice, plaintext: enc.encode("a1") });
      alice = m1.newState;
      for (const s of [bob, carol]) {
        const r = await e2e.processGroupMessage({ state: s, message: m1.message });
        seen.push(`${r.sender.address}:${dec.decode(r.plaintext)}`);
        if (s === bob) bob = r.newState;
        else carol = r.newState;
      }
      const m2 = await e2e.encryptGroupMessage({ state: carol, plaintext: enc.encode("c1") });
      carol = m2.newState;
      const r2 = await e2e.processGroupMessage({ state: alice, message: m2.message });
      alice = r2.newState;
      seen.push(`${r2.sender.address}:${dec.decode(r2.plaintext)}`);
      const rm = await e2e.removeGroupMembers({ state: alice, addresses: ["bob@node-bob"] });
      alice = rm.newState;
      const bobSaw = await e2e.processGroupMessage({ state: bob, message: rm.commit });
      carol = (await e2e.processGroupMessage({ state: carol, message: rm.commit })).newState;
      const secret = await e2e.encryptGroupMessage({ state: alice, plaintext: enc.encode("a2") });
      let removedRefused = false;
      try {
        await e2e.processGroupMessage({ state: bobSaw.newState, message: secret.message });
      } catch (err) {
        removedRefused = err instanceof e2e.DecryptError;
      }
      const restored = e2e.decodeGroupState(e2e.encodeGroupState(carol));
      const r3 = await e2e.processGroupMessage({ state: restored, message: secret.message });
      seen.push(`${r3.sender.address}:${dec.decode(r3.plaintext)}`);
      const hub = await e2e.readGroupHubInfo(rm.hubInfo);
      return {
        seen: seen.join(","),
        removedSelf: bobSaw.removedSelf,
        removedRefused,
        hubMembers: hub.members.map((m: { address: string }) => m.address).join(","),
        epoch: restored.epoch,
      };
    }, NOW);
    assert.equal(
      inPage.seen,
      "alice@node-alice:a1,alice@node-alice:a1,carol@node-carol:c1,alice@node-alice:a2",
    );
    assert.equal(inPage.removedSelf, true);
    assert.equal(inPage.removedRefused, true);
    assert.equal(inPage.hubMembers, "alice@node-alice,carol@node-carol");
    assert.equal(inPage.epoch, 2);

    // Across runtimes: Chromium's Bob publishes a key package; Deno's Alice adds him.
    const bobKp = await page.evaluate(async (now: number) => {
      // deno-lint-ignore no-explicit-any
      const g = globalThis as any;
      const identity = await g.e2e.generateIdentity();
      g.bobKp = await g.e2e.generateGroupKeyPackage({
        identity,
        address: "bob@chromium",
        nowMs: now,
      });
      return Array.from(g.bobKp.keyPackage as Uint8Array, (x) => x.toString(16).padStart(2, "0"))
        .join("");
    }, NOW);
    const aliceId = await e2e.generateIdentity();
    let alice = await e2e.createGroup({
      identity: aliceId,
      address: "alice@deno",
      name: "across",
      homeNode: "deno",
      nowMs: NOW,
    });
    const kp = await e2e.readGroupKeyPackage(fromHex(bobKp), {
      nowMs: NOW,
      address: "bob@chromium",
    });
    const add = await e2e.addGroupMembers({ state: alice, keyPackages: [kp] });
    alice = add.newState;
    const hello = await e2e.encryptGroupMessage({
      state: alice,
      plaintext: new TextEncoder().encode("from deno"),
    });
    alice = hello.newState;
    const replyHex = await page.evaluate(async ([welcomeHex, messageHex]: string[]) => {
      // deno-lint-ignore no-explicit-any
      const g = globalThis as any;
      const hex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
      const joined = await g.e2e.joinGroup({
        welcome: hex(welcomeHex),
        keyPackageSecrets: [g.bobKp.secret],
      });
      const r = await g.e2e.processGroupMessage({ state: joined.state, message: hex(messageHex) });
      if (
        new TextDecoder().decode(r.plaintext) !== "from deno" || r.sender.address !== "alice@deno"
      ) {
        throw new Error("wrong plaintext or sender");
      }
      const m = await g.e2e.encryptGroupMessage({
        state: r.newState,
        plaintext: new TextEncoder().encode("from chromium"),
      });
      return Array.from(m.message as Uint8Array, (x) => x.toString(16).padStart(2, "0")).join("");
    }, [toHex(add.welcome!), toHex(hello.message)]);
    const reply = await e2e.processGroupMessage({ state: alice, message: fromHex(replyHex) });
    assert.equal(reply.kind, "application");
    if (reply.kind === "application") {
      assert.equal(new TextDecoder().decode(reply.plaintext), "from chromium");
      assert.equal(reply.sender.address, "bob@chromium");
    }
  } finally {
    await browser.close();
    await server.shutdown();
  }
}

browserTest({
  name: "lib/e2e group chats (MLS, X-Wing) run in headless Chromium and agree with Deno",
  file: import.meta.url,
  drive,
  before: bundle,
});
