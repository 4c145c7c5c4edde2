/**
 * The page's state as signals, fed by the snapshot the server rendered with,
 * by the event stream, and by command results. One store per page, made by
 * the browser entry and shared by its islands through {@linkcode StoreContext}.
 */
import { batch, type Signal, signal } from "@preact/signals";
import { createContext } from "preact";
import type { UiApiClient } from "./api_client.ts";
import type {
  ChatMessage,
  ClientEvent,
  Contact,
  FileTransfer,
  SafetyView,
  UiCommand,
  UiCommandResult,
  UiLimits,
  UiSnapshot,
} from "./api_types.ts";
import type { SocketState } from "./event_socket.ts";
import { GroupStore } from "./group_store.ts";

/** Something the page should tell the user (a toast). */
export interface Notice {
  kind: "info" | "error";
  text: string;
}

/** Options of {@linkcode UiStore}. */
export interface UiStoreOptions {
  snapshot: UiSnapshot;
  /** Absent while rendering on the server. */
  api?: UiApiClient;
  /** Whether the user can see the page now (read receipts, notifications). */
  isVisible?: () => boolean;
  /** Shows a system notification (the entry wires the Notification API). */
  notify?: (title: string, body: string) => void;
  /** The conversation this page is about, if any. */
  active?: string | null;
  histories?: Record<string, ChatMessage[]>;
  /** The group this page is about, if any. */
  activeGroup?: string | null;
  /** The time to draw with (the entry moves it on; rendering never reads a clock). */
  nowMs: number;
}

/** Order of delivery states; `failed` is final. */
const STATE_RANK: Record<ChatMessage["state"], number> = {
  sending: 0,
  sent: 1,
  held: 2,
  delivered: 3,
  read: 4,
  failed: 5,
};

/** The page's state and the actions on it. */
export class UiStore {
  readonly self: Signal<UiSnapshot["self"]>;
  readonly links: Signal<UiSnapshot["links"]>;
  readonly directory: Signal<UiSnapshot["directory"]>;
  readonly contacts: Signal<Contact[]>;
  readonly requests: Signal<UiSnapshot["requests"]>;
  /** File transfers, newest first. */
  readonly files: Signal<FileTransfer[]>;
  readonly histories: Signal<Record<string, ChatMessage[]>>;
  readonly tabs: Signal<string[]>;
  readonly active: Signal<string | null>;
  readonly socket = signal<SocketState>("connecting");
  readonly notice = signal<Notice | null>(null);
  readonly safety = signal<SafetyView | null>(null);
  readonly directoryLoading = signal(false);
  readonly limits: Signal<UiLimits>;
  /** The time the page draws with; set by whoever owns the clock (the browser entry). */
  readonly nowMs: Signal<number>;
  /** The session and the token were refused: the page must be opened with the printed URL. */
  readonly signedOut = signal(false);
  /** Group chats: the list, invitations, and the open group. */
  readonly groups: GroupStore;
  #api: UiApiClient | undefined;
  #isVisible: () => boolean;
  #notify: (title: string, body: string) => void;

  constructor(options: UiStoreOptions) {
    const { snapshot, api, isVisible = () => true, notify = () => {}, active = null } = options;
    this.self = signal(snapshot.self);
    this.links = signal(snapshot.links);
    this.directory = signal(snapshot.directory);
    this.contacts = signal(snapshot.contacts);
    this.requests = signal(snapshot.requests);
    this.files = signal(snapshot.files ?? []);
    this.limits = signal(snapshot.limits);
    this.nowMs = signal(options.nowMs);
    this.histories = signal(options.histories ?? {});
    this.active = signal(active);
    this.tabs = signal(chatTabs(snapshot.contacts, active));
    this.#api = api;
    this.#isVisible = isVisible;
    this.#notify = notify;
    this.groups = new GroupStore({
      snapshot,
      api,
      active: options.activeGroup,
      run: (c) => this.run(c),
      isVisible: () => this.#isVisible(),
      notify: (title, body) => this.#notify(title, body),
    });
  }

  /** The contact record of `address`, if any. */
  contact(address: string): Contact | undefined {
    return this.contacts.value.find((c) => c.address === address);
  }

