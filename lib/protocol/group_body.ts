/**
 * Bodies of the group envelopes (docs/PROTOCOL.md §8 and §14): what nodes see
 * of group traffic. The MLS messages inside are opaque to nodes except for
 * their clear header (lib/e2e `peekGroupMessage`: kind, group id, epoch).
 * A group is named by its home node and its 16-byte MLS group id.
 *
 *   GroupRef       = str16 home | [16] groupId
 *
 *   GroupDelivery  (kind `group`, a member → one destination node)
 *                  = u8 version=1 | GroupRef | u16 n | n × str16 name | bytes32 message
 *
 *   HubSubmission  (kind `groupHub`, a member → the home node)
 *                  = u8 version=1 | GroupRef | u8 op | u64 epoch | op fields
 *     op 1 create   : bytes32 hubInfo                      (epoch 0: the creator registers it)
 *     op 2 commit   : bytes32 commit | bytes32 hubInfo | bytes32 welcome (empty: none)
 *                     | u16 k | k × (str16 invitee | bytes32 invitation)
 *     op 3 proposal : bytes32 proposal                     (a member's own leaving)
 *     op 4 decline  : (nothing)                            (an invitee says no)
 *
 *   HubFanout      (kind `groupFanout`, the home node → one member node)
 *                  = u8 version=1 | GroupRef | u64 epoch | u8 op
 *                  | u16 m | m × str16 member address       (the members at `epoch`)
 *                  | u16 n | n × str16 recipient name       (users of the destination node)
 *                  | str16 actor (committer, proposer, inviter or decliner) | op fields
 *     op 1 commit   : bytes32 commit
 *     op 2 proposal : bytes32 proposal
 *     op 3 invite   : bytes32 welcome | u16 k | k × (str16 invitee name | bytes32 invitation)
 *     op 4 declined : (nothing)
 *
 *   KeyPackageRequest (kind `keyPackageRequest`) = u8 version=1 | str16 user
 *   KeyPackageReply   (kind `keyPackageReply`)   = u8 version=1 | u8 status | bytes32 keyPackage
 *     status 0 ok, 1 none published, 2 no such user, 3 over the asking node's rate
 *
 * Every decoder caps its input, checks every length and name, and throws
 * {@linkcode CodecError}.
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/base.ts";
import { toAddress, toNodeId, toUserName } from "../ids.ts";
import { MAX_ENVELOPE_BODY } from "./envelope.ts";

const VERSION = 1;
/** Bytes of an MLS group id made by lib/e2e `createGroup`. */
export const GROUP_ID_BYTES = 16;
/** Most names (recipients, members) one body lists: the MLS limit of 256 members. */
export const MAX_GROUP_NAMES = 256;
/** Largest invitation (lib/client signs it; nodes only carry it). */
export const MAX_INVITATION_BYTES = 2048;
/** Largest key package a node keeps or hands out (lib/e2e MAX_GROUP_KEY_PACKAGE_BYTES). */
export const MAX_KEY_PACKAGE_BYTES = 8 * 1024;
const MAX_ADDRESS = 80;

/** A group: its home node and MLS group id. */
export interface GroupRef {
  home: string;
  groupId: Uint8Array;
}

/** The key a group is known by in stores and maps: `groupId hex@home`. */
export function groupKey(g: GroupRef): string {
  return `${g.groupId.toHex()}@${g.home}`;
}

/** Body of a `group` envelope. */
export interface GroupDelivery extends GroupRef {
  /** Users of the destination node it is for. */
  names: string[];
  /** The MLS application message. */
  message: Uint8Array;
}

/** One invitation riding with a commit that adds members. */
export interface InvitationEntry {
  invitee: string;
  invitation: Uint8Array;
}

/** Body of a `groupHub` envelope. */
export type HubSubmission =
  & GroupRef
  & { epoch: number }
  & (
    | { op: "create"; hubInfo: Uint8Array }
    | {
      op: "commit";
      commit: Uint8Array;
      hubInfo: Uint8Array;
      welcome: Uint8Array | null;
      invitations: InvitationEntry[];
    }
    | { op: "proposal"; proposal: Uint8Array }
    | { op: "decline" }
  );

/** Body of a `groupFanout` envelope. */
export type HubFanout =
  & GroupRef
  & {
    epoch: number;
    /** Every member address at `epoch`. */
    members: string[];
    /** Users of the destination node it is for. */
    recipients: string[];
    /** Who committed, proposed, invited or declined. */
    actor: string;
  }
  & (
    | { op: "commit"; commit: Uint8Array }
    | { op: "proposal"; proposal: Uint8Array }
    | { op: "invite"; welcome: Uint8Array; invitations: InvitationEntry[] }
    | { op: "declined" }
  );

const SUBMISSION_OPS = ["create", "commit", "proposal", "decline"] as const;
const FANOUT_OPS = ["commit", "proposal", "invite", "declined"] as const;

