/**
 * Opening a client: its own store and identity, and a connection to its home
 * node, either in process (default mode) or over the network with the channel
 * handshake (client-only mode).
 */
import { join } from "node:path";
import {
  AuthError,
  CLIENT_LABEL,
  initiatorFinish,
  initiatorHello,
  nextMessage,
  SecureChannel,
} from "../channel/mod.ts";
import type { Clock } from "../clock.ts";
import { fingerprintMatches, fullFingerprint } from "../fingerprint.ts";
import * as e2e from "../e2e/mod.ts";
import { type Address, type NodeId, toNodeId, type UserName } from "../ids.ts";
import type { Logger } from "../log.ts";
import { type ClientLink, encodeClientMessage } from "../protocol/mod.ts";
import { dialWss } from "../wss/mod.ts";
import { ClientCore, type NodeControl } from "./client_core.ts";
import { ClientStore } from "./client_store.ts";
import { NodeConnection } from "./node_connection.ts";

/** URL path of the client protocol (the node serves it). */
export const CLIENT_PATH = "/fedchat/v1/client";

/** A running client. */
export interface OpenClient {
  core: ClientCore;
  store: ClientStore;
  close(): void;
}

/** Options of {@linkcode openClient}. */
export interface OpenClientOptions {
  dir: string;
  address: Address;
  clock: Clock;
  log: Logger;
  node?: NodeControl;
  /** Opens the link to the node; given the client's store for keys it must keep. */
  open(store: ClientStore): Promise<ClientLink>;
  /** Where received files are saved; default `downloads` in the client's folder. */
  downloadsDir?: string;
  /** Offers up to this size are accepted without asking (default 0: always ask). */
  autoAcceptFileBytes?: number;
  /** Files pushed while away (through a mailbox) are taken up to this size (default 64 MiB). */
  awayAcceptFileBytes?: number;
  /** How long a message may wait for delivery (the node's `[Delivery] message_lifetime`). */
  messageLifetimeMs?: number;
}

/** Opens the client's store (creating its identity on first run) and connects. */
export async function openClient(o: OpenClientOptions): Promise<OpenClient> {
  await Deno.mkdir(o.dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(o.dir, 0o700);
  const store = new ClientStore(join(o.dir, "client.db"));
  let raw = store.getMeta("identity");
  if (!raw) {
    raw = e2e.encodeIdentityKeyPair(await e2e.generateIdentity());
    store.setMeta("identity", raw);
    o.log.info("created user identity", { address: o.address });
  }
  const identity = await e2e.decodeIdentityKeyPair(raw);
  const connection = new NodeConnection({ open: () => o.open(store), log: o.log });
  const core = new ClientCore({
    address: o.address,
    identity,
    store,
    connection,
    clock: o.clock,
    log: o.log,
    node: o.node,
    messageLifetimeMs: o.messageLifetimeMs,
    files: {
      downloadsDir: o.downloadsDir ?? join(o.dir, "downloads"),
      stagingDir: join(o.dir, "outgoing"),
      autoAcceptBytes: o.autoAcceptFileBytes ?? 0,
      ...(o.awayAcceptFileBytes !== undefined ? { awayAcceptBytes: o.awayAcceptFileBytes } : {}),
    },
  });
  await connection.start({
    onPush: (m) => core.onPush(m),
    onChunk: (m, keep) => {
      if (m.type === "chunkDeliver") core.transfers.onChunk(m.id, m.envelope, keep);
      else core.transfers.onChunkResults(m.results);
    },
    onCondition: (m) => core.onCondition(m.resources),
    onKeyPackages: (m) => core.onKeyPackages(m.count, m.lastResort),
    onConnected: () => core.onConnected(),
  });
  return {
    core,
    store,
    close: () => {
      core.stop();
      connection.stop();
      store.close();
    },
  };
}

/** Options of {@linkcode remoteLink}. */
export interface RemoteLinkOptions {
  host: string;
  port: number;
  nodeId: NodeId;
  user: UserName;
  /** One-time enrollment code from `users add`, for the first connection. */
  enrollCode?: string;
  /** Expected node key fingerprint (full or short), checked at first contact. */
  nodeFingerprint?: string;
  timeoutMs?: number;
}

/** Returns an `open` function that dials a node and authenticates as `user`. */
export function remoteLink(o: RemoteLinkOptions): (store: ClientStore) => Promise<ClientLink> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  return async (store) => {
    let device = store.getMeta("device");
    if (!device) {
      device = crypto.getRandomValues(new Uint8Array(32));
      store.setMeta("device", device);
    }
    const key = {
      privateKey: await e2e.importEd25519PrivateKey(device),
      publicKey: await e2e.ed25519PublicKey(device),
    };
    const ws = await dialWss({
      host: o.host,
      port: o.port,
      path: CLIENT_PATH,
      timeoutMs,
      maxMessageBytes: 2 << 20,
    });
    try {
      const hello = await initiatorHello({ nodeId: toNodeId(o.user), key }, {
        expected: o.nodeId,
        endpoint: null,
        label: CLIENT_LABEL,
        binding: ws.tlsBinding,
      });
      ws.send(hello.message);
      const fin = await initiatorFinish(hello.state, await nextMessage(ws, timeoutMs));
      const pinned = store.getMeta("node-key");
      const fp = await fullFingerprint(fin.peer.publicKey);
      if (pinned && !e2e.constantTimeEqual(pinned, fin.peer.publicKey)) {
        throw new AuthError(
          `Cannot connect: ${o.nodeId} presents a different key than the one pinned`,
        );
      }
      if (!pinned && o.nodeFingerprint && !fingerprintMatches(fp, o.nodeFingerprint)) {
        throw new AuthError(
          `Cannot connect: ${o.nodeId}'s key does not match the fingerprint given`,
        );
      }
      if (!pinned) store.setMeta("node-key", fin.peer.publicKey);
      ws.send(fin.message);
      const channel = new SecureChannel(ws, fin.keys);
      channel.send(encodeClientMessage({ type: "hello", enrollCode: o.enrollCode }));
      const link: ClientLink = {
        // A large message (a file chunk) is given up: framed where it lies, not copied, and
        // handed back once the socket has written it. A smaller one waits for the turn's
        // record, and its bytes are simply not reused.
        send: (b, consumed) => void channel.send(b, consumed),
        close: (r) => channel.close(r),
        onMessage: null,
        onClose: () => {},
      };
      channel.onMessage = (b) => link.onMessage?.(b);
      channel.onClose = (r) => link.onClose(r);
      return link;
    } catch (e) {
      ws.destroy();
      throw e;
    }
  };
}
