/**
 * The owner's local admin channel: a Unix socket in the data directory (the
 * directory is 0700 and the socket 0600, so only the node's owner can use it).
 * One JSON request line in, JSON lines out.
 */
import { join } from "node:path";
import { isOutOfDescriptors } from "../descriptors.ts";
import type { Logger } from "../log.ts";

/** File name of the admin socket inside the data directory. */
export const ADMIN_SOCKET = "admin.sock";
const MAX_REQUEST_BYTES = 64 * 1024;

/** An admin request: a command name and its arguments. */
export interface AdminRequest {
  cmd: string;
  args: Record<string, unknown>;
}

/** What a handler returns: one result, or a stream of events until the client leaves. */
export type AdminReply =
  | { kind: "result"; value: unknown }
  | { kind: "stream"; subscribe: (emit: (event: unknown) => void) => () => void };

/** A command's implementation. Throwing an Error sends `{ok:false, error}`. */
export type AdminHandler = (args: Record<string, unknown>) => Promise<AdminReply> | AdminReply;

import { AdminError } from "./errors.ts";
export { AdminError };

/** A running admin socket. */
export interface AdminServer {
  path: string;
  close(): Promise<void>;
}

const te = new TextEncoder();

async function isLive(path: string): Promise<boolean> {
  try {
    const c = await Deno.connect({ transport: "unix", path });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Fails when another node already answers on the data directory's admin socket
 * (two processes on one data directory would corrupt it).
 *
 * @throws {AdminError}
 */
export async function checkNotRunning(dataDir: string): Promise<void> {
  if (await isLive(join(dataDir, ADMIN_SOCKET))) {
    throw new AdminError(
      `Cannot start: another fedchat node is running with data directory ${
        JSON.stringify(dataDir)
      }`,
    );
  }
}

/**
 * Listens on `<dataDir>/admin.sock`. Refuses to start when another node
 * already answers there (two processes on one data directory would corrupt it).
 */
export async function startAdminServer(
  dataDir: string,
  handlers: Record<string, AdminHandler>,
  log: Logger,
): Promise<AdminServer> {
  const path = join(dataDir, ADMIN_SOCKET);
  await checkNotRunning(dataDir);
  await Deno.remove(path).catch(() => {});
  const listener = Deno.listen({ transport: "unix", path });
  await Deno.chmod(path, 0o600);
  const conns = new Set<Deno.Conn>();
  let closed = false;
  const loop = (async () => {
    let waitMs = 0;
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        // Out of file descriptors: the owner's command waits in the kernel until some return.
        if (closed || !isOutOfDescriptors(e)) return;
        if (waitMs === 0) log.warn("admin socket: out of file descriptors, retrying");
        waitMs = Math.min(1000, Math.max(50, waitMs * 2));
        await new Promise((r) => setTimeout(r, waitMs));
        continue;
      }
      if (waitMs > 0) log.info("admin socket: accepting again");
      waitMs = 0;
      conns.add(conn);
      serve(conn, handlers, log).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* already closed */ }
      });
    }
  })().catch(() => {});
  return {
    path,
    async close() {
      closed = true;
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await loop;
      await Deno.remove(path).catch(() => {});
    },
  };
}

async function readLine(conn: Deno.Conn): Promise<string | null> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return null;
    const part = buf.slice(0, n);
    const nl = part.indexOf(10);
    chunks.push(nl >= 0 ? part.subarray(0, nl) : part);
    total += n;
    if (nl >= 0) break;
    if (total > MAX_REQUEST_BYTES) return null;
  }
  const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/**
 * Parses one admin request line.
 *
 * @throws {AdminError} not an object with a string `cmd` and an object `args`
 */
export function parseAdminRequest(line: string): AdminRequest {
  let v;
  try {
    v = JSON.parse(line);
  } catch {
    throw new AdminError("Cannot read admin request: not JSON; send one JSON object per line");
  }
  if (typeof v !== "object" || v === null || typeof v.cmd !== "string") {
    throw new AdminError("Cannot read admin request: expected {cmd, args}");
  }
  const args = v.args ?? {};
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    throw new AdminError("Cannot read admin request: args must be an object");
  }
  return { cmd: v.cmd, args };
}

async function serve(conn: Deno.Conn, handlers: Record<string, AdminHandler>, log: Logger) {
  const write = async (obj: unknown) => {
    // conn.write may take only part of a large buffer.
    let bytes = te.encode(JSON.stringify(obj) + "\n");
    while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
  };
  let req: AdminRequest;
  try {
    const line = await readLine(conn);
    if (line === null) return;
    req = parseAdminRequest(line);
  } catch (e) {
    await write({ ok: false, error: (e as Error).message }).catch(() => {});
    return;
  }
  const handler = Object.hasOwn(handlers, req.cmd) ? handlers[req.cmd] : undefined;
  if (!handler) {
    await write({ ok: false, error: `Unknown command ${JSON.stringify(req.cmd)}` });
    return;
  }
  let reply: AdminReply;
  try {
    reply = await handler(req.args);
  } catch (e) {
    // The message goes back to the CLI, which decides how to show it by the reply's kind.
    log.info("admin command failed", { cmd: req.cmd, error: (e as Error).name, why: String(e) });
    await write({ ok: false, error: (e as Error).message }).catch(() => {});
    return;
  }
  if (reply.kind === "result") {
    await write({ ok: true, result: reply.value }).catch(() => {});
    return;
  }
  // Stream until the client goes away.
  let chain = Promise.resolve();
  let failed = false;
  const unsubscribe = reply.subscribe((event) => {
    chain = chain.then(() => write({ ok: true, event })).then(() => {}, () => {
      failed = true;
    });
  });
  await write({ ok: true, streaming: true }).catch(() => (failed = true));
  const buf = new Uint8Array(16);
  while (!failed) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
  }
  unsubscribe();
}
