/**
 * Experiments behind docs/PERF_NOTES.md (run by hand; not in `deno task
 * bench`): the CPU cost of each piece of one message's path, measured alone
 * in this process with process.cpuUsage() (user + system CPU, so other load on
 * the shared machine disturbs it less than wall time), as the current code
 * does it and as the proposed designs would:
 *
 * - client store: the sender's and the receiver's rows per message as
 *   lib/client writes them (one transaction per event-loop turn), for 1, 16 and
 *   64 messages per turn, with synchronous=NORMAL and FULL;
 * - the ratchet: state decoded and encoded around every message with JSON
 *   inside (before issue 13), against state kept in memory with the binary
 *   inner codec (now), and HMAC via @noble vs node:crypto;
 * - AES-GCM (node:crypto) per message against one seal per coalesced batch;
 * - node store: inbox/outbox/dedup rows and COMMIT (synchronous=FULL) per batch size;
 * - receipts: Ed25519 sign/verify per batch, and a per-envelope HMAC from a
 *   static X25519 secret between node keys (the proposed provenance check).
 *
 *   deno run --allow-read --allow-write=.tmp --allow-env bench/exp_per_message.ts
 *
 * Prints µs of CPU per message (per operation), JSON line last.
 */
// deno-lint-ignore-file no-console
import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from "node:crypto";
import { cpuUsage } from "node:process";
import { join, resolve } from "node:path";
import * as e2e from "../lib/e2e/mod.ts";
import { ClientStore, type ContactRow, type MessageRow } from "../lib/client/client_store.ts";
import { NODE_AEAD } from "../lib/client/node_aead.ts";
import { TurnCommit } from "../lib/client/turn_commit.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import { openSqliteNodeStore } from "../lib/store/mod.ts";
import { DEFAULT_TTL, encodeEnvelope } from "../lib/protocol/mod.ts";
import { decodeInner, encodeInner, encodePayload } from "../lib/client/payload.ts";
import { encodeReceipt } from "../lib/node/receipt.ts";
import { toNodeId, toUserName } from "../lib/ids.ts";
const BOB = toUserName("bob");
import { hmac } from "@noble/hashes/hmac.js";
import { hkdfExpand, HmacSha256 } from "../lib/e2e/_sha256.ts";
import { sha256 } from "@noble/hashes/sha2.js";

const REPO = resolve(new URL("..", import.meta.url).pathname);
const SECONDS = Number(Deno.env.get("EXP_SECONDS") ?? 1.5);
const te = new TextEncoder();

/** CPU µs per call of `fn(i)`, running it for about SECONDS after a short warm-up. */
async function perOp(
  fn: (i: number) => unknown | Promise<unknown>,
  opsPerCall = 1,
): Promise<number> {
  let i = 0;
  const warm = performance.now() + 200;
  while (performance.now() < warm) await fn(i++);
  const c0 = cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < SECONDS * 1000) {
    for (let k = 0; k < 20; k++) await fn(i++);
    n += 20;
  }
  const c = cpuUsage(c0);
  return Math.round(((c.user + c.system) / (n * opsPerCall)) * 10) / 10;
}

const results: Record<string, number> = {};
async function measure(name: string, fn: (i: number) => unknown, opsPerCall = 1) {
  const us = await perOp(fn, opsPerCall);
  results[name] = us;
  console.log(`${String(us).padStart(8)} µs  ${name}`);
}

async function session() {
  const alice = await e2e.generateIdentity(), bob = await e2e.generateIdentity();
  const { request, pending } = await e2e.createChatRequest({
    identity: alice,
    from: "alice@na",
    to: "bob@nb",
    createdAtMs: Date.now(),
  });
  const verified = await e2e.readChatRequest(request, { localAddress: "bob@nb" });
  const accepted = await e2e.acceptChatRequest({ identity: bob, request: verified });
  const done = await e2e.completeChatRequest({
    identity: alice,
    pending,
    acceptance: accepted.acceptance,
  });
  // One message each way, so both sides hold a sending and a receiving chain.
  let a = done.session, b = accepted.session;
  const m1 = await e2e.ratchetEncrypt({ state: a, plaintext: te.encode("{}"), aead: NODE_AEAD });
  a = m1.newState;
  b = (await e2e.ratchetDecrypt({ state: b, message: m1.message, aead: NODE_AEAD })).newState;
  const m2 = await e2e.ratchetEncrypt({ state: b, plaintext: te.encode("{}"), aead: NODE_AEAD });
  b = m2.newState;
  a = (await e2e.ratchetDecrypt({ state: a, message: m2.message, aead: NODE_AEAD })).newState;
  return { a, b };
}

const text = "t1 1790000000000.000 " + "x".repeat(79);

