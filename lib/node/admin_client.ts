/** The CLI's side of the admin channel. */
import { join } from "node:path";
import { ADMIN_SOCKET } from "./admin_server.ts";

/** The running process refused a command; its message is meant for the user. */
export class AdminReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AdminReplyError";
  }
}

/** No node answers on the admin socket. */
export class NotRunningError extends Error {
  constructor(dataDir: string) {
    super(
      `Cannot reach the node: none is running with data directory ${JSON.stringify(dataDir)}; ` +
        "start it first (deno task start, or main.ts server)",
    );
    this.name = "NotRunningError";
  }
}

async function open(dataDir: string): Promise<Deno.UnixConn> {
  try {
    return await Deno.connect({ transport: "unix", path: join(dataDir, ADMIN_SOCKET) });
  } catch {
    throw new NotRunningError(dataDir);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}

async function* lines(conn: Deno.Conn): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let pending = "";
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return;
    pending += decoder.decode(buf.subarray(0, n), { stream: true });
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      yield JSON.parse(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  }
}

/**
 * Sends one command and returns its result.
 *
 * @throws {NotRunningError} no node; {Error} the node's error message
 */
export async function adminCall(
  dataDir: string,
  cmd: string,
  args: Record<string, unknown> = {},
): Promise<unknown> {
  const conn = await open(dataDir);
  try {
    await writeAll(conn, new TextEncoder().encode(JSON.stringify({ cmd, args }) + "\n"));
    for await (const msg of lines(conn)) {
      const m = msg as { ok: boolean; result?: unknown; error?: string };
      if (!m.ok) throw new AdminReplyError(m.error ?? "unknown error");
      return m.result;
    }
    throw new Error("the node closed the admin connection without an answer");
  } finally {
    conn.close();
  }
}

/** Sends a streaming command and yields its events until the node goes away. */
export async function* adminStream(
  dataDir: string,
  cmd: string,
  args: Record<string, unknown> = {},
): AsyncGenerator<unknown> {
  const conn = await open(dataDir);
  try {
    await writeAll(conn, new TextEncoder().encode(JSON.stringify({ cmd, args }) + "\n"));
    for await (const msg of lines(conn)) {
      const m = msg as { ok: boolean; event?: unknown; error?: string; streaming?: boolean };
      if (!m.ok) throw new AdminReplyError(m.error ?? "unknown error");
      if (m.streaming) continue;
      yield m.event;
    }
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}
