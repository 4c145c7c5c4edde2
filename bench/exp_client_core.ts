/**
 * Experiment behind docs/PERF_NOTES.md, branch `clientgc` (run by hand; not in
 * `deno task bench`): what one 1:1 message costs each client core, in this
 * process, with no transport. Two {@linkcode ClientCore}s on real stores
 * (`.tmp/exp-client-core/`, synchronous=NORMAL, the default turn scheduling)
 * and a fake node in between. Three phases, measured apart:
 *
 * - `alice send`: alice sends N texts, `WINDOW` outstanding (as the bench's
 *   closed loop), the node answers "sent" at once and keeps the envelopes;
 * - `bob receive`: the node pushes them to bob, `PUSH` items per macrotask (a
 *   channel record's worth), and waits for his acknowledgements;
 * - `alice notices`: the node pushes alice a "delivered" notice per message,
 *   likewise, and waits for her acknowledgements.
 *
 * For each: CPU µs per message (process.cpuUsage: user + system), KiB
 * allocated per message (v8 total_allocated_bytes) and KiB written per
 * message (/proc/self/io `wchar`: the stores' logs), minimum over ROUNDS.
 *
 *   deno run -A --v8-flags=--max-semi-space-size=1,--heap-growing-percent=100 \
 *     bench/exp_client_core.ts        # env N (4000), ROUNDS (5), WINDOW (512), PUSH (64)
 *
 * (the V8 flags of every fedchat process: tests/_helpers/v8_flags.ts).
 *
 * Prints a table, JSON line last.
 */
// deno-lint-ignore-file no-console
import { getHeapStatistics } from "node:v8";
import { cpuUsage } from "node:process";
import { join, resolve } from "node:path";
import { SYSTEM_CLOCK } from "../lib/clock.ts";
import * as e2e from "../lib/e2e/mod.ts";
import { type Address, toAddress } from "../lib/ids.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import { decodeEnvelope } from "../lib/protocol/mod.ts";
import { ClientCore } from "../lib/client/client_core.ts";
import { ClientStore } from "../lib/client/client_store.ts";
import type { NodeConnection } from "../lib/client/node_connection.ts";
import { acceptedChat, contactRow } from "../tests/_helpers/accepted_chat.ts";

const REPO = resolve(new URL("..", import.meta.url).pathname);
const N = Number(Deno.env.get("N") ?? 4000);
const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 5);
const WINDOW = Number(Deno.env.get("WINDOW") ?? 512);
const PUSH = Number(Deno.env.get("PUSH") ?? 64);
const ALICE = toAddress("alice@nodea");
const BOB = toAddress("bob@nodeb");
const TEXT = "x".repeat(100);

function envelopeId(envelope: Uint8Array): string {
  return decodeEnvelope(envelope).id.toHex();
}

/** One core and the fake node's side of it. */
function side(dir: string, address: Address, identity: e2e.IdentityKeyPair) {
  const store = new ClientStore(join(dir, `${address}.db`));
  const submitted: Uint8Array[] = [];
  const acked = { count: 0, wake: () => {} };
  const connection = {
    up: true,
    ack: (ids: string[]) => {
      acked.count += ids.length;
      acked.wake();
    },
    submit: (envelope: Uint8Array, answered: (r: "sent") => void) => {
      submitted.push(envelope);
      queueMicrotask(() => answered("sent"));
    },
  } as unknown as NodeConnection;
  const core = new ClientCore({
    address,
    identity,
    store,
    connection,
    clock: SYSTEM_CLOCK,
    log: SILENT_LOGGER,
    files: { downloadsDir: join(dir, "downloads"), stagingDir: join(dir, "staging") },
  });
  return { store, core, submitted, acked };
}

type Side = ReturnType<typeof side>;

