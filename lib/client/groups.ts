/**
 * Group chats over MLS (docs/PROTOCOL.md §14): what the client core's group
 * commands do, what arriving group envelopes do, and how groups look to
 * views. The state transitions are group_engine.ts's; the rules (admins,
 * invitations, order) group_rules.ts's; key packages group_key_packages.ts's.
 *
 * Invitations are requests: an invitation waits in its own list beside chat
 * requests, its Welcome unopened, until the user accepts (join) or declines
 * (the home node tells the members, and an admin removes us from the tree).
 */
import type { Clock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import { type Address, splitAddress, toAddress } from "../ids.ts";
import type { Logger } from "../log.ts";
import {
  decodeGroupDelivery,
  decodeHubFanout,
  type Envelope,
  groupKey,
  type HubFanout,
} from "../protocol/mod.ts";
import {
  type ClientEvent,
  type FileTransfer,
  type GroupInvitationView,
  type GroupMemberView,
  type GroupMessage,
  type GroupView,
  MAX_MESSAGE_CHARS,
} from "./api.ts";
import type { ClientStore } from "./client_store.ts";
import { acceptedState, type GroupContext, hubEnvelope } from "./_group_context.ts";
import type { GroupMessageRow, GroupRow, InvitationRow } from "./_group_tables.ts";
import { safetyNumberWith } from "./contact_views.ts";
import { ChatStateError } from "./errors.ts";
import { GroupEngine, groupView, messageView } from "./group_engine.ts";
import { readInvitation, welcomeHash } from "./group_invitation.ts";
import { GroupKeyPackages } from "./group_key_packages.ts";
import type { GroupFileInner, GroupInner } from "./group_payload.ts";
import type { FileInner } from "./payload.ts";
import { INVITATION_LIMITS, judgeInvitation } from "./group_rules.ts";
import { identityFingerprint } from "./identity_fingerprint.ts";
import { NO_STEP, type Step } from "./inbox.ts";
import type { NodeConnection } from "./node_connection.ts";
import type { TurnCommit } from "./turn_commit.ts";

/** Most groups a client is in (`groups_per_user` at its node bounds it too). */
export const MAX_GROUPS = 500;
/** How long a command waits for the home node before it answers with the change pending. */
const WAIT_MS = 30_000;

/** Options of {@linkcode Groups}. */
export interface GroupsOptions {
  self: Address;
  identity: e2e.IdentityKeyPair;
  store: ClientStore;
  connection: NodeConnection;
  clock: Clock;
  log: Logger;
  lifetimeMs: number;
  /** This turn's transaction (lib/client/turn_commit.ts). */
  turn: TurnCommit;
  /** The client's one queue (`Sessions.exclusive`). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  emit(event: ClientEvent): void;
  /** The file transfers: a group file message for us goes to them. */
  files: {
    receive(peer: string, inner: FileInner): { write(): void; after(): void };
    offer(
      peer: string,
      file: { path: string; name?: string; type?: string },
      options: { via?: string },
    ): Promise<FileTransfer>;
  };
}

const hex16 = () => crypto.getRandomValues(new Uint8Array(16)).toHex();

/** The client's groups. */
export class Groups {
  #o: GroupsOptions;
  #ctx: GroupContext;
  #engine: GroupEngine;
  #keyPackages: GroupKeyPackages;

  constructor(o: GroupsOptions) {
    this.#o = o;
    this.#ctx = {
      self: o.self,
      identity: o.identity,
      store: o.store,
      connection: o.connection,
      clock: o.clock,
      log: o.log,
      lifetimeMs: o.lifetimeMs,
      emit: o.emit,
      turn: o.turn,
      states: new Map(),
    };
    this.#engine = new GroupEngine(
      this.#ctx,
      (g, sender, inner) => this.#content(g, sender, inner),
      (key) => void o.exclusive(() => this.#engine.drain(key)).catch((e) => this.#failed(e)),
    );
    this.#keyPackages = new GroupKeyPackages(this.#ctx);
    // A state decoded from a row the rolled-back turn wrote is forgotten with it.
    o.store.onRollback(() => this.#ctx.states.clear());
  }

  stop(): void {
    this.#engine.stop();
  }

  #failed(e: unknown): void {
    this.#o.log.warn("group work failed", { why: String(e) });
  }

  // --- the node -------------------------------------------------------------------------------

  /** After (re)connecting: our standing at the node, unsent envelopes, due changes. */
  onConnected(): void {
    const { store, connection } = this.#ctx;
    for (const g of store.groups.list()) {
      connection.send({
        type: "groupPolicy",
        group: g.key,
        state: g.state === "active" ? "joined" : "none",
      });
    }
    void this.#o.exclusive(async () => {
      for (const o of store.groups.outgoing()) {
        if (o.kind === "hub") await this.#engine.submitHub(o.key, o.envelopeId, o.envelope);
        else await this.#engine.submitApp([{ id: o.envelopeId, bytes: o.envelope }]);
      }
      for (const g of store.groups.list()) {
        if (g.state === "active") await this.#engine.drain(g.key);
      }
    }).catch((e) => this.#failed(e));
  }

  /** The node has `count` of our one-time key packages left. */
  onKeyPackages(count: number, lastResort: boolean): void {
    void this.#o.exclusive(() => this.#keyPackages.onCount(count, lastResort)).catch((e) =>
      this.#failed(e)
    );
  }

  // --- views ----------------------------------------------------------------------------------

  list(): GroupView[] {
    return this.#ctx.store.groups.list().map((g) => groupView(this.#ctx, g));
  }

  async invitations(): Promise<GroupInvitationView[]> {
    return await Promise.all(
      this.#waiting().map((i) => this.#invitationView(i)),
    );
  }

  /** Invitations waiting for an answer (those past INVITATION_LIMITS.waitMs have expired). */
  #waiting(): InvitationRow[] {
    return this.#ctx.store.groups.invitations(this.#invitationsSince());
  }

  #invitationsSince(): number {
    return this.#ctx.clock.nowMs() - INVITATION_LIMITS.waitMs;
  }

  async #invitationView(i: InvitationRow): Promise<GroupInvitationView> {
    const parsed = await readInvitation(i.invitation);
    return {
      group: i.key,
      name: i.name,
      inviter: i.inviter,
      fingerprint: (await identityFingerprint(parsed.inviterIdentity)).short,
      members: i.members,
      receivedAtMs: i.receivedAtMs,
    };
  }

  /**
   * The group `text` names: its id (`hex@home`), its hex group id or a prefix of
   * it (at least 6 characters), or its name when only one group has it.
   *
   * @throws {ChatStateError} no such group, or a name several groups share
   */
  #find<T extends { key: string; name: string }>(rows: T[], text: string): T {
    const byId = rows.filter((r) =>
      r.key === text || (text.length >= 6 && /^[0-9a-f]+$/.test(text) && r.key.startsWith(text))
    );
    if (byId.length === 1) return byId[0];
    const byName = rows.filter((r) => r.name === text);
    if (byName.length === 1) return byName[0];
    if (byName.length > 1 || byId.length > 1) {
      throw new ChatStateError(
        `Cannot tell which group "${text}" is: ${
          [...byName, ...byId].map((r) => r.key).join(", ")
        }; give its id`,
      );
    }
    throw new ChatStateError(`Cannot find a group "${text}"; see \`groups\``);
  }

  #group(text: string, active = true): GroupRow {
    const rows = this.#ctx.store.groups.list();
    const g = this.#find(active ? rows.filter((r) => r.state === "active") : rows, text);
    return g;
  }

  async members(text: string): Promise<GroupMemberView[]> {
    const g = this.#group(text);
    const state = acceptedState(this.#ctx, g);
    const self = this.#ctx.self;
    const out: GroupMemberView[] = [];
    for (const m of state.members) {
      const identity = e2e.encodePublicIdentity(m.identity);
      const contact = this.#ctx.store.contact(m.address);
      out.push({
        address: m.address,
        fingerprint: (await identityFingerprint(m.identity)).short,
        safetyNumber: m.address === self ? "" : safetyNumberWith({
          self,
          selfIdentity: this.#ctx.identity.publicIdentity,
          peer: m.address,
          identity,
        }).digits,
        admin: g.admins.includes(m.address),
        self: m.address === self,
        joined: m.address === self || g.joined.includes(m.address),
        pinned: contact?.identity
          ? (e2e.constantTimeEqual(contact.identity, identity) ? "same" : "different")
          : null,
      });
    }
    return out;
  }

  history(text: string, limit: number): GroupMessage[] {
    const g = this.#group(text, false);
    const reads = this.#ctx.store.groups.reads(g.key);
    return this.#ctx.store.groups.history(g.key, limit).map((m) => messageView(m, reads));
  }

  // --- commands -------------------------------------------------------------------------------

  async create(name: string): Promise<GroupView> {
    e2e.checkGroupAddress(this.#ctx.self);
    if (typeof name !== "string" || name.trim().length === 0) {
      throw new RangeError("Cannot create a group: give it a name");
    }
    const ctx = this.#ctx;
    return await this.#o.exclusive(async () => {
      if (ctx.store.groups.count() >= MAX_GROUPS) {
        throw new ChatStateError(`Cannot create a group: you are in ${MAX_GROUPS} already`);
      }
      const home = splitAddress(ctx.self).node;
      const state = await e2e.createGroup({
        identity: ctx.identity,
        address: ctx.self,
        name,
        homeNode: home,
        nowMs: ctx.clock.nowMs(),
      });
      const key = groupKey({ home, groupId: state.groupId });
      const env = hubEnvelope(ctx, {
        home,
        groupId: state.groupId,
        epoch: 0,
        op: "create",
        hubInfo: await e2e.createGroupHubInfo(state),
      });
      const now = ctx.clock.nowMs();
      const g: GroupRow = {
        key,
        name: state.name,
        home,
        state: "active",
        mls: e2e.encodeGroupState(state),
        epoch: 0,
        admins: [ctx.self],
        joined: [ctx.self],
        leaving: [],
        declined: [],
        pending: { what: "create", op: "create", envelopeId: env.id, epoch: 0, intent: null },
        pendingState: null,
        intents: [],
        outSeq: 0,
        unread: 0,
        lastMessageAtMs: null,
        createdAtMs: now,
      };
      await ctx.turn.write(() => {
        ctx.store.groups.put(g);
        ctx.store.groups.putOutgoing({
          envelopeId: env.id,
          key,
          messageId: null,
          kind: "hub",
          names: [],
          envelope: env.bytes,
          madeAtMs: now,
        });
      });
      ctx.states.set(key, state);
      await this.#engine.submitHub(key, env.id, env.bytes);
      const after = ctx.store.groups.group(key)!;
      if (after.state !== "active") {
        throw new ChatStateError("Cannot create the group: this node refused it");
      }
      return groupView(ctx, after);
    });
  }

  /** Starts an intent and waits (bounded) for the home node to take it. */
  async #change(g: GroupRow, intent: Parameters<GroupEngine["intend"]>[1]): Promise<GroupView> {
    const done = this.#engine.wait(intent.id, WAIT_MS);
    await this.#o.exclusive(() => this.#engine.intend(g.key, intent));
    await done;
    return groupView(this.#ctx, this.#ctx.store.groups.group(g.key)!);
  }

  #needAdmin(g: GroupRow, what: string): void {
    if (!g.admins.includes(this.#ctx.self)) {
      throw new ChatStateError(`Cannot ${what}: only an admin may (${g.admins.join(", ")})`);
    }
  }

  /** Invites one or several people in one commit (one Welcome, one invitation each). */
  async invite(text: string, addressTexts: string | readonly string[]): Promise<GroupView> {
    const addresses = [
      ...new Set((typeof addressTexts === "string" ? [addressTexts] : addressTexts)
        .map((a) => toAddress(a))),
    ];
    if (addresses.length === 0) throw new RangeError("Cannot invite: give an address");
    const g = this.#group(text);
    this.#needAdmin(g, "invite");
    const state = acceptedState(this.#ctx, g);
    if (state.members.length + addresses.length > e2e.MAX_GROUP_MEMBERS) {
      throw new ChatStateError(
        `Cannot invite: a group has at most ${e2e.MAX_GROUP_MEMBERS} members`,
      );
    }
    const keyPackages: string[] = [];
    for (const address of addresses) {
      if (address === this.#ctx.self) throw new ChatStateError("Cannot invite yourself");
      if (state.members.some((m) => m.address === address)) {
        throw new ChatStateError(`Cannot invite ${address}: already in the group`);
      }
      const bytes = await this.#ctx.connection.fetchKeyPackage(address);
      const kp = await e2e.readGroupKeyPackage(bytes, { nowMs: this.#ctx.clock.nowMs(), address });
      // A key pinned by a 1:1 chat must be the one the key package carries.
      const contact = this.#ctx.store.contact(address);
      if (
        contact?.identity &&
        !e2e.constantTimeEqual(contact.identity, e2e.encodePublicIdentity(kp.identity))
      ) {
        throw new ChatStateError(
          `Cannot invite ${address}: their key package carries another key than your chat ` +
            "pinned; compare safety numbers first",
        );
      }
      keyPackages.push(bytes.toBase64());
    }
    return await this.#change(g, { id: hex16(), attempts: 0, op: "add", addresses, keyPackages });
  }

  async remove(text: string, addressText: string): Promise<GroupView> {
    const address = toAddress(addressText);
    const g = this.#group(text);
    this.#needAdmin(g, "remove members");
    if (address === this.#ctx.self) {
      throw new ChatStateError("Cannot remove yourself: leave instead");
    }
    if (!acceptedState(this.#ctx, g).members.some((m) => m.address === address)) {
      throw new ChatStateError(`Cannot remove ${address}: not in the group`);
    }
    return await this.#change(g, { id: hex16(), attempts: 0, op: "remove", address });
  }

  async rename(text: string, name: string): Promise<GroupView> {
    const g = this.#group(text);
    this.#needAdmin(g, "rename the group");
    if (typeof name !== "string" || name.trim().length === 0) {
      throw new RangeError("Cannot rename: give a name");
    }
    return await this.#change(g, { id: hex16(), attempts: 0, op: "rename", name });
  }

  async leave(text: string): Promise<void> {
    const g = this.#group(text);
    if (g.intents.some((i) => i.op === "leave")) return;
    if (acceptedState(this.#ctx, g).members.length === 1) {
      // Alone: nobody to commit it; the group simply ends here.
      await this.#o.exclusive(() => {
        const now = this.#ctx.store.groups.group(g.key)!;
        this.#ctx.store.groups.put({ ...now, state: "left", mls: null, intents: [] });
        this.#ctx.states.delete(g.key);
        this.#ctx.connection.send({ type: "groupPolicy", group: g.key, state: "none" });
        return Promise.resolve();
      });
      this.#emitGroup(g.key);
      return;
    }
    await this.#change(g, { id: hex16(), attempts: 0, op: "leave", proposedAt: null });
  }

  #emitGroup(key: string): void {
    const g = this.#ctx.store.groups.group(key);
    if (g) this.#o.emit({ kind: "group", group: groupView(this.#ctx, g) });
  }

  async accept(text: string): Promise<GroupView> {
    const ctx = this.#ctx;
    const key = await this.#o.exclusive(async () => {
      const inv = this.#find(this.#waiting(), text);
      const parsed = await readInvitation(inv.invitation);
      let joined: e2e.JoinedGroup;
      try {
        joined = await e2e.joinGroup({
          welcome: inv.welcome,
          keyPackageSecrets: this.#keyPackages.secrets(),
        });
      } catch (e) {
        throw new ChatStateError(
          `Cannot join "${inv.name}": its welcome does not open (${(e as Error).message})`,
          { cause: e },
        );
      }
      const s = joined.state;
      const inviter = s.members.find((m) => m.address === parsed.inviter);
      if (
        s.groupId.toHex() !== inv.key.slice(0, 32) || s.homeNode !== parsed.home ||
        s.self?.address !== ctx.self || !inviter ||
        !e2e.constantTimeEqual(inviter.identity.signingKey, parsed.inviterIdentity.signingKey)
      ) {
        throw new ChatStateError(
          `Cannot join "${inv.name}": the welcome and the invitation disagree`,
        );
      }
      const now = ctx.clock.nowMs();
      const existing = ctx.store.groups.group(inv.key);
      const g: GroupRow = {
        key: inv.key,
        name: s.name,
        home: s.homeNode,
        state: "active",
        mls: e2e.encodeGroupState(s),
        epoch: s.epoch,
        admins: parsed.admins,
        joined: [...new Set([...parsed.joined, ctx.self])],
        leaving: [],
        declined: [],
        pending: null,
        pendingState: null,
        intents: [],
        outSeq: existing?.outSeq ?? 0,
        unread: 0,
        lastMessageAtMs: now,
        createdAtMs: existing?.createdAtMs ?? now,
      };
      const row = this.#engine.eventRow(g, `you joined (invited by ${parsed.inviter})`);
      await ctx.turn.write(() => {
        ctx.store.groups.put(g);
        ctx.store.groups.deleteInvitation(inv.key);
        ctx.store.groups.putMessage(row);
        this.#keyPackages.used(joined.keyPackageRef, joined.lastResort);
      });
      ctx.states.set(inv.key, s);
      ctx.connection.send({ type: "groupPolicy", group: inv.key, state: "joined" });
      await this.#engine.drain(inv.key);
      // Members learn we joined (the node lets our messages through only now).
      const latest = ctx.store.groups.group(inv.key)!;
      if (latest.state === "active") {
        const envs = await this.#engine.seal(latest, { t: "joined" });
        if (envs) void this.#engine.submitApp(envs);
      }
      return inv.key;
    });
    this.#emitGroup(key);
    return groupView(ctx, ctx.store.groups.group(key)!);
  }

  async decline(text: string): Promise<void> {
    const ctx = this.#ctx;
    await this.#o.exclusive(async () => {
      const inv = this.#find(this.#waiting(), text);
      const parsed = await readInvitation(inv.invitation);
      const env = hubEnvelope(ctx, {
        home: parsed.home,
        groupId: parsed.groupId,
        epoch: parsed.epoch,
        op: "decline",
      });
      await ctx.turn.write(() => {
        ctx.store.groups.deleteInvitation(inv.key);
        ctx.store.groups.dropHeld(inv.key);
        ctx.store.groups.putOutgoing({
          envelopeId: env.id,
          key: inv.key,
          messageId: null,
          kind: "hub",
          names: [],
          envelope: env.bytes,
          madeAtMs: ctx.clock.nowMs(),
        });
      });
      ctx.connection.send({ type: "groupPolicy", group: inv.key, state: "none" });
      await this.#engine.submitHub(inv.key, env.id, env.bytes);
    });
  }

  async send(text: string, body: string): Promise<GroupMessage> {
    if (typeof body !== "string" || body.length === 0 || body.length > MAX_MESSAGE_CHARS) {
      throw new RangeError(
        `Cannot send: a message is 1 to ${MAX_MESSAGE_CHARS.toLocaleString("en")} characters`,
      );
    }
    const ctx = this.#ctx;
    const { row, envs } = await this.#o.exclusive(async () => {
      const g = this.#group(text);
      const seq = g.outSeq + 1;
      const now = ctx.clock.nowMs();
      const row: GroupMessageRow = {
        id: hex16(),
        key: g.key,
        sender: ctx.self,
        direction: "out",
        kind: "text",
        seq,
        text: body,
        sentAtMs: now,
        receivedAtMs: null,
        state: "sending",
        reason: null,
        delivery: {},
        queued: false,
      };
      const update = (x: GroupRow) => ({ ...x, outSeq: seq, lastMessageAtMs: now });
      const envs = await this.#engine.seal(g, { t: "text", id: row.id, seq, at: now, text: body }, {
        messageId: row.id,
        update,
        write: (recipients) => {
          row.delivery = Object.fromEntries(recipients.map((a) => [a, "sending"]));
          if (recipients.length === 0) row.state = "delivered";
          ctx.store.groups.putMessage(row);
        },
      });
      if (envs === null) {
        // A member's leaving waits for its commit (RFC 9420 §12.2): sent right after it.
        row.queued = true;
        await ctx.turn.write(() => {
          ctx.store.groups.put(update(ctx.store.groups.group(g.key)!));
          ctx.store.groups.putMessage(row);
        });
      }
      return { row, envs };
    });
    const reads = ctx.store.groups.reads(row.key);
    this.#o.emit({ kind: "groupMessage", message: messageView(row, reads) });
    if (envs && envs.length > 0) {
      await this.#o.exclusive(() => this.#engine.submitApp(envs));
    }
    const now = ctx.store.groups.message(row.id) ?? row;
    return messageView(now, ctx.store.groups.reads(row.key));
  }

  async markRead(text: string): Promise<void> {
    const ctx = this.#ctx;
    const envs = await this.#o.exclusive(async () => {
      const g = this.#group(text, false);
      if (g.unread === 0) return null;
      const upTo = ctx.store.groups.lastInSeqs(g.key);
      const clear = (x: GroupRow) => ({ ...x, unread: 0 });
      if (g.state !== "active" || Object.keys(upTo).length === 0) {
        ctx.store.groups.put(clear(g));
        return null;
      }
      const envs = await this.#engine.seal(g, { t: "read", upTo }, { update: clear });
      if (envs === null) ctx.store.groups.put(clear(ctx.store.groups.group(g.key)!));
      return envs;
    });
    if (envs && envs.length > 0) await this.#o.exclusive(() => this.#engine.submitApp(envs));
  }

  // --- what arrives ---------------------------------------------------------------------------

  /** A group envelope from the inbox (in the client's queue). */
  async receive(e: Envelope, inboxId: string): Promise<Step> {
    if (e.kind === "group") {
      const d = decodeGroupDelivery(e.body);
      if (!d.names.includes(splitAddress(this.#ctx.self).name)) return NO_STEP;
      const g = this.#ctx.store.groups.group(groupKey(d));
      if (!g) return NO_STEP;
      return await this.#applied(g, {
        id: inboxId,
        kind: "application",
        sender: e.from,
        bytes: d.message,
      });
    }
    if (e.kind !== "groupFanout") return NO_STEP;
    const f = decodeHubFanout(e.body);
    if (e.from !== f.home) throw new TypeError("Cannot take a fan-out: not from the group's home");
    if (!f.recipients.includes(splitAddress(this.#ctx.self).name)) return NO_STEP;
    const key = groupKey(f);
    switch (f.op) {
      case "invite":
        return await this.#invitation(f, key);
      case "declined":
        return this.#declined(f, key);
      case "commit":
      case "proposal": {
        const bytes = f.op === "commit" ? f.commit : f.proposal;
        const m = { id: inboxId, kind: f.op, sender: f.actor, bytes } as const;
        const g = this.#ctx.store.groups.group(key);
        if (!g || g.state !== "active") {
          // Before we answer an invitation: kept, applied after the Welcome if we accept.
          if (this.#ctx.store.groups.invitation(key)) {
            return { write: () => this.#engine.hold(key, m) };
          }
          return NO_STEP;
        }
        return await this.#applied(g, m);
      }
    }
  }

  async #applied(g: GroupRow, m: Parameters<GroupEngine["apply"]>[1]): Promise<Step> {
    const a = await this.#engine.apply(g, m);
    if (a.kind === "drop") {
      this.#o.log.info("dropped a group message", { group: g.key, kind: m.kind, why: a.why });
      return NO_STEP;
    }
    // Applied before the next item is judged: it reads the group's new state and held messages.
    return {
      write: () => a.write(),
      after: async () => {
        await a.after();
        if (a.kind === "done") await this.#engine.drain(g.key);
      },
      inQueue: true,
    };
  }

  async #invitation(f: Extract<HubFanout, { op: "invite" }>, key: string): Promise<Step> {
    const ctx = this.#ctx;
    const mine = f.invitations.find((i) =>
      `${i.invitee}@${splitAddress(ctx.self).node}` === ctx.self
    );
    if (!mine) return NO_STEP;
    const inv = await readInvitation(mine.invitation);
    const g = ctx.store.groups.group(key);
    const contact = ctx.store.contact(inv.inviter);
    const verdict = judgeInvitation({
      self: ctx.self,
      invitee: inv.invitee,
      inviter: inv.inviter,
      home: inv.home,
      groupIdHex: inv.groupId.toHex(),
      admins: inv.admins,
      createdAtMs: inv.createdAtMs,
      welcomeHashMatches: e2e.constantTimeEqual(await welcomeHash(f.welcome), inv.welcomeHash),
      fanout: { home: f.home, groupIdHex: f.groupId.toHex(), actor: f.actor },
      nowMs: ctx.clock.nowMs(),
      known: g?.state === "active" ||
        (ctx.store.groups.invitation(key)?.receivedAtMs ?? -Infinity) >= this.#invitationsSince(),
      blocked: contact?.state === "blocked" || contact?.state === "rejected",
      waiting: ctx.store.groups.invitationCounts(inv.inviter, this.#invitationsSince()),
      groups: { count: ctx.store.groups.count(), max: MAX_GROUPS },
    });
    if (verdict.kind === "drop") {
      ctx.log.info("dropped a group invitation", { from: inv.inviter, why: verdict.why });
      return NO_STEP;
    }
    const row: InvitationRow = {
      key,
      inviter: inv.inviter,
      name: inv.name,
      invitation: inv.bytes,
      welcome: f.welcome,
      members: f.members.length,
      receivedAtMs: ctx.clock.nowMs(),
    };
    return {
      write: () => {
        // Expired ones go with the next one kept: the table holds the caps' worth and no more.
        ctx.store.groups.expireInvitations(row.receivedAtMs - INVITATION_LIMITS.waitMs);
        ctx.store.groups.putInvitation(row);
      },
      after: async () => {
        this.#o.emit({ kind: "invitation", invitation: await this.#invitationView(row) });
      },
    };
  }

  #declined(f: HubFanout, key: string): Step {
    const ctx = this.#ctx;
    const g = ctx.store.groups.group(key);
    if (!g || g.state !== "active") return NO_STEP;
    const state = acceptedState(ctx, g);
    if (!state.members.some((m) => m.address === f.actor)) return NO_STEP;
    const row = this.#engine.eventRow(g, `${f.actor} declined the invitation`, f.actor);
    // The first admin still in the group removes the invitee who declined.
    const admin = g.admins.find((a) => state.members.some((m) => m.address === a));
    const remove = admin === ctx.self &&
      !g.intents.some((i) => i.op === "remove" && i.address === f.actor);
    const next = {
      ...g,
      declined: [...new Set([...g.declined, f.actor])],
      intents: remove
        ? [...g.intents, { id: hex16(), attempts: 0, op: "remove" as const, address: f.actor }]
        : g.intents,
    };
    return {
      write: () => {
        ctx.store.groups.put(next);
        ctx.store.groups.putMessage(row);
      },
      after: async () => {
        this.#o.emit({ kind: "groupMessage", message: messageView(row, {}) });
        await this.#engine.drain(key);
      },
      inQueue: true,
    };
  }

  /** What an application message's content does to group `g` (written with its new state). */
  #content(g: GroupRow, sender: string, inner: GroupInner) {
    const ctx = this.#ctx;
    const now = ctx.clock.nowMs();
    const keep = { write: (x: GroupRow) => x, after: () => {} };
    switch (inner.t) {
      case "text": {
        if (ctx.store.groups.message(inner.id)) return keep; // ids are random: a replay
        const row: GroupMessageRow = {
          id: inner.id,
          key: g.key,
          sender,
          direction: "in",
          kind: "text",
          seq: inner.seq,
          text: inner.text,
          sentAtMs: inner.at,
          receivedAtMs: now,
          state: "delivered",
          reason: null,
          delivery: {},
          queued: false,
        };
        return {
          write: (x: GroupRow) => {
            ctx.store.groups.putMessage(row);
            return {
              ...x,
              unread: x.unread + 1,
              lastMessageAtMs: now,
              joined: x.joined.includes(sender) ? x.joined : [...x.joined, sender],
            };
          },
          after: () => {
            this.#o.emit({ kind: "groupMessage", message: messageView(row, {}) });
            this.#emitGroup(g.key);
          },
        };
      }
      case "read": {
        const upTo = inner.upTo[ctx.self];
        if (upTo === undefined) return keep;
        const before = ctx.store.groups.reads(g.key)[sender] ?? 0;
        return {
          write: (x: GroupRow) => {
            ctx.store.groups.setRead(g.key, sender, upTo);
            return x;
          },
          after: () => {
            if (upTo <= before) return;
            const reads = ctx.store.groups.reads(g.key);
            for (const m of ctx.store.groups.history(g.key, 500)) {
              if (m.direction !== "out" || m.kind !== "text" || m.seq <= before || m.seq > upTo) {
                continue;
              }
              const v = messageView(m, reads);
              this.#o.emit({
                kind: "groupState",
                group: g.key,
                id: m.id,
                state: v.state,
                delivery: v.delivery!,
              });
            }
          },
        };
      }
      case "joined": {
        if (g.joined.includes(sender)) return keep;
        const row = this.#engine.eventRow(g, `${sender} joined`, sender);
        return {
          write: (x: GroupRow) => {
            ctx.store.groups.putMessage(row);
            return { ...x, joined: [...x.joined, sender] };
          },
          after: () => {
            this.#o.emit({ kind: "groupMessage", message: messageView(row, {}) });
            this.#emitGroup(g.key);
          },
        };
      }
      default:
        return this.#fileMessage(g, sender, inner);
    }
  }

  /**
   * A file message through the group: an offer to us (its key inside, under MLS), or a
   * transfer's answer; the file transfers decide, as for a 1:1 chat (PROTOCOL.md §14).
   */
  #fileMessage(g: GroupRow, sender: string, inner: GroupFileInner) {
    const ctx = this.#ctx;
    const keep = { write: (x: GroupRow) => x, after: () => {} };
    if (inner.to !== ctx.self) return keep; // another member's transfer
    const { to: _, ...message } = inner;
    const route = ctx.store.groups.fileRoute(inner.id);
    if (message.t === "file-offer") {
      if (route) return keep; // ids are random: a replay
    } else if (!route || route.key !== g.key || route.peer !== sender) return keep;
    const step = this.#o.files.receive(sender, message);
    const row = message.t === "file-offer"
      ? this.#engine.eventRow(
        g,
        `${sender} offered a file: "${message.name}" (${message.size} bytes)`,
        sender,
      )
      : null;
    return {
      write: (x: GroupRow) => {
        if (message.t === "file-offer") ctx.store.groups.putFileRoute(inner.id, g.key, sender);
        if (row) ctx.store.groups.putMessage(row);
        step.write();
        return x;
      },
      after: () => {
        step.after();
        if (row) this.#o.emit({ kind: "groupMessage", message: messageView(row, {}) });
      },
    };
  }

  /** The group file `fileId`'s messages go through, if it is a group file. */
  fileRoute(fileId: string): string | undefined {
    return this.#ctx.store.groups.fileRoute(fileId)?.key;
  }

  /**
   * Sends a file transfer's message to one member through group `key` (a group
   * message naming that member); `write` runs in the sealing transaction.
   */
  async sendFileControl(
    key: string,
    peer: string,
    inner: FileInner,
    write?: () => void,
  ): Promise<string> {
    const envs = await this.#o.exclusive(async () => {
      const g = this.#ctx.store.groups.group(key);
      if (!g || g.state !== "active") throw new ChatStateError("Cannot send: not in the group");
      const envs = await this.#engine.seal(g, { ...inner, to: peer }, {
        write: () => {
          this.#ctx.store.groups.putFileRoute(inner.id, key, peer);
          write?.();
        },
      });
      if (envs === null) {
        throw new ChatStateError("Cannot send a file now: a member is leaving; try again shortly");
      }
      return envs;
    });
    if (envs.length > 0) await this.#o.exclusive(() => this.#engine.submitApp(envs));
    // The first envelope's id names the message (a held notice for it pushes the file).
    return envs[0]?.id ?? "";
  }

  /**
   * Offers a file to every other member: one transfer each (a fresh key, sent
   * to that member through the group; chunks as in a 1:1 chat, once they accept).
   */
  async sendFile(
    text: string,
    file: { path: string; name?: string; type?: string },
  ): Promise<FileTransfer[]> {
    const g = this.#group(text);
    const members = acceptedState(this.#ctx, g).members.map((m) => m.address)
      .filter((a) => a !== this.#ctx.self);
    if (members.length === 0) {
      throw new ChatStateError("Cannot send a file: nobody else is in the group");
    }
    const out: FileTransfer[] = [];
    for (const m of members) out.push(await this.#o.files.offer(m, file, { via: g.key }));
    return out;
  }

  /** The node's word on one of our group envelopes; null when it is not one of ours. */
  notice(
    ref: string,
    state: "delivered" | "failed" | "held" | "kept",
    reason?: string,
    users?: Record<string, string>,
  ): Step | null {
    const groups = this.#ctx.store.groups;
    if (state === "held" || state === "kept") {
      // A mailbox holds it, or our node keeps it: still on its way.
      return groups.sent(ref) ? NO_STEP : null;
    }
    if (groups.sent(ref)) {
      let show = () => {};
      return {
        write: () => void (show = this.#engine.delivered(ref, state, users, reason)),
        after: () => show(),
      };
    }
    const g = groups.list().find((x) => x.pending?.envelopeId === ref);
    if (!g) return null;
    return {
      after: () => this.#engine.settle(g.key, ref, state === "delivered", reason),
      inQueue: true,
    };
  }
}