function writeRef(w: ByteWriter, g: GroupRef): ByteWriter {
  if (g.groupId.length !== GROUP_ID_BYTES) throw new RangeError("Cannot encode group: bad id");
  return w.str16(g.home).raw(g.groupId);
}

function readRef(r: ByteReader): GroupRef {
  const home = toNodeId(r.str16(32, "home"));
  return { home, groupId: r.raw(GROUP_ID_BYTES, "group id") };
}

function writeNames(w: ByteWriter, names: readonly string[]): ByteWriter {
  if (names.length > MAX_GROUP_NAMES) throw new RangeError("Cannot encode group: too many names");
  w.u16(names.length);
  for (const n of names) w.str16(n);
  return w;
}

function readNames(r: ByteReader, parse: (s: string) => string, min: number): string[] {
  const n = r.u16("count");
  if (n < min || n > MAX_GROUP_NAMES) throw new CodecError("name count out of range");
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(parse(r.str16(MAX_ADDRESS, "name")));
  if (new Set(out).size !== out.length) throw new CodecError("a name is listed twice");
  return out;
}

function writeInvitations(w: ByteWriter, list: readonly InvitationEntry[]): ByteWriter {
  if (list.length > MAX_GROUP_NAMES) throw new RangeError("Cannot encode: too many invitations");
  w.u16(list.length);
  for (const i of list) w.str16(i.invitee).bytes32(i.invitation);
  return w;
}

function readInvitations(r: ByteReader, parse: (s: string) => string): InvitationEntry[] {
  const n = r.u16("invitations");
  if (n > MAX_GROUP_NAMES) throw new CodecError("too many invitations");
  const out: InvitationEntry[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      invitee: parse(r.str16(MAX_ADDRESS, "invitee")),
      invitation: r.bytes32(MAX_INVITATION_BYTES, "invitation"),
    });
  }
  return out;
}

