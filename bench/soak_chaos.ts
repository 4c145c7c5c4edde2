/**
 * `deno task soak chaos [--minutes=2] [--seed=N]`: four real node processes
 * (a, b, c, d; each with its owner's client in its process, real TLS on
 * 127.0.0.1), linked A–B, B–C, C–D and A–C, each link through a TCP proxy the
 * soak can cut. B's mailbox is C, D's mailbox is B. While every feature runs at
 * once (1:1 messages both ways on a–b, a–d, b–d and c–a; a 3 MiB and a 2 MiB
 * file; a group of all four owners sending), a seeded schedule SIGKILLs and
 * restarts a node (at most one down at a time, once for 20 s so that a
 * mailbox holds what is sent meanwhile), cuts a link for a few seconds, or
 * freezes a node (SIGSTOP/SIGCONT). B is killed again 0.2–1.5 s after that
 * outage, while C hands it what it held. Two more users run in client
 * processes of their own (`main.ts client`: e on A, f on D; chats e–b, e–f,
 * f–c, e in the group, a 3 MiB file e→f), each SIGKILLed on its own schedule
 * (mid-send, mid-group message; and each just after the e→f file is accepted,
 * mid-file) and restarted 0.3–4 s later.
 *
 * At the end it lets things settle (bounded), then checks per conversation:
 * every message its sender's client shows acknowledged (`sent`, `held`,
 * `delivered`, `read`) is at the recipient exactly once; nothing the client
 * accepted vanished from the sender's history; files complete with the
 * sender's digest, or ended visibly; every group member has every
 * acknowledged group message exactly once; each conversation shown in its
 * sender's order (PROTOCOL.md §9; over the sends the client answered); nothing
 * still `sending` once settled; no process exited other than
 * those killed, no `BUG:`, `Uncaught` or `ERROR` line; RSS and descriptors of the
 * survivors bounded. It prints figures and a JSON line last. It asserts
 * nothing; the exit code is 1 when an invariant failed. `--seed=` replays a
 * schedule (the workload's timing still varies with the machine).
 */
// deno-lint-ignore-file no-console
import { join } from "node:path";
import type { FileTransfer, GroupMessage } from "../lib/client/mod.ts";
import { link, type Msg, startChat } from "../tests/_helpers/chat.ts";
import { sha256File, writeTestFile } from "../tests/_helpers/files.ts";
import {
  ClientProc,
  converged,
  historyOf,
  inviteAndJoin,
  owner,
  type User,
} from "../tests/_helpers/groups.ts";
import { NodeProc, tempRoot, waitLink } from "../tests/_helpers/node_proc.ts";
import { mulberry32 } from "./_prng.ts";

const flag = (name: string, fallback: number) => {
  const a = Deno.args.find((x) => x.startsWith(`--${name}=`));
  const v = a ? Number(a.slice(name.length + 3)) : fallback;
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`Cannot soak: bad --${name}`);
  return v;
};
const MINUTES = flag("minutes", 2);
const SEED = Math.floor(flag("seed", Date.now() % 1_000_000));
const CHAOS_MS = Math.round(MINUTES * 60_000);
const SETTLE_MS = 120_000;
const CALL_MS = 15_000;
const RSS_BOUND_MIB = 512;
const FDS_BOUND = 300;