// ---- the ratchet ----
console.log("-- ratchet, one 100-character text message");
{
  let { a } = await session();
  // As lib/client did it before issue 13: state decoded from and encoded to bytes, JSON inside.
  let aBytes = e2e.encodeRatchetState(a);
  const inner = (seq: number) =>
    te.encode(JSON.stringify({ t: "text", seq, at: Date.now(), text }));
  await measure("encrypt as before (state decode + JSON + encrypt + state encode)", async (i) => {
    const state = e2e.decodeRatchetState(aBytes);
    const id = crypto.getRandomValues(new Uint8Array(16));
    const r = await e2e.ratchetEncrypt({ state, plaintext: inner(i), ad: id, aead: NODE_AEAD });
    aBytes = e2e.encodeRatchetState(r.newState);
  });
  await measure("encrypt, state in memory, JSON inside", async (i) => {
    const r = await e2e.ratchetEncrypt({ state: a, plaintext: inner(i), aead: NODE_AEAD });
    a = r.newState;
  });
  // As lib/client does it now: state in memory, the binary inner codec (lib/client/payload.ts).
  const binary = (seq: number) => encodeInner({ t: "text", seq: seq + 1, at: Date.now(), text });
  await measure("encrypt, state in memory, binary inner (no JSON)", async (i) => {
    const r = await e2e.ratchetEncrypt({ state: a, plaintext: binary(i), aead: NODE_AEAD });
    a = r.newState;
  });
  // Decrypting needs a fresh message each time: measured as encrypt + decrypt round trips.
  const fresh = await session();
  let a2 = fresh.a, b2 = fresh.b;
  let a2Bytes = e2e.encodeRatchetState(a2), b2Bytes = e2e.encodeRatchetState(b2);
  await measure("encrypt + decrypt as before (state bytes around both, JSON inside)", async (i) => {
    const sa = e2e.decodeRatchetState(a2Bytes);
    const id = crypto.getRandomValues(new Uint8Array(16));
    const r = await e2e.ratchetEncrypt({ state: sa, plaintext: inner(i), ad: id, aead: NODE_AEAD });
    a2Bytes = e2e.encodeRatchetState(r.newState);
    const sb = e2e.decodeRatchetState(b2Bytes);
    const d = await e2e.ratchetDecrypt({ state: sb, message: r.message, ad: id, aead: NODE_AEAD });
    JSON.parse(new TextDecoder().decode(d.plaintext));
    b2Bytes = e2e.encodeRatchetState(d.newState);
  });
  a2 = e2e.decodeRatchetState(a2Bytes);
  b2 = e2e.decodeRatchetState(b2Bytes);
  await measure("encrypt + decrypt, state in memory, binary inner", async (i) => {
    const r = await e2e.ratchetEncrypt({ state: a2, plaintext: binary(i), aead: NODE_AEAD });
    a2 = r.newState;
    const d = await e2e.ratchetDecrypt({ state: b2, message: r.message, aead: NODE_AEAD });
    decodeInner(d.plaintext);
    b2 = d.newState;
  });
  await measure(
    "inner codec alone: encodeInner + decodeInner of a 100-character text",
    (i) => decodeInner(binary(i)),
  );
  await measure(
    "JSON inner alone (before): stringify + encode + decode + parse",
    (i) => JSON.parse(new TextDecoder().decode(inner(i))),
  );
}
{
  const key = crypto.getRandomValues(new Uint8Array(32));
  const one = Uint8Array.of(1), two = Uint8Array.of(2);
  const info = te.encode("fedchat/v1/ratchet/aead");
  await measure("KDF per message via @noble, as the ratchet does (kdfCk + aeadKeys)", () => {
    const h = new HmacSha256(key);
    h.mac(two);
    const mk = h.mac(one);
    hkdfExpand(mk, info, 44);
  });
  await measure("KDF per message via node:crypto (2 createHmac + hkdfSync 44 B)", () => {
    createHmac("sha256", key).update(two).digest();
    createHmac("sha256", key).update(one).digest();
    hkdfSync("sha256", key, new Uint8Array(0), info, 44);
  });
}

// ---- AES-GCM ----
console.log("-- AES-256-GCM through node:crypto");
{
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = new Uint8Array(12);
  const small = new Uint8Array(300);
  await measure("seal one 300-byte message (a link or channel message)", () => {
    const c = createCipheriv("aes-256-gcm", key, nonce);
    c.update(small);
    c.final();
    c.getAuthTag();
  });
  const sealed = await NODE_AEAD.seal(key, nonce, small, new Uint8Array(0));
  await measure("open one 300-byte message", () => {
    const d = createDecipheriv("aes-256-gcm", key, nonce);
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    d.update(sealed.subarray(0, sealed.length - 16));
    d.final();
  });
  const batch = new Uint8Array(300 * 64);
  await measure("seal 64 messages as one coalesced frame, per message", () => {
    const c = createCipheriv("aes-256-gcm", key, nonce);
    c.update(batch);
    c.final();
    c.getAuthTag();
  }, 64);
}