/** Runs a decoder, turning what the wire got wrong into a CodecError naming `what`. */
function decoding<T>(what: string, bytes: Uint8Array, fn: (r: ByteReader) => T): T {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_ENVELOPE_BODY) {
    throw new CodecError(`Cannot decode ${what}: too large`);
  }
  try {
    const r = new ByteReader(bytes, what);
    const version = r.u8("version");
    if (version !== VERSION) throw new CodecError(`unknown version "${version}"`);
    const out = fn(r);
    r.end();
    return out;
  } catch (e) {
    if (e instanceof CodecError || e instanceof RangeError || e instanceof TypeError) {
      throw new CodecError(`Cannot decode ${what}: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/** Encodes a `group` envelope body. */
export function encodeGroupDelivery(d: GroupDelivery): Uint8Array {
  const w = writeRef(new ByteWriter(64 + d.message.length).u8(VERSION), d);
  return writeNames(w, d.names).bytes32(d.message).finish();
}

/** Decodes a `group` envelope body. @throws {CodecError} */
export function decodeGroupDelivery(bytes: Uint8Array): GroupDelivery {
  return decoding("group delivery", bytes, (r) => {
    const ref = readRef(r);
    const names = readNames(r, toUserName, 1);
    return { ...ref, names, message: r.bytes32(MAX_ENVELOPE_BODY, "message") };
  });
}

/** Encodes a `groupHub` envelope body. */
export function encodeHubSubmission(s: HubSubmission): Uint8Array {
  const w = writeRef(new ByteWriter().u8(VERSION), s).u8(SUBMISSION_OPS.indexOf(s.op) + 1)
    .u64(s.epoch);
  switch (s.op) {
    case "create":
      return w.bytes32(s.hubInfo).finish();
    case "commit":
      w.bytes32(s.commit).bytes32(s.hubInfo).bytes32(s.welcome ?? new Uint8Array(0));
      return writeInvitations(w, s.invitations).finish();
    case "proposal":
      return w.bytes32(s.proposal).finish();
    case "decline":
      return w.finish();
  }
}

/** Decodes a `groupHub` envelope body. @throws {CodecError} */
export function decodeHubSubmission(bytes: Uint8Array): HubSubmission {
  return decoding("hub submission", bytes, (r) => {
    const ref = readRef(r);
    const op = SUBMISSION_OPS[r.u8("op") - 1];
    if (!op) throw new CodecError("unknown op");
    const epoch = r.u64("epoch");
    const max = MAX_ENVELOPE_BODY;
    switch (op) {
      case "create":
        return { ...ref, epoch, op, hubInfo: r.bytes32(max, "hub info") };
      case "commit": {
        const commit = r.bytes32(max, "commit");
        const hubInfo = r.bytes32(max, "hub info");
        const welcome = r.bytes32(max, "welcome");
        const invitations = readInvitations(r, toAddress);
        if ((welcome.length === 0) !== (invitations.length === 0)) {
          throw new CodecError("a welcome goes with invitations");
        }
        return {
          ...ref,
          epoch,
          op,
          commit,
          hubInfo,
          welcome: welcome.length ? welcome : null,
          invitations,
        };
      }
      case "proposal":
        return { ...ref, epoch, op, proposal: r.bytes32(max, "proposal") };
      case "decline":
        return { ...ref, epoch, op };
    }
  });
}

/** Encodes a `groupFanout` envelope body. */
export function encodeHubFanout(f: HubFanout): Uint8Array {
  const w = writeRef(new ByteWriter().u8(VERSION), f).u64(f.epoch).u8(FANOUT_OPS.indexOf(f.op) + 1);
  writeNames(w, f.members);
  writeNames(w, f.recipients).str16(f.actor);
  switch (f.op) {
    case "commit":
      return w.bytes32(f.commit).finish();
    case "proposal":
      return w.bytes32(f.proposal).finish();
    case "invite":
      return writeInvitations(w.bytes32(f.welcome), f.invitations).finish();
    case "declined":
      return w.finish();
  }
}

/** Decodes a `groupFanout` envelope body. @throws {CodecError} */
export function decodeHubFanout(bytes: Uint8Array): HubFanout {
  return decoding("hub fan-out", bytes, (r) => {
    const ref = readRef(r);
    const epoch = r.u64("epoch");
    const op = FANOUT_OPS[r.u8("op") - 1];
    if (!op) throw new CodecError("unknown op");
    const members = readNames(r, toAddress, 1);
    const recipients = readNames(r, toUserName, 1);
    const actor = toAddress(r.str16(MAX_ADDRESS, "actor"));
    const head = { ...ref, epoch, members, recipients, actor };
    const max = MAX_ENVELOPE_BODY;
    switch (op) {
      case "commit":
        return { ...head, op, commit: r.bytes32(max, "commit") };
      case "proposal":
        return { ...head, op, proposal: r.bytes32(max, "proposal") };
      case "invite": {
        const welcome = r.bytes32(max, "welcome");
        const invitations = readInvitations(r, toUserName);
        if (welcome.length === 0 || invitations.length === 0) {
          throw new CodecError("an invite carries a welcome and invitations");
        }
        return { ...head, op, welcome, invitations };
      }
      case "declined":
        return { ...head, op };
    }
  });
}

/** Answers of a key package request. */
export type KeyPackageStatus = "ok" | "none" | "no-such-user" | "busy";
const KP_STATUS: readonly KeyPackageStatus[] = ["ok", "none", "no-such-user", "busy"];

/** Encodes a `keyPackageRequest` body. */
export function encodeKeyPackageRequest(user: string): Uint8Array {
  return new ByteWriter().u8(VERSION).str16(user).finish();
}

/** Decodes a `keyPackageRequest` body. @throws {CodecError} */
export function decodeKeyPackageRequest(bytes: Uint8Array): string {
  return decoding("key package request", bytes, (r) => toUserName(r.str16(32, "user")));
}

/** Encodes a `keyPackageReply` body. */
export function encodeKeyPackageReply(
  r: { status: KeyPackageStatus; keyPackage?: Uint8Array },
): Uint8Array {
  return new ByteWriter().u8(VERSION).u8(KP_STATUS.indexOf(r.status))
    .bytes32(r.keyPackage ?? new Uint8Array(0)).finish();
}

/** Decodes a `keyPackageReply` body. @throws {CodecError} */
export function decodeKeyPackageReply(
  bytes: Uint8Array,
): { status: KeyPackageStatus; keyPackage: Uint8Array | null } {
  return decoding("key package reply", bytes, (r) => {
    const status = KP_STATUS[r.u8("status")];
    if (!status) throw new CodecError("unknown status");
    const kp = r.bytes32(MAX_KEY_PACKAGE_BYTES, "key package");
    if ((status === "ok") !== (kp.length > 0)) throw new CodecError("status and package disagree");
    return { status, keyPackage: kp.length ? kp : null };
  });
}

/** Encodes a list of key packages (client protocol `keyPackages` payload). */
export function encodeKeyPackageList(list: readonly Uint8Array[]): Uint8Array {
  const w = new ByteWriter().u8(VERSION).u16(list.length);
  for (const kp of list) w.bytes32(kp);
  return w.finish();
}

/** Decodes a list of key packages (at most `max`). @throws {CodecError} */
export function decodeKeyPackageList(bytes: Uint8Array, max = 64): Uint8Array[] {
  return decoding("key package list", bytes, (r) => {
    const n = r.u16("count");
    if (n > max) throw new CodecError("too many key packages");
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) out.push(r.bytes32(MAX_KEY_PACKAGE_BYTES, "key package"));
    return out;
  });
}

/** Parses a group key (`hex@home`) back. @throws {RangeError} */
export function parseGroupKey(key: string): GroupRef {
  const m = /^([0-9a-f]{32})@(.+)$/.exec(key);
  if (!m) throw new RangeError(`Cannot parse group ${JSON.stringify(key)}`);
  return { groupId: Uint8Array.fromHex(m[1]), home: toNodeId(m[2]) };
}