/** The nodes' schedule, and the client processes' own (so that adding one leaves the other as it was). */
const random = mulberry32(SEED);
const clientRandom = mulberry32(SEED ^ 0x5eed);
const pick = <T>(xs: readonly T[], r = random): T => xs[Math.floor(r() * xs.length)];
const between = (lo: number, hi: number, r = random) => Math.round(lo + r() * (hi - lo));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (s: string) =>
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${s}`);

/** `p`, or a rejection after `ms` (a frozen node does not answer its admin socket). */
function within<T>(p: Promise<T>, ms = CALL_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]);
}

/** A TCP proxy in front of a node's port that can be cut: open connections closed, new ones refused. */
class CutProxy {
  readonly port: number;
  #listener: Deno.Listener;
  #conns = new Set<Deno.Conn>();
  #cutUntil = 0;
  constructor(readonly name: string, target: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    void this.#serve(target);
  }
  async #serve(target: number) {
    for await (const c of this.#listener) {
      if (Date.now() < this.#cutUntil || this.#conns.size >= 64) {
        c.close();
        continue;
      }
      void this.#pair(c, target);
    }
  }
  async #pair(c: Deno.Conn, target: number) {
    let t: Deno.Conn;
    try {
      t = await Deno.connect({ hostname: "127.0.0.1", port: target });
    } catch {
      c.close();
      return;
    }
    this.#conns.add(c).add(t);
    const close = () => {
      for (const x of [c, t]) {
        this.#conns.delete(x);
        try {
          x.close();
        } catch { /* closed */ }
      }
    };
    const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
      const buf = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await from.read(buf);
          if (n === null) return;
          let at = 0;
          while (at < n) at += await to.write(buf.subarray(at, n));
        }
      } catch {
        /* cut or closed */
      } finally {
        close();
      }
    };
    void pipe(c, t);
    void pipe(t, c);
  }
  /** Closes every connection and refuses new ones for `ms`. */
  cut(ms: number) {
    this.#cutUntil = Date.now() + ms;
    for (const c of [...this.#conns]) {
      this.#conns.delete(c);
      try {
        c.close();
      } catch { /* closed */ }
    }
  }
  heal() {
    this.#cutUntil = 0;
  }
  close() {
    this.cut(0);
    this.#listener.close();
  }
}

const ACKED = new Set(["sent", "held", "delivered", "read"]);
const IDS = ["a", "b", "c", "d"] as const;
type Id = (typeof IDS)[number];
const LINKS: Array<[Id, Id]> = [["a", "b"], ["b", "c"], ["c", "d"], ["a", "c"]];
/** Users in client processes of their own (`main.ts client`): e on node a, f on node d. */
const CLIENTS = { e: "a", f: "d" } as const;
type Cid = keyof typeof CLIENTS;
const CIDS = Object.keys(CLIENTS) as Cid[];
/** A user: a node's owner (in its node's process) or a client process. */
type Party = Id | Cid;
const PAIRS: Array<[Party, Party]> = [
  ["a", "b"],
  ["a", "d"],
  ["b", "d"],
  ["c", "a"],
  ["e", "b"],
  ["e", "f"],
  ["f", "c"],
];
const isClient = (p: Party): p is Cid => p in CLIENTS;
const addr = (p: Party) => `${p}@${isClient(p) ? CLIENTS[p] : p}`;
/** The group's members: the four owners and e. */
const MEMBERS: Party[] = [...IDS, "e"];

/** The 1-minute load average (Deno reads /proc only with --allow-all: `cat` it). */
async function loadavg1(): Promise<string> {
  const out = await new Deno.Command("cat", { args: ["/proc/loadavg"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).split(" ")[0];
}

const root = await tempRoot("soak-chaos");
const nodes = new Map<Id, NodeProc>();
const clients = new Map<Cid, ClientProc>();
const proxies = new Map<string, CutProxy>();
const failures: string[] = [];
const fail = (s: string) => {
  failures.push(s);
  console.log(`INVARIANT FAILED: ${s}`);
};
let exitCode = 0;
const loadStart = await loadavg1();
try {
  log(`seed ${SEED} (replay: --seed=${SEED}), minutes ${MINUTES}, root ${root}, load ${loadStart}`);
  for (const id of IDS) {
    nodes.set(
      id,
      await NodeProc.create({ id, root, open: true, withClient: true, logLevel: "info" }),
    );
  }
  const n = (id: Id) => nodes.get(id)!;
  for (const [x, y] of LINKS) {
    const p = new CutProxy(`${x}–${y}`, n(y).port);
    proxies.set(p.name, p);
    const linkable = (z: NodeProc, port: number) => ({
      id: z.id,
      port,
      admin: (cmd: string, args?: Record<string, unknown>) => z.admin(cmd, args),
      link: (peer: string) => z.link(peer),
    });
    await link(linkable(n(x), n(x).port), linkable(n(y), p.port));
  }
  // Mailboxes: C holds for B, B holds for D.
  for (const [mbox, owner_] of [["c", "b"], ["b", "d"]] as Array<[Id, Id]>) {
    await n(mbox).admin("mailbox-serve", { nodeId: owner_ });
    await n(owner_).admin("mailbox-add", { nodeId: mbox });
  }
  for (const c of CIDS) clients.set(c, await ClientProc.create(n(CLIENTS[c]), c, root));
  const who = (p: Party): User => isClient(p) ? clients.get(p)! : owner(n(p));
  for (const [x, y] of PAIRS) await startChat(who(x), addr(x), who(y), addr(y));
  const users = MEMBERS.map(who);
  const g = (await users[0].admin("group-create", { name: "chaos" }) as { id: string }).id;
  for (const u of users.slice(1)) await inviteAndJoin(users[0], g, u);
  await converged(users, g);
  log(
    `set up: 4 nodes, 4 links through proxies, 2 mailboxes, ${CIDS.length} client processes, ${PAIRS.length} chats, a group of ${MEMBERS.length}`,
  );

  // --- The workload ---
  const chaosEnd = Date.now() + CHAOS_MS;
  const run = SEED.toString(36);
  interface Sent {
    from: Party;
    to: Party;
    text: string;
    /** The client's answer: ok with the message's id, or an error (not sent, or unknown). */
    id?: string;
    error?: string;
  }
  /**
   * Sends until the chaos ends (at most 10,000), after `startMs`, `gapMs(seq)` apart; each try
   * is recorded in `log` with the client's answer: its id, or why it failed.
   */
  const keepSending = async <R extends { id?: string; error?: string }>(
    log: R[],
    startMs: number,
    gapMs: (seq: number) => number,
    row: (seq: number) => R,
    send: (row: R) => Promise<unknown>,
  ) => {
    await sleep(startMs);
    for (let seq = 0; Date.now() < chaosEnd && seq < 10_000; seq++) {
      const r = row(seq);
      log.push(r);
      try {
        r.id = (await within(send(r)) as { id: string }).id;
      } catch (e) {
        r.error = String((e as Error).message ?? e).slice(0, 200);
      }
      await sleep(gapMs(seq));
    }
  };
  const sent: Sent[] = [];
  const directions = PAIRS.flatMap(([x, y]) => [[x, y], [y, x]] as Array<[Party, Party]>);
  const senders = directions.map(([from, to], k) =>
    keepSending(
      sent,
      k * 150,
      (seq) => 800 + (seq * 37) % 400,
      (seq): Sent => ({ from, to, text: `chaos ${run} ${from}>${to} ${seq}` }),
      (r) => who(from).admin("send", { address: addr(to), text: r.text }),
    )
  );
  interface GroupSent {
    from: Party;
    text: string;
    id?: string;
    error?: string;
  }
  const groupSent: GroupSent[] = [];
  const groupSenders = MEMBERS.map((from, k) =>
    keepSending(
      groupSent,
      k * 400,
      (seq) => 2500 + (seq * 53) % 1000,
      (seq): GroupSent => ({ from, text: `gchaos ${run} ${from} ${seq}` }),
      (r) => who(from).admin("group-send", { group: g, text: r.text }),
    )
  );
  // Files: a→d (relayed) 3 MiB, d→b 2 MiB; the recipient accepts the offer when it sees it.
  interface FileRun {
    from: Party;
    to: Party;
    src: string;
    digest: string;
    id?: string;
    error?: string;
  }
  const files: FileRun[] = [];
  /** Set below: kills the file's client processes just after the receiver accepts. */
  let killClientMidFile = (_f: FileRun): Promise<void> => Promise.resolve();
  const acceptWhenOffered = async (f: FileRun, until: number) => {
    while (f.id && Date.now() < until) {
      try {
        const t = ((await within(who(f.to).admin("files"))) as FileTransfer[]).find((x) =>
          x.id === f.id
        );
        if (t && t.state !== "offered") return;
        if (t) {
          await within(who(f.to).admin("accept-file", { target: f.id }));
          void killClientMidFile(f);
        }
      } catch { /* the node is down or frozen: later */ }
      await sleep(1000);
    }
  };
  // And e→f 3 MiB, between two client processes (both killed on their own).
  const fileJobs = ([["a", "d", 3], ["d", "b", 2], ["e", "f", 3]] as Array<
    [Party, Party, number]
  >).map(
    async ([from, to, mibs], k) => {
      await sleep(5_000 + k * 20_000);
      const src = join(root, `file-${from}-${to}.bin`);
      await writeTestFile(src, mibs * 1048576, SEED + k + 1);
      const f: FileRun = { from, to, src, digest: await sha256File(src) };
      files.push(f);
      for (let i = 0; i < 20 && !f.id && Date.now() < chaosEnd; i++) {
        try {
          f.id = (await within(
            who(from).admin("send-file", { address: addr(to), path: src }),
          ) as FileTransfer).id;
        } catch (e) {
          f.error = String((e as Error).message ?? e).slice(0, 200);
          await sleep(2000);
        }
      }
      await acceptWhenOffered(f, chaosEnd + SETTLE_MS / 2);
    },
  );

  // --- The chaos ---
  const events: string[] = [];
  const counts = {
    kills: 0,
    restarts: 0,
    cuts: 0,
    pauses: 0,
    mailboxOutages: 0,
    drainKills: 0,
    clientKills: 0,
    clientKillsMidFile: 0,
  };
  const killsOf = new Map<Id, number>(IDS.map((id) => [id, 0]));
  const down = new Set<Id>();
  const paused = new Set<Id>();
  const ev = (s: string) => {
    events.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${s}`);
    log(s);
  };
  const kill = async (id: Id, downMs: number) => {
    down.add(id);
    paused.delete(id);
    killsOf.set(id, killsOf.get(id)! + 1);
    counts.kills++;
    ev(`SIGKILL ${id}, down ${downMs} ms`);
    await n(id).stop(true);
    await sleep(downMs);
    // A restart may find its port taken for a moment by another process on this shared machine
    // (seen once: EADDRINUSE): tried again for up to 30 s before the soak gives up.
    for (let i = 0;; i++) {
      try {
        await n(id).start();
        break;
      } catch (e) {
        if (i >= 15) throw e;
        ev(
          `${id} restart failed (${
            String(e).split("\n").find((l) => /EADDRINUSE|Cannot/.test(l)) ?? "?"
          }); again in 2 s`,
        );
        await n(id).stop();
        await sleep(2_000);
      }
    }
    counts.restarts++;
    down.delete(id);
    ev(`${id} restarted`);
  };
  const pending: Promise<void>[] = [];
  const chaos = (async () => {
    // The mailbox outage: B down for 20 s somewhere in the first half.
    const mailboxAt = Date.now() + between(15_000, Math.max(16_000, CHAOS_MS / 2));
    let mailboxDone = false;
    for (let i = 0; i < 200 && Date.now() < chaosEnd - 5_000; i++) {
      await sleep(between(3_000, 8_000));
      if (Date.now() >= chaosEnd - 5_000) break;
      if (!mailboxDone && Date.now() >= mailboxAt && down.size === 0 && !paused.has("b")) {
        mailboxDone = true;
        counts.mailboxOutages++;
        // Then killed again while its mailbox C hands it what it held (0.2–1.5 s after the restart).
        pending.push(
          kill("b", 20_000).then(async () => {
            await sleep(between(200, 1_500, clientRandom));
            // Never two nodes down: waits (bounded) for one killed meanwhile.
            for (let i = 0; i < 100 && down.size > 0; i++) await sleep(100);
            if (down.size > 0) return;
            counts.drainKills++;
            await kill("b", between(500, 3_000, clientRandom));
          }),
        );
        continue;
      }
      const kind = pick(["kill", "kill", "cut", "cut", "pause"] as const);
      const up = IDS.filter((id) => !down.has(id) && !paused.has(id));
      if (kind === "kill") {
        if (down.size > 0) continue; // never more than one down
        pending.push(kill(pick(up), between(500, 5_000)));
      } else if (kind === "cut") {
        const p = pick([...proxies.values()]);
        const ms = between(2_000, 8_000);
        counts.cuts++;
        ev(`cut ${p.name} for ${ms} ms`);
        p.cut(ms);
      } else {
        const id = pick(up);
        const ms = between(2_000, 6_000);
        counts.pauses++;
        paused.add(id);
        ev(`SIGSTOP ${id} for ${ms} ms`);
        n(id).signal("SIGSTOP");
        pending.push(
          sleep(ms).then(() => {
            if (paused.delete(id)) {
              n(id).signal("SIGCONT");
              ev(`SIGCONT ${id}`);
            }
          }),
        );
      }
    }
  })();

  // The client processes: each SIGKILLed on its own schedule (mid-send, mid-file, mid-group
  // message) and restarted 0.3–4 s later; a restart waits while its node is down or frozen.
  const clientKillsOf = new Map<Cid, number>();
  const clientBusy = new Set<Cid>();
  const restartClient = async (c: Cid, until: number) => {
    for (let i = 0; i < 100 && Date.now() < until; i++) {
      const node = CLIENTS[c];
      if (!down.has(node) && !paused.has(node) && n(node).running) {
        try {
          await clients.get(c)!.start();
          return true;
        } catch (e) {
          log(`${c} restart: ${String(e).slice(0, 120)}`);
          await clients.get(c)!.stop(true);
        }
      }
      await sleep(1_000);
    }
    return false;
  };
  /** Kills client process `c` for `ms`, unless it is already being killed (then false). */
  const killClient = async (c: Cid, ms: number) => {
    if (clientBusy.has(c)) return false;
    clientBusy.add(c);
    counts.clientKills++;
    clientKillsOf.set(c, (clientKillsOf.get(c) ?? 0) + 1);
    // Whether a file is moving through it at this moment (for the figures).
    const moving = await within(who(c).admin("files"), 2_000).then(
      (ts) => (ts as FileTransfer[]).filter((t) => ["sending", "receiving"].includes(t.state)),
      () => [],
    );
    if (moving.length) counts.clientKillsMidFile++;
    ev(
      `SIGKILL client ${c}, down ${ms} ms${moving.length ? ` (mid-file: ${moving[0].state})` : ""}`,
    );
    await clients.get(c)!.stop(true);
    await sleep(ms);
    if (await restartClient(c, chaosEnd + 60_000)) ev(`client ${c} restarted`);
    clientBusy.delete(c);
    return true;
  };
  killClientMidFile = async (f: FileRun) => {
    // The receiver once its chunks are coming, then the sender while it pushes them.
    for (const p of [f.to, f.from]) {
      if (!isClient(p)) continue;
      await sleep(between(100, 800, clientRandom));
      void killClient(p, between(500, 3_000, clientRandom));
    }
  };
  const clientChaos = (async () => {
    for (let i = 0; i < 200 && Date.now() < chaosEnd - 5_000; i++) {
      await sleep(between(3_000, 9_000, clientRandom));
      if (Date.now() >= chaosEnd - 5_000) break;
      await killClient(pick(CIDS, clientRandom), between(300, 4_000, clientRandom));
    }
  })();

  // RSS and descriptors every 5 s.
  const peakRss = new Map<Id, number>();
  const peakFds = new Map<Id, number>();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const id of IDS) {
        if (!n(id).running) {
          if (down.has(id)) continue;
          // Died on its own (its output says how): counted at the end; restart it to go on.
          ev(`${id} DIED on its own; restarting`);
          await n(id).stop();
          await n(id).start().catch((e) => log(`${id} restart failed: ${e}`));
          continue;
        }
        const rss = await n(id).rssBytes().catch(() => 0);
        const fds = await n(id).openFiles().catch(() => 0);
        peakRss.set(id, Math.max(peakRss.get(id) ?? 0, rss));
        peakFds.set(id, Math.max(peakFds.get(id) ?? 0, fds));
      }
      await sleep(5000);
    }
  })();

  await Promise.all([chaos, clientChaos, ...senders, ...groupSenders]);
  await Promise.all(pending);
  for (const p of proxies.values()) p.heal();
  for (const id of IDS) n(id).signal("SIGCONT");
  log(
    `chaos over: ${counts.kills} kills, ${counts.cuts} cuts, ${counts.pauses} pauses; ` +
      `${sent.length} messages, ${groupSent.length} group messages; settling (≤ ${
        SETTLE_MS / 1000
      } s)`,
  );
  for (const id of IDS) if (!n(id).running) await n(id).start();
  for (const c of CIDS) {
    if (!clients.get(c)!.running) await restartClient(c, Date.now() + 60_000);
  }
  for (const [x, y] of LINKS) {
    await waitLink(n(x), y, "up", 60_000).catch(() => log(`${x}–${y} not up`));
  }

  // --- Settle: until every acknowledged message is at its recipient, files ended, the group converged ---
  const settleEnd = Date.now() + SETTLE_MS;
  const historyWith = async (x: Party, y: Party) =>
    await who(x).admin("history", { address: addr(y), limit: 100_000 }) as Msg[];
  const snapshot = async () => {
    const hist = new Map<string, Msg[]>();
    for (const [x, y] of PAIRS) {
      hist.set(`${x}>${y}`, await within(historyWith(x, y), 30_000));
      hist.set(`${y}>${x}`, await within(historyWith(y, x), 30_000));
    }
    const ghist = new Map<Party, GroupMessage[]>();
    for (const p of MEMBERS) ghist.set(p, await within(historyOf(who(p), g), 30_000));
    const fileViews = new Map<string, FileTransfer | undefined>();
    for (const f of files) {
      if (!f.id) continue;
      for (const side of [f.from, f.to]) {
        fileViews.set(
          `${f.id}@${side}`,
          ((await within(who(side).admin("files"), 30_000)) as FileTransfer[]).find((t) =>
            t.id === f.id
          ),
        );
      }
    }
    return { hist, ghist, fileViews };
  };
  type Snap = Awaited<ReturnType<typeof snapshot>>;
  const mine = (m: { text: string }) => m.text.startsWith(`chaos ${run} `);
  const settled = (s: Snap) => {
    for (const [x, y] of directions) {
      const out = s.hist.get(`${x}>${y}`)!.filter((m) => m.direction === "out" && mine(m));
      const inn = new Set(
        s.hist.get(`${y}>${x}`)!.filter((m) => m.direction === "in").map((m) => m.text),
      );
      if (out.some((m) => m.state === "sending" || (ACKED.has(m.state) && !inn.has(m.text)))) {
        return false;
      }
    }
    for (const f of files) {
      if (!f.id) continue;
      const r = s.fileViews.get(`${f.id}@${f.to}`);
      if (!r || !["complete", "failed", "cancelled", "declined"].includes(r.state)) return false;
    }
    const gtexts = [...s.ghist.values()].map((h) =>
      h.filter((m) => m.kind === "text").map((m) => m.text).sort().join("\n")
    );
    return new Set(gtexts).size === 1;
  };
  let snap = await snapshot();
  while (!settled(snap) && Date.now() < settleEnd) {
    await sleep(3000);
    snap = await snapshot().catch(() => snap);
  }
  const settleS = Math.round((Date.now() - (settleEnd - SETTLE_MS)) / 1000);
  sampling = false;
  await sampler;
  log(`settled ${settled(snap) ? "" : "NOT "}after ${settleS} s`);

  // --- Invariants ---
  // 1:1 messages.
  const m = {
    sent: 0,
    clientErrors: 0,
    acked: 0,
    delivered: 0,
    failedVisibly: 0,
    stillSending: 0,
    lost: 0,
    duplicated: 0,
    vanished: 0,
    reordered: 0,
    unacked: 0,
    unansweredKept: 0,
  };
  for (const [x, y] of directions) {
    const out = snap.hist.get(`${x}>${y}`)!.filter((mm) => mm.direction === "out" && mine(mm));
    const inn = snap.hist.get(`${y}>${x}`)!.filter((mm) => mm.direction === "in" && mine(mm));
    const byText = new Map(out.map((mm) => [mm.text, mm]));
    const seen = new Map<string, number>();
    for (const mm of inn) seen.set(mm.text, (seen.get(mm.text) ?? 0) + 1);
    const rows = sent.filter((r) => r.from === x && r.to === y);
    for (const r of rows) {
      if (r.error && !byText.has(r.text)) {
        m.clientErrors++;
        continue;
      }
      m.sent++;
      // A send whose call failed (the sender killed or frozen mid-call) and yet the client kept.
      if (r.error) m.unansweredKept++;
      const o = byText.get(r.text);
      if (!o) {
        m.vanished++;
        fail(`${x}>${y}: "${r.text}" accepted by ${x}'s client (id ${r.id}) is not in its history`);
        continue;
      }
      const at = seen.get(r.text) ?? 0;
      if (ACKED.has(o.state)) m.acked++;
      else if (o.state === "failed") m.failedVisibly++;
      else if (o.state === "sending") {
        m.stillSending++;
        fail(`${x}>${y}: "${r.text}" still sending at ${x} after settling with everything up`);
      }
      if (at > 0) m.delivered++;
      if (at > 1) {
        m.duplicated++;
        fail(`${x}>${y}: "${r.text}" shown ${at} times at ${y}`);
      }
      if (at === 0 && ACKED.has(o.state)) {
        m.lost++;
        fail(`${x}>${y}: "${r.text}" ${o.state} at ${x} but not at ${y}`);
      }
      if (at === 0 && !ACKED.has(o.state)) m.unacked++;
    }
    // PROTOCOL.md §9: "the receiver shows a conversation in the sender's order". Checked over
    // the sends the client answered (each answered before the next was made); a send left
    // unanswered (a frozen or killed sender) may be taken after a later one.
    const answered = new Set(rows.filter((r) => r.id && !r.error).map((r) => r.text));
    const seqs = inn.filter((mm) => answered.has(mm.text)).map((mm) =>
      Number(mm.text.split(" ").at(-1))
    );
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] < seqs[i - 1]) {
        m.reordered++;
        fail(`${x}>${y}: ${y} shows ${seqs[i - 1]} before ${seqs[i]}`);
      }
    }
  }
  // Files.
  const fileFigures: Array<Record<string, unknown>> = [];
  for (const f of files) {
    const s = f.id ? snap.fileViews.get(`${f.id}@${f.from}`) : undefined;
    const r = f.id ? snap.fileViews.get(`${f.id}@${f.to}`) : undefined;
    const row: Record<string, unknown> = {
      file: `${f.from}>${f.to}`,
      sender: s?.state ?? (f.error ? `not offered: ${f.error}` : "none"),
      receiver: r?.state ?? "none",
      reason: r?.reason ?? s?.reason,
    };
    if (r?.state === "complete") {
      const got = r.path ? await sha256File(r.path).catch(() => "unreadable") : "no path";
      row.whole = got === f.digest;
      if (got !== f.digest) {
        fail(
          `file ${f.from}>${f.to}: saved at ${r.path ?? "?"} with digest ${got}, sent ${f.digest}`,
        );
      }
    } else if (f.id && !(r && ["failed", "cancelled", "declined"].includes(r.state))) {
      fail(
        `file ${f.from}>${f.to}: neither whole nor failed visibly (sender ${s?.state}, receiver ${r?.state})`,
      );
    }
    fileFigures.push(row);
  }
  // Group.
  const gm = { sent: 0, clientErrors: 0, acked: 0, lost: 0, duplicated: 0, disagree: 0 };
  const gtext = new Map<Party, Map<string, number>>();
  for (const id of MEMBERS) {
    const c = new Map<string, number>();
    for (const mm of snap.ghist.get(id)!) {
      if (mm.kind === "text") c.set(mm.text, (c.get(mm.text) ?? 0) + 1);
    }
    gtext.set(id, c);
  }
  for (const r of groupSent) {
    const own = snap.ghist.get(r.from)!.find((mm) => mm.direction === "out" && mm.text === r.text);
    if (r.error && !own) {
      gm.clientErrors++;
      continue;
    }
    gm.sent++;
    if (!own) {
      fail(`group: "${r.text}" accepted by ${r.from}'s client is not in its history`);
      continue;
    }
    const acked = ACKED.has(own.state);
    if (acked) gm.acked++;
    for (const id of MEMBERS) {
      const k = gtext.get(id)!.get(r.text) ?? 0;
      if (k > 1) {
        gm.duplicated++;
        fail(`group: "${r.text}" shown ${k} times at ${id}`);
      }
      if (id !== r.from && k === 0 && acked) {
        gm.lost++;
        fail(`group: "${r.text}" ${own.state} at ${r.from} but not at ${id}`);
      }
    }
  }
  const gsets = MEMBERS.map((id) => [...gtext.get(id)!.keys()].sort().join("\n"));
  if (new Set(gsets).size !== 1) {
    gm.disagree = new Set(gsets).size;
    fail(
      `group: members disagree on the group's messages (${
        MEMBERS.map((id) => `${id} ${gtext.get(id)!.size}`).join(", ")
      })`,
    );
  }
  // Processes.
  const procs: Array<Record<string, unknown>> = [];
  for (const id of IDS) {
    const out = n(id).output;
    const exits = [...out.matchAll(/--- exited with code (\S+)(?: \((\w+)\))? ---/g)];
    // A process this soak stopped prints no exit line (NodeProc forgets it first): any is unexpected.
    const unexpected = exits.length;
    const bugs = out.split("\n").filter((l) => /BUG:|Uncaught|panicked| ERROR /.test(l));
    const rss = await n(id).rssBytes().catch(() => 0);
    const fds = await n(id).openFiles().catch(() => 0);
    if (!n(id).running) fail(`${id} is not running at the end`);
    if (unexpected > 0) fail(`${id} exited ${unexpected} times without being killed`);
    for (const b of bugs.slice(0, 5)) fail(`${id}: ${b.slice(0, 300)}`);
    if (rss > RSS_BOUND_MIB * 1048576) {
      fail(`${id}: RSS ${Math.round(rss / 1048576)} MiB after settling`);
    }
    if (fds > FDS_BOUND) fail(`${id}: ${fds} open descriptors after settling`);
    procs.push({
      id,
      kills: killsOf.get(id),
      unexpectedExits: unexpected,
      bugLines: bugs.length,
      peakRssMiB: Math.round((peakRss.get(id) ?? 0) / 1048576),
      endRssMiB: Math.round(rss / 1048576),
      peakFds: peakFds.get(id) ?? 0,
      endFds: fds,
    });
    await Deno.writeTextFile(join(root, `${id}.log`), out);
  }
  for (const c of CIDS) {
    const out = clients.get(c)!.output;
    const exits = [...out.matchAll(/--- client exited with code (\S+) on its own ---/g)].length;
    const bugs = out.split("\n").filter((l) => /BUG:|Uncaught|panicked| ERROR /.test(l));
    if (!clients.get(c)!.running) fail(`client ${c} is not running at the end`);
    if (exits > 0) fail(`client ${c} exited ${exits} times without being killed`);
    for (const b of bugs.slice(0, 5)) fail(`client ${c}: ${b.slice(0, 300)}`);
    procs.push({
      id: c,
      clientKills: clientKillsOf.get(c) ?? 0,
      unexpectedExits: exits,
      bugLines: bugs.length,
    });
    await Deno.writeTextFile(join(root, `client-${c}.log`), out);
  }
  const loadEnd = await loadavg1();
  const result = {
    soak: "chaos",
    seed: SEED,
    minutes: MINUTES,
    loadavg1: { start: Number(loadStart), end: Number(loadEnd) },
    chaos: counts,
    settledS: settleS,
    settled: settled(snap),
    messages: m,
    group: gm,
    files: fileFigures,
    processes: procs,
    failures: failures.length,
  };
  console.log(`
== chaos soak: seed ${SEED}, ${MINUTES} min, load ${loadStart} → ${loadEnd}
chaos:      ${counts.kills} kills (${counts.mailboxOutages} of 20 s for the mailbox, ${counts.drainKills} while it drained), ${counts.restarts} restarts, ${counts.cuts} link cuts, ${counts.pauses} pauses, ${counts.clientKills} client process kills (${counts.clientKillsMidFile} mid-file)
messages:   ${m.sent} sent (${m.clientErrors} refused or unanswered by a down/frozen client; ${m.unansweredKept} unanswered yet kept), ${m.acked} acked, ${m.delivered} delivered, ${m.failedVisibly} failed visibly, ${m.stillSending} still sending, ${m.unacked} unacked and not delivered; lost ${m.lost}, duplicated ${m.duplicated}, vanished ${m.vanished}, out of order ${m.reordered}
group:      ${gm.sent} sent (${gm.clientErrors} client errors), ${gm.acked} acked; lost ${gm.lost}, duplicated ${gm.duplicated}, members disagree ${
    gm.disagree ? "YES" : "no"
  }
files:      ${fileFigures.map((f) => JSON.stringify(f)).join("; ")}
processes:  ${
    procs.map((p) =>
      p.kills === undefined
        ? `${p.id} (client process): ${p.clientKills} kills, ${p.unexpectedExits} other exits, ${p.bugLines} BUG/ERROR lines`
        : `${p.id}: ${p.kills} kills, ${p.unexpectedExits} other exits, ${p.bugLines} BUG/ERROR lines, RSS peak ${p.peakRssMiB} end ${p.endRssMiB} MiB, fds peak ${p.peakFds} end ${p.endFds}`
    ).join("\n            ")
  }
settled:    ${result.settled ? "yes" : "NO"} after ${settleS} s
invariants: ${failures.length === 0 ? "all held" : `${failures.length} FAILED`}
events:     ${events.join("; ")}
logs:       ${root}
`);
  console.log(JSON.stringify(result));
  exitCode = failures.length ? 1 : 0;
  await Promise.allSettled(fileJobs);
} catch (e) {
  console.log(`soak error: ${(e as Error).stack}`);
  exitCode = 2;
} finally {
  for (const p of proxies.values()) p.close();
  await Promise.all([...clients.values()].map((x) => x.stop()));
  await Promise.all([...nodes.values()].map((x) => x.stop()));
}
Deno.exit(exitCode);