// ---- client store ----
console.log("-- client store (lib/client/client_store.ts + turn_commit.ts, WAL)");
const tmp = await Deno.makeTempDir({ dir: join(REPO, ".tmp"), prefix: "exp-" });
{
  const { a } = await session();
  const sessionBytes = e2e.encodeRatchetState(a);
  const envelope = encodeEnvelope({
    id: new Uint8Array(16),
    kind: "message",
    ttl: DEFAULT_TTL,
    createdAtMs: Date.now(),
    expiresAtMs: Date.now() + 1000,
    from: "alice@na",
    to: "bob@nb",
    body: encodePayload({ kind: "ratchet", message: new Uint8Array(41 + 160 + 16) }),
  });
  const contact = (address: string): ContactRow => ({
    address,
    state: "accepted",
    identity: new Uint8Array(80),
    expectedIdentity: null,
    keyChanged: false,
    session: sessionBytes,
    pending: null,
    outSeq: 0,
    unread: 0,
    lastMessageAtMs: null,
  });
  const row = (id: string, seq: number, dir: "in" | "out"): MessageRow => ({
    id,
    peer: "bob@nb",
    direction: dir,
    seq,
    text,
    sentAtMs: Date.now(),
    receivedAtMs: null,
    state: "sending",
    reason: null,
    envelope: dir === "out" ? envelope : null,
  });
  const hex = (i: number) => i.toString(16).padStart(32, "0");

  // As lib/client does it since issue 13 (lib/client/turn_commit.ts): the sends of one turn in
  // one transaction, the session encoded once at its commit; "sent" and "delivered" in later
  // turns' transactions; no read-backs. k = 1 is one message per turn: three commits each, as
  // before issue 13 (then with a contact read, two message reads and the state encode each).
  for (const synchronous of ["NORMAL", "FULL"] as const) {
    for (const k of [1, 16, 64]) {
      const s = new ClientStore(join(tmp, `sender-${synchronous}-${k}.db`), { synchronous });
      const turn = new TurnCommit({ store: s, log: SILENT_LOGGER, schedule: () => {} });
      s.putContact(contact("bob@nb"));
      s.onBeforeCommit(() => s.setSession("bob@nb", e2e.encodeRatchetState(a)));
      let seq = 0;
      await measure(
        `sender rows, ${k} per turn (${synchronous}): k × {contact, message}, then k "sent", ` +
          `then k "delivered", each in one commit, per message`,
        () => {
          const ids: string[] = [];
          for (let j = 0; j < k; j++) {
            const m = row(hex(seq), seq++, "out");
            ids.push(m.id);
            void turn.write(() => {
              s.putContact({ ...s.contact("bob@nb")!, outSeq: seq });
              s.putMessage(m);
            });
          }
          turn.flush();
          for (const id of ids) void turn.write(() => s.setMessageState(id, "sent", null));
          turn.flush();
          for (const id of ids) void turn.write(() => s.setMessageState(id, "delivered", null));
          turn.flush();
        },
        k,
      );
      s.close();

      const r = new ClientStore(join(tmp, `receiver-${synchronous}-${k}.db`), { synchronous });
      const rturn = new TurnCommit({ store: r, log: SILENT_LOGGER, schedule: () => {} });
      r.putContact(contact("alice@na"));
      r.onBeforeCommit(() => r.setSession("alice@na", e2e.encodeRatchetState(a)));
      await measure(
        `receiver rows, ${k} per turn (${synchronous}): k × {processed get, contact, message, ` +
          `processed}, one commit, per message`,
        () => {
          for (let j = 0; j < k; j++) {
            const id = hex(seq++);
            r.wasProcessed(id);
            void rturn.write(() => {
              const c = r.contact("alice@na")!;
              r.putContact({ ...c, unread: c.unread + 1 });
              r.putMessage({ ...row(id, seq, "in"), state: "delivered" });
              r.markProcessed(id);
            });
          }
          rturn.flush();
        },
        k,
      );
      r.close();
    }
  }
}

