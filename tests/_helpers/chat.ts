/** Helpers for messaging tests over real node processes. */
import { type NodeProc, waitUntil } from "./node_proc.ts";

/** A message as `history` returns it. */
export interface Msg {
  id: string;
  direction: "in" | "out";
  text: string;
  sentAtMs: number;
  receivedAtMs: number | null;
  state: string;
  reason?: string;
}

/**
 * A canary as it could appear in a file: UTF-8, hex (both cases), UTF-16LE,
 * and base64 at each of the three byte alignments (the stable middle part).
 */
export function canaryForms(text: string): string[] {
  const bytes = new TextEncoder().encode(text);
  const forms = [text, bytes.toHex(), bytes.toHex().toUpperCase()];
  let utf16 = "";
  for (const ch of text) utf16 += ch + "\u0000";
  forms.push(utf16);
  for (let shift = 0; shift < 3; shift++) {
    const b64 = new Uint8Array([...new Uint8Array(shift), ...bytes]).toBase64();
    // Drop the characters that mix in the padding bytes or the unknown neighbours.
    forms.push(b64.slice(Math.ceil((shift * 4) / 3) + 1, -4));
  }
  return forms.filter((f) => f.length >= 8);
}

/** The conversation `n`'s owner has with `peer`. */
export async function history(n: NodeProc, peer: string): Promise<Msg[]> {
  return (await n.admin("history", { address: peer, limit: 100_000 })) as Msg[];
}

/** What {@linkcode link} needs of a node: its id, port and admin channel. */
export type LinkableNode = Pick<NodeProc, "id" | "port" | "admin" | "link">;

/** Links `a` to `b` (b open or approving), waits until up. */
export async function link(a: LinkableNode, b: LinkableNode): Promise<void> {
  await a.admin("connect", { host: "127.0.0.1", port: b.port, nodeId: b.id, waitMs: 5000 });
  const row = (await b.link(a.id))!;
  if (row?.state === "awaiting-owner") await b.admin("approve", { nodeId: a.id });
  await waitUntil(`${a.id}–${b.id} up`, async () => (await a.link(b.id))?.state === "up");
}

/** Waits until `from` can see `to` in its directory, then runs request → accept. */
export async function startChat(
  a: Pick<NodeProc, "admin">,
  aAddr: string,
  b: Pick<NodeProc, "admin">,
  bAddr: string,
  intro = "hello",
) {
  await waitUntil(`${bAddr} reachable from ${aAddr}`, async () => {
    try {
      await a.admin("request", { address: bAddr, intro });
      return true;
    } catch {
      return false;
    }
  }, 20_000);
  await waitUntil(
    `request at ${bAddr}`,
    async () =>
      ((await b.admin("requests")) as Array<{ from: string }>).some((r) => r.from === aAddr),
  );
  await b.admin("accept", { address: aAddr });
  await waitUntil(
    `${aAddr} sees the acceptance`,
    async () =>
      ((await a.admin("contacts")) as Array<{ address: string; state: string }>).some((c) =>
        c.address === bAddr && c.state === "accepted"
      ),
  );
}

/** Searches every file under `dir` (and `extra` text) for any of `needles`; returns hits. */
export async function findCanaries(
  dirs: string[],
  needles: string[],
  extra: string[] = [],
): Promise<string[]> {
  const hits: string[] = [];
  const enc = new TextEncoder();
  const patterns = needles.map((n) => enc.encode(n));
  const scan = (where: string, bytes: Uint8Array) => {
    for (const [i, p] of patterns.entries()) {
      outer: for (let at = 0; at + p.length <= bytes.length; at++) {
        for (let k = 0; k < p.length; k++) if (bytes[at + k] !== p[k]) continue outer;
        hits.push(`${needles[i]} in ${where}`);
        break;
      }
    }
  };
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.isFile) scan(path, await Deno.readFile(path));
    }
  };
  for (const d of dirs) await walk(d);
  for (const [i, t] of extra.entries()) scan(`log ${i}`, enc.encode(t));
  return hits;
}
