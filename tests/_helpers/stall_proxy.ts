/**
 * A TCP proxy on loopback that can stop carrying one direction, to make a
 * peer that "does not read": with `stall()`, bytes from the target are no
 * longer read, so the target's writes back up in TCP exactly as if the
 * client had stopped reading, while the client's bytes still reach the
 * target. Works with any client stack in this process.
 *
 * ```ts
 * await using proxy = await startStallProxy(node.port);
 * // connect to proxy.port, authenticate, then:
 * proxy.stall();
 * ```
 */

/** A running proxy. */
export interface StallProxy extends AsyncDisposable {
  /** The port to connect to instead of the target's. */
  port: number;
  /** Stops reading from the target (on every connection, now and later). */
  stall(): void;
  /** Reads from the target again. */
  resume(): void;
  /** Proxied connections still open (a stalled one ends when its client's bytes cannot reach the target any more). */
  connections(): number;
  close(): Promise<void>;
}

/** Starts a proxy to `targetPort` on 127.0.0.1. */
export function startStallProxy(targetPort: number): Promise<StallProxy> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let stalled = false;
  let waiters: Array<() => void> = [];
  let closing = false;

  const gate = async () => {
    while (stalled && !closing) await new Promise<void>((r) => waiters.push(r));
  };

  /** Copies `from` to `to`; `check` gates each read. Bounded by the connections' lives. */
  const pipe = async (from: Deno.Conn, to: Deno.Conn, check: () => Promise<void>) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        await check();
        const n = await from.read(buf);
        if (n === null) return;
        let at = 0;
        while (at < n) at += await to.write(buf.subarray(at, n));
      }
    } finally {
      for (const c of [from, to]) {
        try {
          c.close();
        } catch { /* closed already */ }
      }
    }
  };

  const serve = async () => {
    for await (const client of listener) {
      let target: Deno.Conn;
      try {
        target = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      } catch {
        client.close();
        continue;
      }
      conns.add(client).add(target);
      const up = pipe(client, target, () => Promise.resolve()).catch(() => {});
      const down = pipe(target, client, gate).catch(() => {});
      // Either direction ending closes both connections, which ends the other.
      void Promise.race([up, down]).then(() => {
        conns.delete(client);
        conns.delete(target);
      });
    }
  };
  void serve().catch(() => {});

  const close = () => {
    closing = true;
    for (const w of waiters) w();
    waiters = [];
    try {
      listener.close();
    } catch { /* closed already */ }
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
    return Promise.resolve();
  };
  return Promise.resolve({
    port: (listener.addr as Deno.NetAddr).port,
    stall: () => void (stalled = true),
    resume: () => {
      stalled = false;
      for (const w of waiters) w();
      waiters = [];
    },
    connections: () => conns.size / 2,
    close,
    [Symbol.asyncDispose]: close,
  });
}
