/**
 * Where a link is approved: the pure decisions of the link layer. Each takes
 * the stored record of a peer and what a handshake proved, and returns the
 * verdict and the record to store; link_manager.ts applies them.
 *
 * Pins are the owner's: a key is pinned only by a link the owner asked for
 * (`connect`, an invite), by the owner's `approve`, or at first contact on a
 * node the owner opened to all. A node that merely asked to link and waits
 * for approval pins nothing: its key is kept as `presentedKey`, to be shown
 * and pinned only if the owner approves it, and an invite for the same id
 * replaces it.
 */
import type { Endpoint } from "../channel/mod.ts";
import { constantTimeEqual } from "../e2e/base.ts";
import type { NodeId } from "../ids.ts";
import type { PeerRecord } from "../store/mod.ts";
import { fingerprintMatches } from "./node_key.ts";

/** What the link handshake proved about the other side. */
export interface LinkProof {
  nodeId: NodeId;
  publicKey: Uint8Array;
  /** Its full fingerprint (base32 of SHA-256 of the key). */
  fingerprint: string;
  /** Where it asked to be dialled (incoming links only). */
  endpoint: Endpoint | null;
  /** The address it connected from (incoming links only). */
  address: string | null;
}

/** The verdict on a link and the record to store (null: store nothing). */
export type LinkVerdict =
  | { kind: "accept"; record: PeerRecord }
  | { kind: "pending"; record: PeerRecord | null; reason: string }
  | { kind: "refuse"; record: PeerRecord | null; reason: string; keyMismatch: boolean };

/** A refusal that stores nothing. */
function refusal(reason: string, keyMismatch = false): LinkVerdict {
  return { kind: "refuse", record: null, reason, keyMismatch };
}

function mismatch(rec: PeerRecord, proof: LinkProof): string | null {
  if (rec.publicKey && !constantTimeEqual(rec.publicKey, proof.publicKey)) {
    return `refused a different key for ${rec.nodeId}`;
  }
  if (
    !rec.publicKey && rec.expectedFingerprint &&
    !fingerprintMatches(proof.fingerprint, rec.expectedFingerprint)
  ) {
    return `refused a key for ${rec.nodeId} that does not match the invite`;
  }
  return null;
}

/**
 * Whether `rec` is a stranger's: a node an open node linked at its first
 * contact, not one the owner linked (`connect`, an invite, `approve`). Only
 * such records keep the address the node connected from.
 */
export function isStranger(rec: PeerRecord): boolean {
  return rec.state === "linked" && rec.address !== null;
}

/**
 * An incoming link, after its handshake. `pendingRoom` says whether the
 * pending-approval budget has room for this address; `openRefusal`, when set,
 * why the open node's budgets of strangers (rates, room: see
 * {@linkcode strangerRoom}) refuse a new one. `knownKey` is the key this node
 * already knows for the id from elsewhere (routing), if any: on an open node
 * a stranger presenting another key is refused, so it cannot take over the
 * id of a node known here (only the owner's `connect` with an invite can).
 */
export function decideIncoming(input: {
  record: PeerRecord | undefined;
  proof: LinkProof;
  open: boolean;
  nowMs: number;
  pendingRoom: boolean;
  openRefusal?: string;
  knownKey?: Uint8Array;
}): LinkVerdict {
  const { record: rec, proof, open, nowMs } = input;
  if (rec?.state === "rejected") {
    return { kind: "refuse", record: null, reason: "refused by the owner", keyMismatch: false };
  }
  if (rec?.state === "linked") {
    const why = mismatch(rec, proof);
    if (why) {
      return {
        kind: "refuse",
        record: { ...rec, lastError: why, lastErrorAtMs: nowMs },
        reason: "key does not match the pinned key",
        keyMismatch: true,
      };
    }
    return {
      kind: "accept",
      record: {
        ...rec,
        publicKey: proof.publicKey,
        host: rec.host ?? proof.endpoint?.host ?? null,
        port: rec.port ?? proof.endpoint?.port ?? null,
      },
    };
  }
  const fresh: PeerRecord = {
    nodeId: proof.nodeId,
    publicKey: open ? proof.publicKey : null,
    presentedKey: open ? null : proof.publicKey,
    address: proof.address,
    expectedFingerprint: null,
    host: proof.endpoint?.host ?? null,
    port: proof.endpoint?.port ?? null,
    state: open ? "linked" : "pending",
    createdAtMs: rec?.createdAtMs ?? nowMs,
    lastError: null,
    lastErrorAtMs: null,
  };
  if (open && !rec) {
    if (input.knownKey && !constantTimeEqual(input.knownKey, proof.publicKey)) {
      return refusal(`this node knows ${proof.nodeId} under another key`, true);
    }
    if (input.openRefusal !== undefined) return refusal(input.openRefusal);
    return { kind: "accept", record: fresh };
  }
  // Pending: waits for the owner. A pending record is refreshed by its latest attempt (the key
  // shown for approval is the one that asked last), but only while there is room for it. It keeps
  // the address it first asked from: the budgets count it there (a request that moved its address
  // would leave its count behind, and take none where it went).
  if (!rec && !input.pendingRoom) {
    return {
      kind: "refuse",
      record: null,
      reason: "too many link requests are waiting for the owner",
      keyMismatch: false,
    };
  }
  return {
    kind: "pending",
    record: { ...fresh, publicKey: null, state: "pending", address: rec?.address ?? fresh.address },
    reason: "waiting for the owner",
  };
}