// ---- node store ----
console.log("-- node store (lib/store, WAL, synchronous=FULL)");
{
  const envelope = new Uint8Array(300);
  const hex = (i: number) => i.toString(16).padStart(32, "0");
  for (const k of [1, 16, 64, 256]) {
    const st = openSqliteNodeStore(join(tmp, `node-${k}.db`));
    let i = 0;
    // Destination node per message: dedup + inbox insert; later the client's ack deletes it.
    await measure(
      `destination inbox: 1 COMMIT per ${k} envelopes (insert), then 1 per ${k} acks (delete)`,
      () => {
        const rows = Array.from({ length: k }, () => ({
          id: hex(i++),
          owner: BOB,
          bytes: envelope,
          kind: "message" as const,
          origin: toNodeId("na"),
          receivedAtMs: Date.now(),
          keepUntilMs: Date.now() + 1e9,
        }));
        st.transaction(() => st.inboxAdd(rows));
        st.transaction(() => st.inboxDelete(BOB, rows.map((r) => r.id)));
      },
      k,
    );
    st.close();
  }
  {
    const st = openSqliteNodeStore(join(tmp, "node-lookups.db"));
    st.putAccount({
      name: BOB,
      publicKey: new Uint8Array(32),
      enrollHash: null,
      bundle: new Uint8Array(2000),
      listed: true,
      createdAtMs: 0,
    });
    st.setContactPolicy(BOB, "alice@na", "allow");
    await measure("per-envelope admit lookups: getAccount + contactPolicy (SQLite)", () => {
      st.getAccount(BOB);
      st.contactPolicy(BOB, "alice@na");
    });
    st.close();
  }
}

// ---- one commit: synchronous FULL (fsync per commit) against NORMAL (fsync at checkpoints) ----
console.log(
  "-- node:sqlite WAL commit of k inbox-like rows, per row: CPU, and wall time per commit",
);
{
  const { DatabaseSync } = await import("node:sqlite");
  const wall: Record<string, number> = {};
  for (const sync of ["FULL", "NORMAL"]) {
    for (const k of [1, 16]) {
      const db = new DatabaseSync(join(tmp, `commit-${sync}-${k}.db`));
      db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${sync};
        CREATE TABLE inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
          owner TEXT NOT NULL, bytes BLOB NOT NULL, received_at_ms INTEGER NOT NULL) STRICT;`);
      const begin = db.prepare("BEGIN IMMEDIATE"), commit = db.prepare("COMMIT");
      const ins = db.prepare(
        "INSERT INTO inbox (id, owner, bytes, received_at_ms) VALUES (?, ?, ?, ?)",
      );
      const bytes = new Uint8Array(300);
      let i = 0, commits = 0;
      const t0 = performance.now();
      await measure(`synchronous=${sync}, ${k} row(s) per commit, per row`, () => {
        begin.run();
        for (let j = 0; j < k; j++) ins.run((i++).toString(16), "bob", bytes, 0);
        commit.run();
        commits++;
      }, k);
      wall[`${sync}/${k}`] = Math.round(((performance.now() - t0) / commits) * 1000);
      db.close();
    }
  }
  console.log(`   wall µs per commit (incl. warm-up): ${JSON.stringify(wall)}`);
}

// ---- receipts and provenance ----
console.log("-- receipts and per-envelope provenance");
{
  const priv = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  for (const k of [1, 64]) {
    const entries = Array.from({ length: k }, () => ({
      id: crypto.getRandomValues(new Uint8Array(16)),
      status: "stored" as const,
    }));
    // What a signed receipt of k entries cost before main moved receipts under provenance.
    const body = new TextEncoder().encode("fedchat-receipt-v1\0na\0nb");
    const signed = new Uint8Array([...body, ...encodeReceipt(entries)]);
    const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", priv.privateKey, signed));
    await measure(
      `receipt of ${k}: Ed25519 sign (WebCrypto), per envelope`,
      () => crypto.subtle.sign("Ed25519", priv.privateKey, signed),
      k,
    );
    await measure(
      `receipt of ${k}: Ed25519 verify (WebCrypto), per envelope`,
      () => crypto.subtle.verify("Ed25519", priv.publicKey, sig, signed),
      k,
    );
  }
  const secret = crypto.getRandomValues(new Uint8Array(32)); // from X25519(node a, node b), once per pair
  const env = new Uint8Array(300);
  await measure(
    "provenance HMAC-SHA-256 of a 300-byte envelope via @noble",
    () => hmac(sha256, secret, env),
  );
  const keyed = hmac.create(sha256, secret);
  await measure(
    "provenance HMAC via @noble with the pads hashed once per pair",
    () => keyed.clone().update(env).digest(),
  );
  await measure(
    "provenance HMAC via node:crypto createHmac",
    () => createHmac("sha256", secret).update(env).digest(),
  );
  const x1 = await crypto.subtle.generateKey({ name: "X25519" }, true, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const x2 = await crypto.subtle.generateKey({ name: "X25519" }, true, [
    "deriveBits",
  ]) as CryptoKeyPair;
  await measure(
    "X25519 deriveBits (WebCrypto), once per (origin, destination) pair",
    () => crypto.subtle.deriveBits({ name: "X25519", public: x2.publicKey }, x1.privateKey, 256),
  );
}

await Deno.remove(tmp, { recursive: true });
console.log(JSON.stringify({ bench: "exp_per_message", cpuUsPerOp: results }));
