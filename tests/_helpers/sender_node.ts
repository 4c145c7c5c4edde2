/**
 * The sender's node in process, for the notice tests: delivery, the group
 * committer and the client hub on a real store in `dir`, the network faked
 * (`nb` answers with receipts the test makes). Clients attach in process and
 * record what they are pushed.
 */
import { join } from "node:path";
import type { LinkSelf } from "../../lib/channel/mod.ts";
import { type Clock, SYSTEM_CLOCK } from "../../lib/clock.ts";
import type { Limits } from "../../lib/config.ts";
import type { Federation } from "../../lib/federation/mod.ts";
import { type NodeId, toAddress, toNodeId, type UserName } from "../../lib/ids.ts";
import { SILENT_LOGGER } from "../../lib/log.ts";
import type { BundleService } from "../../lib/node/bundle_service.ts";
import { ClientHub } from "../../lib/node/client_hub.ts";
import { Committer } from "../../lib/node/committer.ts";
import { fakedDelivery } from "./faked_delivery.ts";
import { encodeReceiptEntries } from "../../lib/node/group_receipt.ts";
import type { ReceiptStatus } from "../../lib/node/receipt.ts";
import { ResourceState } from "../../lib/node/resource_state.ts";
import {
  type ClientMessage,
  decodeClientMessage,
  decodeEnvelope,
  encodeClientMessage,
  encodeEnvelope,
  type Envelope,
  nodeEnvelope,
} from "../../lib/protocol/mod.ts";
import { openSqliteNodeStore } from "../../lib/store/mod.ts";

export const NA = toNodeId("na");
export const NB = toNodeId("nb");
export const ALICE = "alice" as UserName;

/** A client attached in process: what it was pushed, and a way to acknowledge. */
export interface TestClient {
  got: ClientMessage[];
  /** Sends `m` to the hub as this client. */
  send(m: ClientMessage): void;
  ack(ids: string[]): void;
  close(): void;
}

/**
 * Node `na` with alice's account, on the store in `dir`. Submissions go to the
 * durable outbox at once unless `fastGraceMs` says otherwise (lib/node/fast_lane.ts).
 */
export async function senderNode(
  dir: string,
  clock: Clock = SYSTEM_CLOCK,
  fastGraceMs = 0,
  limits?: Partial<Limits>,
) {
  const store = openSqliteNodeStore(join(dir, "node.db"));
  if (!store.getAccount(ALICE)) {
    for (const name of [ALICE, "mallory" as UserName]) {
      store.putAccount({
        name,
        publicKey: null,
        enrollHash: null,
        bundle: null,
        listed: true,
        createdAtMs: 0,
      });
    }
  }
  const resources = new ResourceState(clock, SILENT_LOGGER);
  const committer = new Committer(store, SILENT_LOGGER, resources);
  const forwarded: string[] = [];
  const { delivery, spool } = await fakedDelivery({
    dir,
    self: NA,
    store,
    committer,
    clock,
    hop: NB,
    fastGraceMs,
    limits,
    sentEncoded: (_dest, bytes) => forwarded.push(decodeEnvelope(bytes).id.toHex()),
  });
  const federation = {
    setUsers: () => {},
    router: { directory: () => [] },
  } as unknown as Federation;
  const hub = new ClientHub({
    self: { nodeId: NA } as unknown as LinkSelf,
    store,
    committer,
    federation,
    bundles: {} as BundleService,
    delivery,
    resources,
    spool,
    clock,
    log: SILENT_LOGGER,
    handshakeTimeoutMs: 1000,
  });
  /** Message `n` from alice to bob@nb, encoded. */
  const envelope = (n: number) => {
    const now = clock.nowMs();
    const e = {
      id: new Uint8Array(16).fill(0).map((_, i) => (i < 4 ? (n >>> (8 * i)) & 255 : 7)),
      kind: "message",
      ttl: 32,
      createdAtMs: now,
      expiresAtMs: now + 600_000,
      from: toAddress("alice@na"),
      to: toAddress("bob@nb"),
      body: new Uint8Array([1, 2, 3]),
    } as Envelope;
    return encodeEnvelope(e);
  };
  /** Submits message `n` from alice to bob@nb; resolves with delivery's answer. */
  const submit = (n: number) => delivery.submit(ALICE, envelope(n));
  return {
    store,
    delivery,
    hub,
    envelope,
    /** Ids of the envelopes handed to the network, in order (every copy). */
    forwarded,
    submit,
    /** Attaches `user`'s client; it records every message pushed to it. */
    attach(user: UserName = ALICE): TestClient {
      const got: ClientMessage[] = [];
      const link = {
        send: (b: Uint8Array) => got.push(decodeClientMessage(b)),
        close: () => {},
        onMessage: null as ((b: Uint8Array) => void) | null,
        onClose: (_r: string) => {},
      };
      hub.attach(user, link);
      return {
        got,
        send: (m) => link.onMessage?.(encodeClientMessage(m)),
        ack: (ids) => link.onMessage?.(encodeClientMessage({ type: "ack", ids })),
        close: () => link.onClose("gone"),
      };
    },
    /** Submits message `n` from alice to bob@nb; resolves with its id once answered. */
    async send(n: number): Promise<string> {
      return (await submit(n)).id;
    },
    /** `nb`'s receipt for envelopes of ours. */
    receipt(ids: string[], status: ReceiptStatus = "stored", from: NodeId = NB): void {
      const r = nodeEnvelope({
        kind: "receipt",
        from,
        to: NA,
        body: encodeReceiptEntries(ids.map((id) => ({ id: Uint8Array.fromHex(id), status }))),
        nowMs: clock.nowMs(),
        lifetimeMs: 60_000,
      });
      delivery.receiveLocal(r, encodeEnvelope(r), from);
    },
    close() {
      hub.stop();
      delivery.stop();
      committer.close();
      store.close();
    },
  };
}

/** Settled notices (`s…` ids) among what a client got. */
export function settledNotices(got: ClientMessage[]) {
  return got.flatMap((m) => m.type === "notice" && m.id.startsWith("s") ? [m] : []);
}

/** Polls `fn` every turn, for at most `ms`. */
export async function until(what: string, fn: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
