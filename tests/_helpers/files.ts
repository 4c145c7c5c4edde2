/** Helpers for file transfer tests over real node processes. */
import { join } from "node:path";
import type { FileTransfer } from "../../lib/client/mod.ts";
import { NodeProc, waitUntil } from "./node_proc.ts";
import { link, startChat } from "./chat.ts";

/** Writes `bytes` pseudo-random bytes to `path` without holding them all in memory. */
export async function writeTestFile(path: string, bytes: number, seed = 1): Promise<void> {
  using f = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(1024 * 1024);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < block.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    new DataView(block.buffer).setUint32(i, x >>> 0);
  }
  let left = bytes;
  let n = 0;
  while (left > 0) {
    const part = block.subarray(0, Math.min(left, block.length));
    part[0] = n++ & 0xff; // no two blocks alike
    let put = 0;
    while (put < part.length) put += await f.write(part.subarray(put));
    left -= part.length;
  }
}

/** SHA-256 of a file, hex, streamed. */
export async function sha256File(path: string): Promise<string> {
  // WebCrypto has no streaming digest; hash 8 MiB blocks and hash the list (fine for comparing).
  using f = await Deno.open(path, { read: true });
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(8 * 1024 * 1024);
  for (;;) {
    let got = 0;
    while (got < buf.length) {
      const n = await f.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    parts.push(new Uint8Array(await crypto.subtle.digest("SHA-256", buf.subarray(0, got))));
    if (got < buf.length) break;
  }
  const all = new Uint8Array(parts.length * 32);
  parts.forEach((p, i) => all.set(p, i * 32));
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The transfer `id` as `n`'s client sees it. */
export async function transfer(n: NodeProc, id: string): Promise<FileTransfer | undefined> {
  return ((await n.admin("files")) as FileTransfer[]).find((t) => t.id === id);
}

/** Waits until `n` sees transfer `id` in `state`; fails at once if it ends otherwise. */
export async function waitTransfer(
  n: NodeProc,
  id: string,
  state: FileTransfer["state"],
  timeoutMs = 30_000,
): Promise<FileTransfer> {
  let last: FileTransfer | undefined;
  await waitUntil(`${n.id} sees ${id} ${state}`, async () => {
    last = await transfer(n, id);
    if (
      last && last.state !== state &&
      ["complete", "failed", "cancelled", "declined"].includes(last.state)
    ) {
      throw new Error(`transfer ended ${last.state}: ${last.reason}`);
    }
    return last?.state === state;
  }, timeoutMs).catch((e) => {
    throw new Error(`${e.message}; last seen ${JSON.stringify(last)}`);
  });
  return last!;
}

/** Offers `path` from `a` to `bAddr`, waits for the offer at `b`, accepts it; returns the id. */
export async function sendAndAccept(
  a: NodeProc,
  b: NodeProc,
  bAddr: string,
  path: string,
  name?: string,
): Promise<string> {
  const t = (await a.admin("send-file", {
    address: bAddr,
    path,
    ...(name ? { name } : {}),
  })) as FileTransfer;
  await waitUntil(`offer ${t.id} at ${b.id}`, async () => (await transfer(b, t.id)) !== undefined);
  await b.admin("accept-file", { target: t.id });
  return t.id;
}

/** The owner's client folder of a node process (default mode). */
export function clientDir(n: NodeProc): string {
  return `${n.dataDir}-client`;
}

/** The owner's downloads folder. */
export function downloadsDir(n: NodeProc): string {
  return join(clientDir(n), "downloads");
}

/**
 * alice@alice and bob@bob on their own nodes (bob's open), linked and chatting;
 * both are added to `nodes` (the test's list to stop).
 */
export async function chattingPair(root: string, nodes: NodeProc[]): Promise<[NodeProc, NodeProc]> {
  const [a, b] = await Promise.all([
    NodeProc.create({ id: "alice", root, withClient: true }),
    NodeProc.create({ id: "bob", root, withClient: true, open: true }),
  ]);
  nodes.push(a, b);
  await link(a, b);
  await startChat(a, "alice@alice", b, "bob@bob");
  return [a, b];
}

/**
 * alice@alice and bob@bob chatting across `relay`: alice linked to it
 * directly, bob through `proxyPort` (a proxy in front of the relay the test
 * controls); both are added to `nodes`.
 */
export async function chattingAcrossRelay(
  root: string,
  relay: NodeProc,
  proxyPort: number,
  nodes: NodeProc[],
): Promise<[NodeProc, NodeProc]> {
  const [a, b] = await Promise.all([
    NodeProc.create({ id: "alice", root, withClient: true }),
    NodeProc.create({ id: "bob", root, withClient: true }),
  ]);
  nodes.push(a, b);
  await link(a, relay);
  await b.admin("connect", { host: "127.0.0.1", port: proxyPort, nodeId: "relay", waitMs: 5000 });
  await waitUntil("bob–relay up", async () => (await b.link("relay"))?.state === "up");
  await startChat(a, "alice@alice", b, "bob@bob");
  return [a, b];
}
