/**
 * The page's group chats as signals: the groups and invitations of the
 * snapshot, the open group's history and members (loaded when it opens), and
 * the group events of the event stream. Owned by {@linkcode UiStore}.
 */
import { batch, type Signal, signal } from "@preact/signals";
import type { UiApiClient } from "./api_client.ts";
import type { ClientEvent, UiCommand, UiCommandResult, UiSnapshot } from "./api_types.ts";
import type {
  GroupInvitationView,
  GroupMemberView,
  GroupMessage,
  GroupView,
} from "./group_types.ts";

/** Options of {@linkcode GroupStore}. */
export interface GroupStoreOptions {
  snapshot: UiSnapshot;
  active?: string | null;
  api?: UiApiClient;
  /** Runs a command through the page's store (errors become a notice). */
  run: (command: UiCommand) => Promise<UiCommandResult>;
  isVisible: () => boolean;
  notify: (title: string, body: string) => void;
}

/** Groups, invitations, and the open group. */
export class GroupStore {
  /** Our groups, most recently active first. */
  readonly list: Signal<GroupView[]>;
  readonly invitations: Signal<GroupInvitationView[]>;
  /** The group on screen (its id), if any. */
  readonly active: Signal<string | null>;
  /** Loaded histories, by group id. */
  readonly histories = signal<Record<string, GroupMessage[]>>({});
  /** Loaded members, by group id (empty once we are out of the group). */
  readonly members = signal<Record<string, GroupMemberView[]>>({});
  /** The "New group" dialog is open. */
  readonly creating = signal(false);
  #o: GroupStoreOptions;

  constructor(options: GroupStoreOptions) {
    this.#o = options;
    this.list = signal(sorted(options.snapshot.groups ?? []));
    this.invitations = signal(options.snapshot.invitations ?? []);
    this.active = signal(options.active ?? null);
  }

  /** The group `id`, if we have it. */
  group(id: string): GroupView | undefined {
    return this.list.value.find((g) => g.id === id);
  }

  /** Takes the groups of a fresh snapshot (after a reconnect) and reloads the open group. */
  async reset(s: UiSnapshot): Promise<void> {
    batch(() => {
      this.list.value = sorted(s.groups);
      this.invitations.value = s.invitations;
    });
    const active = this.active.value;
    if (active) await this.load(active);
  }

  /** Loads a group's history and members. */
  async load(id: string): Promise<void> {
    if (!this.#o.api) return;
    const d = await this.#o.api.group(id);
    batch(() => {
      this.histories.value = { ...this.histories.value, [id]: d.history };
      this.members.value = { ...this.members.value, [id]: d.members };
    });
  }

  /** Shows the group `id` (the caller clears the open chat). */
  async open(id: string): Promise<void> {
    this.active.value = id;
    await this.load(id);
    await this.markReadIfSeen(id);
  }

  /** Sends a read receipt when the group is on screen and has unread messages. */
  async markReadIfSeen(id: string): Promise<void> {
    if (this.active.value !== id || !this.#o.isVisible()) return;
    if ((this.group(id)?.unread ?? 0) === 0) return;
    const r = await this.#o.run({ kind: "markGroupRead", group: id });
    if (r.kind === "ok") this.#upsert({ ...this.group(id)!, unread: 0 });
  }

  /** Takes what a command answered. */
  applyResult(result: UiCommandResult): void {
    if (result.kind === "group") this.#upsert(result.group);
    if (result.kind === "groupMessage") this.#addMessage(result.message);
  }

  /** Applies one event; true when it was a group event. */
  apply(event: ClientEvent): boolean {
    switch (event.kind) {
      case "group": {
        const before = this.group(event.group.id);
        this.#upsert(event.group);
        // A change of membership or standing: the members panel reloads.
        const changed = !before || before.epoch !== event.group.epoch ||
          before.state !== event.group.state || before.members !== event.group.members;
        if (changed && this.active.value === event.group.id) {
          void this.load(event.group.id).catch(() => {});
        }
        if (event.group.unread > 0) void this.markReadIfSeen(event.group.id).catch(() => {});
        return true;
      }
      case "groupMessage": {
        const m = event.message;
        this.#addMessage(m);
        // Someone joined, left or was removed, or a rename: the members panel reloads.
        if (m.kind === "event" && this.active.value === m.group) {
          void this.load(m.group).catch(() => {});
        }
        if (m.direction === "in" && m.kind === "text") {
          if (!this.#o.isVisible() || this.active.value !== m.group) {
            this.#o.notify(this.group(m.group)?.name ?? "Group", `${m.sender}: ${m.text}`);
          }
        }
        return true;
      }
      case "groupState": {
        const list = this.histories.value[event.group];
        if (list) {
          this.histories.value = {
            ...this.histories.value,
            [event.group]: list.map((m) =>
              m.id === event.id ? { ...m, state: event.state, delivery: event.delivery } : m
            ),
          };
        }
        return true;
      }
      case "invitation": {
        const i = event.invitation;
        this.invitations.value = [
          ...this.invitations.value.filter((x) => x.group !== i.group),
          i,
        ];
        this.#o.notify("Group invitation", `${i.inviter} invites you to ${i.name}`);
        return true;
      }
      default:
        return false;
    }
  }

  /** Forgets an answered invitation. */
  dropInvitation(id: string): void {
    this.invitations.value = this.invitations.value.filter((i) => i.group !== id);
  }

  #upsert(g: GroupView): void {
    batch(() => {
      this.list.value = sorted([...this.list.value.filter((x) => x.id !== g.id), g]);
      this.dropInvitation(g.id);
    });
  }

  #addMessage(m: GroupMessage): void {
    const list = this.histories.value[m.group];
    if (!list) return; // loaded in full when the group opens
    const i = list.findIndex((x) => x.id === m.id);
    // A command's answer can come after a newer delivery event: keep the further one.
    const merged = i >= 0 && delivered(list[i]) > delivered(m) ? { ...m, ...pick(list[i]) } : m;
    const next = i >= 0 ? list.map((x, j) => (j === i ? merged : x)) : [...list, m];
    this.histories.value = { ...this.histories.value, [m.group]: next };
  }
}

function delivered(m: GroupMessage): number {
  return m.delivery ? m.delivery.delivered + m.delivery.read + m.delivery.failed : 0;
}

function pick(m: GroupMessage): Pick<GroupMessage, "state" | "delivery"> {
  return { state: m.state, delivery: m.delivery };
}

function sorted(groups: GroupView[]): GroupView[] {
  return [...groups].sort((a, b) =>
    (b.lastMessageAtMs ?? 0) - (a.lastMessageAtMs ?? 0) || a.name.localeCompare(b.name)
  );
}