  /** Reloads everything (after a reconnect, events may have been missed). */
  async refresh(): Promise<void> {
    if (!this.#api) return;
    const s = await this.#api.snapshot();
    batch(() => {
      this.self.value = s.self;
      this.links.value = s.links;
      this.directory.value = s.directory;
      this.contacts.value = s.contacts;
      this.requests.value = s.requests;
      this.files.value = s.files;
      this.limits.value = s.limits;
      this.tabs.value = chatTabs(s.contacts, this.active.value, this.tabs.value);
    });
    const active = this.active.value;
    if (active) await this.loadHistory(active);
    await this.groups.reset(s);
  }

  /** Reloads the directory (the Refresh button). */
  async refreshDirectory(): Promise<void> {
    if (!this.#api) return;
    this.directoryLoading.value = true;
    try {
      this.directory.value = (await this.#api.snapshot()).directory;
    } finally {
      this.directoryLoading.value = false;
    }
  }

  /** Loads one conversation's messages. */
  async loadHistory(address: string): Promise<void> {
    if (!this.#api) return;
    const messages = await this.#api.history(address);
    this.histories.value = { ...this.histories.value, [address]: messages };
  }

  /** Opens (or focuses) the conversation with `address`. */
  async openChat(address: string): Promise<void> {
    batch(() => {
      this.groups.active.value = null;
      if (!this.tabs.value.includes(address)) this.tabs.value = [...this.tabs.value, address];
      this.active.value = address;
    });
    await this.loadHistory(address);
    await this.markReadIfSeen(address);
  }

  /** Closes a conversation's tab. */
  closeChat(address: string): void {
    const tabs = this.tabs.value.filter((t) => t !== address);
    batch(() => {
      this.tabs.value = tabs;
      if (this.active.value === address) this.active.value = tabs.at(-1) ?? null;
    });
  }

  /** Sends read receipts when the conversation is on screen and has unread messages. */
  async markReadIfSeen(address: string): Promise<void> {
    if (this.active.value !== address || !this.#isVisible()) return;
    if ((this.contact(address)?.unread ?? 0) === 0) return;
    await this.run({ kind: "markRead", address });
  }

  /** Loads and shows the safety number of `address`. */
  async showSafety(address: string): Promise<void> {
    if (!this.#api) return;
    try {
      this.safety.value = await this.#api.safety(address);
    } catch (err) {
      this.tell("error", err instanceof Error ? err.message : String(err));
    }
  }

  /** Runs a command; errors become a notice. */
  async run(command: UiCommand): Promise<UiCommandResult> {
    if (!this.#api) return { kind: "error", error: "Not connected" };
    let result: UiCommandResult;
    try {
      result = await this.#api.command(command);
    } catch (err) {
      result = { kind: "error", error: err instanceof Error ? err.message : String(err) };
    }
    if (result.kind === "error") this.tell("error", result.error);
    if (result.kind === "message") this.#addMessage(result.message);
    if (result.kind === "link") this.#upsertLink(result.link);
    if (result.kind === "file") this.#upsertFile(result.transfer);
    this.groups.applyResult(result);
    return result;
  }

  /** Uploads a file and offers it to `address`; progress comes as file events. */
  async sendFile(address: string, file: File): Promise<void> {
    if (!this.#api) return;
    let result: UiCommandResult;
    try {
      result = await this.#api.upload(address, file);
    } catch (err) {
      result = { kind: "error", error: err instanceof Error ? err.message : String(err) };
    }
    if (result.kind === "error") this.tell("error", result.error);
    if (result.kind === "file") this.#upsertFile(result.transfer);
  }

  #upsertFile(t: FileTransfer): void {
    const list = this.files.value;
    const i = list.findIndex((x) => x.id === t.id);
    // A late command answer must not step back a newer event (updatedAtMs orders them).
    if (i >= 0 && list[i].updatedAtMs > t.updatedAtMs) return;
    this.files.value = i >= 0 ? list.map((x, j) => (j === i ? t : x)) : [t, ...list];
  }

  /**
   * Signs out every other session and replaces the token of the printed
   * address; this page stays signed in.
   */
  async signOutOthers(): Promise<void> {
    if (!this.#api) return;
    try {
      const n = await this.#api.signOutOthers();
      this.tell(
        "info",
        `Signed out ${n} other session${n === 1 ? "" : "s"}. The address printed at start ` +
          "no longer works: `fedchat ui-url` prints the new one.",
      );
    } catch (err) {
      this.tell("error", err instanceof Error ? err.message : String(err));
    }
  }

  /** Shows a toast. */
  tell(kind: Notice["kind"], text: string): void {
    this.notice.value = { kind, text };
  }

  /** Applies one event from the client core. */
  apply(event: ClientEvent): void {
    if (this.groups.apply(event)) return;
    switch (event.kind) {
      case "request": {
        const others = this.requests.value.filter((r) => r.from !== event.request.from);
        this.requests.value = [...others, event.request];
        this.#notify("Chat request", `${event.request.from} asks to chat`);
        break;
      }
      case "message": {
        const m = event.message;
        this.#addMessage(m);
        if (m.direction === "in") {
          if (!this.#isVisible() || this.active.value !== m.peer) {
            this.#notify(m.peer, m.text.slice(0, 140));
          }
          void this.markReadIfSeen(m.peer).catch(() => {});
        }
        break;
      }
      case "state": {
        const list = this.histories.value[event.peer];
        if (!list) break;
        this.histories.value = {
          ...this.histories.value,
          [event.peer]: list.map((m) =>
            m.id === event.id ? { ...m, state: event.state, reason: event.reason } : m
          ),
        };
        break;
      }
      case "contact": {
        const c = event.contact;
        const others = this.contacts.value.filter((x) => x.address !== c.address);
        batch(() => {
          this.contacts.value = [...others, c];
          if (c.state !== "incoming") {
            this.requests.value = this.requests.value.filter((r) => r.from !== c.address);
          }
          if (c.state === "accepted" && !this.tabs.value.includes(c.address)) {
            this.tabs.value = [...this.tabs.value, c.address];
            if (this.active.value === null) this.active.value = c.address;
          }
        });
        if (c.state === "accepted" && this.active.value === c.address) {
          void this.loadHistory(c.address).catch(() => {});
        }
        if (c.unread > 0) void this.markReadIfSeen(c.address).catch(() => {});
        break;
      }
      case "directory":
        void this.refreshDirectory().catch(() => {});
        break;
      case "file": {
        const t = event.transfer;
        const known = this.files.value.some((x) => x.id === t.id);
        this.#upsertFile(t);
        if (!known && t.direction === "in" && t.state === "offered") {
          this.#notify(t.peer, `offers a file: ${t.name}`);
        }
        break;
      }
      case "node": {
        // The home node says a resource is in trouble (a full disk): tell the user in words.
        const bad = Object.entries(event.conditions).filter(([, c]) => c.state !== "ok");
        if (bad.length > 0) {
          this.tell("error", bad.map(([name, c]) => c.message ?? `${name}: ${c.state}`).join("; "));
        }
        break;
      }
      case "links":
        if (this.#api) {
          void this.#api.snapshot().then((s) => this.links.value = s.links).catch(() => {});
        }
        break;
    }
  }

  #addMessage(m: ChatMessage): void {
    const list = this.histories.value[m.peer] ?? [];
    const i = list.findIndex((x) => x.id === m.id);
    // A command's answer can arrive after a newer state event: never step a state back
    // (nor lose the reason that came with it, such as the mailbox that holds it).
    const merged = i >= 0 && STATE_RANK[list[i].state] > STATE_RANK[m.state]
      ? { ...m, state: list[i].state, reason: list[i].reason }
      : m;
    const next = i >= 0 ? list.map((x, j) => (j === i ? merged : x)) : [...list, m];
    next.sort((a, b) => a.sentAtMs - b.sentAtMs);
    this.histories.value = { ...this.histories.value, [m.peer]: next };
  }

  #upsertLink(link: UiSnapshot["links"][number]): void {
    const others = this.links.value.filter((l) => l.peer !== link.peer);
    this.links.value = [...others, link];
  }
}

function chatTabs(contacts: Contact[], active: string | null, current: string[] = []): string[] {
  const accepted = contacts
    .filter((c) => c.state === "accepted")
    .sort((a, b) => (b.lastMessageAtMs ?? 0) - (a.lastMessageAtMs ?? 0))
    .map((c) => c.address);
  const tabs = [...current.filter((t) => accepted.includes(t) || t === active)];
  for (const a of accepted) if (!tabs.includes(a)) tabs.push(a);
  if (active && !tabs.includes(active)) tabs.push(active);
  return tabs;
}

/** How islands reach the page's store. */
export const StoreContext = createContext<UiStore | null>(null);