/** A stranger (isStranger) as the open node's budgets count it. */
export interface StrangerHolding {
  nodeId: NodeId;
  /** Its address key (lib/wss/address_key.ts: an IPv4 address, an IPv6 /64). */
  address: string;
  /** Its network key (an IPv4 /24, an IPv6 /48). */
  network: string;
  createdAtMs: number;
  /** Its link is up now. */
  up: boolean;
}

/** The open node's budgets of strangers (`open_links_*`). */
export interface StrangerLimits {
  perAddress: number;
  perNetwork: number;
  total: number;
}

/** Whether a new stranger fits, which one gives way for it, or why it is refused. */
export type StrangerRoom =
  | { kind: "fits" }
  | { kind: "evict"; victim: NodeId; scope: "address" | "network" | "total"; up: boolean }
  | { kind: "refuse"; reason: string };

/**
 * Room for a new stranger from `address` in `network`, given the strangers
 * held now. The most specific budget it is past decides:
 *
 * - its **address** or its **network** holds its budget: the oldest stranger
 *   of that address (network) whose link is down gives way; with all up, the
 *   newcomer is refused (the address or network competes only with itself);
 * - the **total** is reached: the oldest stranger whose link is down, of the
 *   network holding most, gives way. With all of that network's up, its
 *   oldest gives way all the same (its link closed) when the newcomer's
 *   network holds less than an equal share of the total (`⌊total / N⌋`, N the
 *   networks holding any, the newcomer's counted); else the newcomer is
 *   refused.
 *
 * So strangers that keep their links up hold their places against newcomers of
 * their own address or network, and against a network already holding its
 * equal share; but however many networks an attacker fills the total from,
 * a newcomer from a network holding less than its share gets in, and only the
 * network holding most loses a place (never one below the newcomer's share).
 */
export function strangerRoom(input: {
  strangers: readonly StrangerHolding[];
  address: string;
  network: string;
  limits: StrangerLimits;
}): StrangerRoom {
  const { strangers, address, network, limits } = input;
  const oldest = (list: StrangerHolding[], down: boolean) => {
    let found: StrangerHolding | undefined;
    for (const s of list) {
      if (down && s.up) continue;
      if (!found || s.createdAtMs < found.createdAtMs) found = s;
    }
    return found;
  };
  const byNetwork = new Map<string, StrangerHolding[]>();
  for (const s of strangers) {
    const list = byNetwork.get(s.network);
    if (list) list.push(s);
    else byNetwork.set(s.network, [s]);
  }
  const mine = byNetwork.get(network) ?? [];
  const scoped = (scope: "address" | "network", list: StrangerHolding[]): StrangerRoom => {
    const down = oldest(list, true);
    return down
      ? { kind: "evict", victim: down.nodeId, scope, up: false }
      : { kind: "refuse", reason: `too many nodes linked from this ${scope}` };
  };
  const ofAddress = mine.filter((s) => s.address === address);
  if (ofAddress.length >= limits.perAddress) return scoped("address", ofAddress);
  if (mine.length >= limits.perNetwork) return scoped("network", mine);
  if (strangers.length < limits.total) return { kind: "fits" };
  let top: StrangerHolding[] = [];
  for (const list of byNetwork.values()) {
    // Ties go to the network whose oldest is oldest: the same choice every time.
    if (
      list.length > top.length ||
      (list.length === top.length && oldest(list, false)!.createdAtMs <
          oldest(top, false)!.createdAtMs)
    ) top = list;
  }
  const down = oldest(top, true);
  if (down) return { kind: "evict", victim: down.nodeId, scope: "total", up: false };
  const share = Math.floor(limits.total / (byNetwork.size + (mine.length > 0 ? 0 : 1)));
  const first = oldest(top, false);
  if (first && mine.length < share) {
    return { kind: "evict", victim: first.nodeId, scope: "total", up: true };
  }
  return { kind: "refuse", reason: "too many nodes linked; this node is full" };
}

