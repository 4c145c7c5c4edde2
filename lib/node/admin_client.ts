/** The CLI's side of the admin channel. */
import { join } from "node:path";
import { ADMIN_SOCKET } from "./admin_server.ts";
import { NodeError } from "./errors.ts";

/**
 * The running process did not carry out a command: it answered
 * `{ok: false, error}` (the error's text, written for the user, is this
 * error's message) or hung up without answering. Every failure reported over
 * the admin socket arrives as this one type.
 */
export class AdminReplyError extends NodeError {}

/** No process answers on the admin socket of `dataDir`. */
export class NotRunningError extends NodeError {
  /** The data directory (or client directory) whose socket nobody answers. */
  readonly dataDir: string;

  constructor(dataDir: string, options?: ErrorOptions) {
    super(
      `Cannot reach the node: none is running with data directory ${JSON.stringify(dataDir)}; ` +
        "start it first",
      options,
    );
    this.dataDir = dataDir;
  }
}

/** The error a `{ok: false, error}` reply stands for. */
function refusal(reply: { error?: unknown }): AdminReplyError {
  return new AdminReplyError(
    typeof reply.error === "string"
      ? reply.error
      : "Cannot run the command: the process refused it",
  );
}

async function open(dataDir: string): Promise<Deno.UnixConn> {
  try {
    return await Deno.connect({ transport: "unix", path: join(dataDir, ADMIN_SOCKET) });
  } catch (cause) {
    throw new NotRunningError(dataDir, { cause });
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
 * @throws {NotRunningError} nothing answers; {AdminReplyError} the process refused the
 *   command (the message says why) or hung up without an answer
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
      const m = msg as { ok: boolean; result?: unknown; error?: unknown };
      if (!m.ok) throw refusal(m);
      return m.result;
    }
    throw new AdminReplyError(
      `Cannot run ${JSON.stringify(cmd)}: the process closed the admin connection without an ` +
        "answer; see its output (it may be stopping)",
    );
  } finally {
    conn.close();
  }
}

/**
 * Sends a streaming command and yields its events until the node goes away.
 *
 * @throws {NotRunningError} nothing answers; {AdminReplyError} the process refused the command
 */
export async function* adminStream(
  dataDir: string,
  cmd: string,
  args: Record<string, unknown> = {},
): AsyncGenerator<unknown> {
  const conn = await open(dataDir);
  try {
    await writeAll(conn, new TextEncoder().encode(JSON.stringify({ cmd, args }) + "\n"));
    for await (const msg of lines(conn)) {
      const m = msg as { ok: boolean; event?: unknown; error?: unknown; streaming?: boolean };
      if (!m.ok) throw refusal(m);
      if (m.streaming) continue;
      yield m.event;
    }
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}