/** Pushes `items` PUSH per macrotask and resolves once all are acknowledged. */
async function pushAll(s: Side, items: Array<Parameters<ClientCore["onPush"]>[0]>) {
  const target = s.acked.count + items.length;
  const done = new Promise<void>((r) => {
    s.acked.wake = () => {
      if (s.acked.count >= target) r();
    };
  });
  for (let i = 0; i < items.length; i += PUSH) {
    for (const item of items.slice(i, i + PUSH)) s.core.onPush(item);
    await new Promise((r) => setTimeout(r, 0));
  }
  await done;
}

interface Cost {
  us: number;
  kib: number;
  /** KiB this process wrote per message (`wchar` of /proc/self/io: the store's log, mostly). */
  writtenKib: number;
}

/** Bytes this process has written through system calls (Linux; 0 elsewhere). */
function writtenBytes(): number {
  try {
    return Number(/wchar: (\d+)/.exec(Deno.readTextFileSync("/proc/self/io"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Bytes V8 has allocated since it started (Deno's types leave this field out). */
function allocatedBytes(): number {
  return (getHeapStatistics() as unknown as { total_allocated_bytes: number })
    .total_allocated_bytes;
}

async function measure(fn: () => Promise<void>): Promise<Cost> {
  const a0 = allocatedBytes();
  const w0 = writtenBytes();
  const c0 = cpuUsage();
  await fn();
  const c = cpuUsage(c0);
  const a = allocatedBytes() - a0;
  return {
    us: (c.user + c.system) / N,
    kib: a / 1024 / N,
    writtenKib: (writtenBytes() - w0) / 1024 / N,
  };
}

async function round(r: number): Promise<Record<string, Cost>> {
  const dir = join(REPO, ".tmp", "exp-client-core", String(r));
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  const { alice, bob, aliceSession, bobSession } = await acceptedChat(ALICE, BOB);
  const a = side(dir, ALICE, alice);
  const b = side(dir, BOB, bob);
  a.store.putContact(contactRow(BOB, bob, aliceSession));
  b.store.putContact(contactRow(ALICE, alice, bobSession));
  // Bob's chain opens with alice's first message: one before measuring.
  await a.core.send(BOB, TEXT);
  await pushAll(b, [{ type: "deliver", id: "warm", envelope: a.submitted.shift()! }]);
  const ids: string[] = [];
  const send = await measure(async () => {
    let next = 0;
    const worker = async () => {
      while (next++ < N) ids.push((await a.core.send(BOB, TEXT)).id);
    };
    await Promise.all(Array.from({ length: Math.min(WINDOW, N) }, worker));
  });
  const envelopes = a.submitted.splice(0);
  const receive = await measure(() =>
    // Inbox ids are envelope ids, as a node's (lib/node/client_hub.ts).
    pushAll(
      b,
      envelopes.map((envelope) => ({ type: "deliver", id: envelopeId(envelope), envelope })),
    )
  );
  const notices = await measure(() =>
    pushAll(a, ids.map((ref, i) => ({ type: "notice", id: `n-${i}`, ref, state: "delivered" })))
  );
  a.core.stop();
  b.core.stop();
  a.store.close();
  b.store.close();
  return { "alice send": send, "bob receive": receive, "alice notices": notices };
}

const results: Record<string, Cost[]> = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const [k, v] of Object.entries(await round(r))) (results[k] ??= []).push(v);
}
const best: Record<string, Cost> = {};
console.log(`N=${N} rounds=${ROUNDS} window=${WINDOW} push=${PUSH}: CPU µs / KiB per message`);
for (const [k, v] of Object.entries(results)) {
  best[k] = {
    us: Math.min(...v.map((c) => c.us)),
    kib: Math.min(...v.map((c) => c.kib)),
    writtenKib: Math.min(...v.map((c) => c.writtenKib)),
  };
  console.log(
    `${k.padEnd(14)} min ${best[k].us.toFixed(1)} µs ${best[k].kib.toFixed(1)} KiB, written ${
      best[k].writtenKib.toFixed(2)
    } KiB   all µs: ${v.map((c) => c.us.toFixed(0)).join(" ")}`,
  );
}
console.log(JSON.stringify({ n: N, rounds: ROUNDS, window: WINDOW, push: PUSH, best, results }));