/** An outgoing link we dialled, after its handshake. */
export function decideOutgoing(
  input: { record: PeerRecord; proof: LinkProof; nowMs: number },
): LinkVerdict {
  const { record: rec, proof, nowMs } = input;
  const why = mismatch(rec, proof);
  if (why) {
    return {
      kind: "refuse",
      record: { ...rec, lastError: why, lastErrorAtMs: nowMs },
      reason: why,
      keyMismatch: true,
    };
  }
  return { kind: "accept", record: { ...rec, publicKey: proof.publicKey, presentedKey: null } };
}

/** What `connect` (the owner, with an address and maybe an invite's fingerprint) does. */
export type ConnectDecision =
  | { kind: "ok"; record: PeerRecord }
  | { kind: "refuse"; reason: string };

/**
 * The owner asks to link with `target`. A pinned key must match the invite's
 * fingerprint (forgetting the pin is a separate, deliberate step); a pending
 * or rejected record is replaced, so a stranger that asked first under the
 * same id cannot block the real node's invite.
 */
export function decideConnect(input: {
  record: PeerRecord | undefined;
  target: { nodeId: NodeId; host: string; port: number; fingerprint?: string };
  pinnedFingerprint: string | null;
  nowMs: number;
}): ConnectDecision {
  const { record: rec, target, pinnedFingerprint, nowMs } = input;
  const linkedPin = rec?.state === "linked" && rec.publicKey !== null;
  if (
    linkedPin && target.fingerprint && pinnedFingerprint &&
    !fingerprintMatches(pinnedFingerprint, target.fingerprint)
  ) {
    return {
      kind: "refuse",
      reason: `Cannot connect: ${target.nodeId} is pinned to another key than the invite names; ` +
        `if you trust the invite, run \`links forget ${target.nodeId}\` first`,
    };
  }
  const keep = rec?.state === "linked";
  return {
    kind: "ok",
    record: {
      nodeId: target.nodeId,
      publicKey: keep ? rec!.publicKey : null,
      presentedKey: null,
      address: null,
      expectedFingerprint: target.fingerprint ?? (keep ? rec!.expectedFingerprint : null),
      host: target.host,
      port: target.port,
      state: "linked",
      createdAtMs: keep ? rec!.createdAtMs : nowMs,
      lastError: null,
      lastErrorAtMs: null,
    },
  };
}

/** The owner approves a waiting node: the key it presented is pinned. */
export function decideApprove(rec: PeerRecord | undefined): ConnectDecision {
  if (!rec || rec.state !== "pending" || !rec.presentedKey) {
    return {
      kind: "refuse",
      reason: `Cannot approve ${rec?.nodeId ?? "that node"}: no link request from it is waiting`,
    };
  }
  return {
    kind: "ok",
    record: {
      ...rec,
      publicKey: rec.presentedKey,
      presentedKey: null,
      // The owner's now, not a stranger's (isStranger).
      address: null,
      state: "linked",
      lastError: null,
      lastErrorAtMs: null,
    },
  };
}

/**
 * Two links to one peer (both dialled at once, or the peer restarted): both
 * sides keep the one whose initiator has the smaller id; a newer link in the
 * same direction replaces the older.
 */
export function preferLink(
  input: { self: NodeId; peer: NodeId; existing: NodeId; incoming: NodeId },
): "keep-existing" | "replace" {
  const preferred = input.self < input.peer ? input.self : input.peer;
  return input.existing === preferred && input.incoming !== preferred ? "keep-existing" : "replace";
}
