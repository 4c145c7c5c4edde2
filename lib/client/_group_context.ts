/**
 * What the group engines share (private to lib/client): the store, the
 * identity, the node connection, the group states in memory, and the one
 * place group envelopes are made and handed to the node.
 *
 * Every change to a group runs in the client's one queue (`Sessions.exclusive`),
 * and a group's new MLS state enters memory only once it is committed.
 */
import type { Clock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import type { Address } from "../ids.ts";
import type { Logger } from "../log.ts";
import {
  DEFAULT_TTL,
  encodeEnvelope,
  encodeGroupDelivery,
  encodeHubSubmission,
  envelopeIdHex,
  type GroupRef,
  type HubSubmission,
} from "../protocol/mod.ts";
import type { ClientEvent } from "./api.ts";
import type { ClientStore } from "./client_store.ts";
import type { GroupRow } from "./_group_tables.ts";
import { NodeRefusedError, NodeUnavailableError } from "./errors.ts";
import { newEnvelopeId } from "./new_envelope.ts";
import type { NodeConnection } from "./node_connection.ts";
import type { TurnCommit } from "./turn_commit.ts";

/** Shared by the group engines. */
export interface GroupContext {
  self: Address;
  identity: e2e.IdentityKeyPair;
  store: ClientStore;
  connection: NodeConnection;
  clock: Clock;
  log: Logger;
  lifetimeMs: number;
  emit(event: ClientEvent): void;
  /** This turn's transaction (lib/client/turn_commit.ts): group writes go in it. */
  turn: TurnCommit;
  /** Accepted MLS states in memory, by group key (entered only once committed). */
  states: Map<string, e2e.GroupState>;
}

/** The node a user address is on. */
export const nodeOf = (address: string) => address.slice(address.indexOf("@") + 1);
/** The user name of an address. */
export const nameOf = (address: string) => address.slice(0, address.indexOf("@"));

/** A group's reference from its row. */
export function refOf(g: GroupRow): GroupRef {
  return { home: g.home, groupId: Uint8Array.fromHex(g.key.slice(0, 32)) };
}

/** The accepted MLS state of an active group (decoded once, then kept in memory). */
export function acceptedState(ctx: GroupContext, g: GroupRow): e2e.GroupState {
  let s = ctx.states.get(g.key);
  if (!s) {
    if (!g.mls) throw new TypeError(`No group state for ${g.key}`);
    s = e2e.decodeGroupState(g.mls);
    ctx.states.set(g.key, s);
  }
  return s;
}

/** A sealed envelope for the node, with its id. */
export interface GroupEnvelope {
  id: string;
  bytes: Uint8Array;
}

/** A `groupHub` envelope to the group's home node. */
export function hubEnvelope(ctx: GroupContext, s: HubSubmission): GroupEnvelope {
  const now = ctx.clock.nowMs();
  const id = newEnvelopeId(now);
  return {
    id: envelopeIdHex(id),
    bytes: encodeEnvelope({
      id,
      kind: "groupHub",
      ttl: DEFAULT_TTL,
      createdAtMs: now,
      expiresAtMs: now + ctx.lifetimeMs,
      from: ctx.self,
      to: s.home,
      body: encodeHubSubmission(s),
    }),
  };
}

/** One `group` envelope per destination node for `recipients` (addresses). */
export function appEnvelopes(
  ctx: GroupContext,
  ref: GroupRef,
  recipients: readonly string[],
  message: Uint8Array,
): Array<GroupEnvelope & { dest: string; names: string[] }> {
  const byNode = new Map<string, string[]>();
  for (const a of [...recipients].sort()) {
    const list = byNode.get(nodeOf(a)) ?? [];
    list.push(a);
    byNode.set(nodeOf(a), list);
  }
  const now = ctx.clock.nowMs();
  return [...byNode].map(([dest, addresses]) => {
    const id = newEnvelopeId(now);
    return {
      id: envelopeIdHex(id),
      dest,
      names: addresses,
      bytes: encodeEnvelope({
        id,
        kind: "group",
        ttl: DEFAULT_TTL,
        createdAtMs: now,
        expiresAtMs: now + ctx.lifetimeMs,
        from: ctx.self,
        to: dest,
        body: encodeGroupDelivery({ ...ref, names: addresses.map(nameOf), message }),
      }),
    };
  });
}

/** What became of a group envelope handed to the node. */
export type GroupSubmit =
  | { kind: "taken"; state: "sent" | "delivered"; users?: Record<string, string> }
  | { kind: "retry" }
  | { kind: "refused"; reason: string };

/** Hands an envelope to the node; the answer's kind decides, never its text. */
export async function submitGroupEnvelope(
  ctx: GroupContext,
  bytes: Uint8Array,
): Promise<GroupSubmit> {
  try {
    const r = await ctx.connection.submitGroup(bytes);
    return { kind: "taken", state: r.state, ...(r.users ? { users: r.users } : {}) };
  } catch (e) {
    if (e instanceof NodeUnavailableError) return { kind: "retry" };
    if (e instanceof NodeRefusedError) return { kind: "refused", reason: e.message };
    throw e;
  }
}
