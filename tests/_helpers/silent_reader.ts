/**
 * A linked peer that stops reading: it links to a node through a stalling
 * proxy (./stall_proxy.ts) with the real node-key handshake, then, once
 * stalled, nothing the node writes to it is read, and it pings (each ping
 * asks the node to write a pong) while sending heartbeats so that the node's
 * side of the link stays up for as long as the node lets it.
 *
 * ```ts
 * await using proxy = await startStallProxy(node.port);
 * const reader = await linkSilentReader({ port: proxy.port, nodeId: "alice", self: "mallory" });
 * proxy.stall();
 * await reader.pingWhileOpen({ pings: 300_000, maxMs: 15_000 });
 * ```
 */
import {
  initiatorFinish,
  initiatorHello,
  nextChannelMessage,
  nextMessage,
  SecureChannel,
} from "../../lib/channel/mod.ts";
import { LINK_PATH } from "../../lib/federation/mod.ts";
import { decodeLinkMessage, encodeLinkMessage } from "../../lib/federation/link_message.ts";
import { toNodeId } from "../../lib/ids.ts";
import { dialWss } from "../../lib/wss/mod.ts";

/** Options of {@linkcode linkSilentReader}. */
export interface SilentReaderOptions {
  /** Port to dial on 127.0.0.1 (a stall proxy's, in front of the node). */
  port: number;
  /** The node's id. */
  nodeId: string;
  /** This peer's node id. */
  self: string;
  /** This peer's key (a fresh one when absent). */
  keyPair?: CryptoKeyPair;
  timeoutMs?: number;
}

/** A linked peer whose reading can be stopped (by its proxy). */
export interface SilentReader {
  /** The link status the node answered with (`accepted` when linked). */
  status: string;
  /** Whether the WebSocket is still open. */
  readonly open: boolean;
  /**
   * Pings (500 at a time, waiting for TCP to take them) with a heartbeat every 250 ms,
   * until `pings` are sent, `maxMs` passes or the node closes the link; returns the pings sent.
   */
  pingWhileOpen(o: { pings: number; maxMs: number }): Promise<number>;
  close(): void;
}

/** Links to the node behind `port` as `self`; see the module doc. */
export async function linkSilentReader(o: SilentReaderOptions): Promise<SilentReader> {
  const timeoutMs = o.timeoutMs ?? 5000;
  const pair = o.keyPair ??
    await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair;
  const self = {
    nodeId: toNodeId(o.self),
    key: {
      privateKey: pair.privateKey,
      publicKey: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)),
    },
  };
  const ws = await dialWss({
    host: "127.0.0.1",
    port: o.port,
    path: LINK_PATH,
    timeoutMs,
    maxMessageBytes: 1 << 20,
  });
  let channel: SecureChannel;
  let status: string;
  try {
    const hello = await initiatorHello(self, { expected: toNodeId(o.nodeId), endpoint: null });
    ws.send(hello.message);
    const fin = await initiatorFinish(hello.state, await nextMessage(ws, timeoutMs));
    ws.send(fin.message);
    channel = new SecureChannel(ws, fin.keys);
    const first = decodeLinkMessage(await nextChannelMessage(channel, timeoutMs), 1 << 20);
    status = first.kind === "result" ? first.status : first.kind;
    channel.onMessage = () => {};
  } catch (err) {
    ws.close(1000, "done");
    throw err;
  }
  const payload = new Uint8Array(125).fill(0x70);
  return {
    status,
    get open() {
      return ws.open;
    },
    async pingWhileOpen({ pings, maxMs }) {
      let sent = 0;
      let lastBeat = 0;
      const end = Date.now() + maxMs;
      while (sent < pings && ws.open && Date.now() < end) {
        if (Date.now() - lastBeat > 250) {
          // Keeps the node's side of the link alive.
          channel.send(encodeLinkMessage({ kind: "heartbeat" }));
          lastBeat = Date.now();
        }
        for (let i = 0; i < 500; i++) ws.ping(payload);
        sent += 500;
        await Promise.race([ws.drained(), new Promise((r) => setTimeout(r, 1000))]);
        await new Promise((r) => setTimeout(r, 0));
      }
      return sent;
    },
    close: () => channel.close("done"),
  };
}
