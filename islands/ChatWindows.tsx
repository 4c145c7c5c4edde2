/** @jsxImportSource preact */
/**
 * One window per conversation: tabs with unread counts, the conversation with
 * day separators, timestamps and delivery state, the composer with /commands,
 * the safety number, and the key-change warning that stops sending.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import {
  type ChatMessage,
  type Contact,
  dayKey,
  formatDay,
  formatTime,
  parseSlash,
  SLASH_COMMANDS,
  type UiStore,
  useStore,
} from "../lib/ui/mod.ts";
import FilePanel, { SendFileButton } from "./FilePanel.tsx";

export interface ChatWindowsProps {
  /** A pop-out window: one conversation, no tabs. */
  popout: boolean;
}

const STATE_LABEL: Record<ChatMessage["state"], string> = {
  sending: "sending…",
  sent: "✓ sent",
  delivered: "✓✓ delivered",
  read: "✓✓ read",
  failed: "✕ failed",
};

function popOut(address: string): void {
  globalThis.open(
    `/chat/${encodeURIComponent(address)}`,
    `fedchat-${address.replace(/[^a-z0-9]/g, "_")}`,
    "popup,width=560,height=720",
  );
}

export default function ChatWindows({ popout }: ChatWindowsProps) {
  const store = useStore();
  const active = store.active.value;
  const tabs = store.tabs.value;
  const contact = active ? store.contact(active) : undefined;
  return (
    <div class={popout ? "chats chats-popout" : "chats"}>
      {!popout && <ChatTabs store={store} tabs={tabs} active={active} />}
      <section
        class="conversation"
        role={popout ? "region" : "tabpanel"}
        id="conversation"
        aria-label={active ? `Conversation with ${active}` : "No conversation"}
        onDragOver={(e) => {
          if (active && contact?.state === "accepted") e.preventDefault();
        }}
        onDrop={(e) => {
          const files = e.dataTransfer?.files;
          if (!active || !files || files.length === 0) return;
          e.preventDefault();
          if (contact?.state !== "accepted" || contact.keyChanged) {
            return store.tell("error", "Files can be sent only in an accepted chat");
          }
          for (const f of files) void store.sendFile(active, f);
        }}
      >
        {active
          ? <Conversation store={store} address={active} contact={contact} popout={popout} />
          : (
            <div class="empty-chat">
              <h2>No conversation open</h2>
              <p>
                Find someone in the <a href="/directory">Directory</a> and request a chat, or type
                {" "}
                <kbd>/help</kbd> below.
              </p>
            </div>
          )}
        <Composer store={store} address={active} contact={contact} />
      </section>
    </div>
  );
}

function ChatTabs(
  { store, tabs, active }: { store: UiStore; tabs: string[]; active: string | null },
) {
  const incoming = store.requests.value;
  const outgoing = store.contacts.value.filter((c) => c.state === "requested");
  const onKey = (e: KeyboardEvent, i: number) => {
    const step = e.key === "ArrowDown" ? 1 : e.key === "ArrowUp" ? -1 : 0;
    if (!step || tabs.length === 0) return;
    e.preventDefault();
    const next = tabs[(i + step + tabs.length) % tabs.length];
    void store.openChat(next);
    (document.getElementById(`tab-${next}`) as HTMLElement | null)?.focus();
  };
  return (
    <nav class="chat-list" aria-label="Conversations">
      <h2 class="sr-only">Conversations</h2>
      <div role="tablist" aria-orientation="vertical" aria-label="Open conversations">
        {tabs.map((t, i) => {
          const c = store.contact(t);
          const unread = c?.unread ?? 0;
          return (
            <div key={t} class={t === active ? "tab active" : "tab"}>
              <button
                type="button"
                role="tab"
                id={`tab-${t}`}
                aria-selected={t === active}
                aria-controls="conversation"
                tabIndex={t === active ? 0 : -1}
                data-address={t}
                onClick={() => store.openChat(t)}
                onKeyDown={(e) => onKey(e, i)}
              >
                <span class="mono">{t}</span>
                {c?.keyChanged && (
                  <span class="warn-dot" title="Key changed" aria-label="key changed">!</span>
                )}
                {unread > 0 && <span class="unread" aria-label={`${unread} unread`}>{unread}</span>}
              </button>
              <button
                type="button"
                class="link close"
                aria-label={`Close conversation with ${t}`}
                onClick={() => store.closeChat(t)}
              >
                ×
              </button>
            </div>
          );
        })}
      </div>
      {tabs.length === 0 && <p class="empty">No conversations yet.</p>}
      {incoming.length > 0 && (
        <section aria-label="Chat requests" class="side-section">
          <h3>Requests</h3>
          <ul class="plain">
            {incoming.map((r) => (
              <li key={r.from} class="side-request">
                <span class="mono">{r.from}</span>
                <button
                  type="button"
                  class="small primary"
                  aria-label={`Accept ${r.from}`}
                  onClick={async () => {
                    const res = await store.run({ kind: "accept", address: r.from });
                    if (res.kind !== "error") await store.openChat(r.from);
                  }}
                >
                  Accept
                </button>
                <button
                  type="button"
                  class="small"
                  aria-label={`Reject ${r.from}`}
                  onClick={() => store.run({ kind: "reject", address: r.from })}
                >
                  Reject
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      {outgoing.length > 0 && (
        <section aria-label="Waiting for an answer" class="side-section">
          <h3>Waiting</h3>
          <ul class="plain">
            {outgoing.map((c) => <li key={c.address} class="mono muted">{c.address}</li>)}
          </ul>
        </section>
      )}
    </nav>
  );
}

function Conversation(
  { store, address, contact, popout }: {
    store: UiStore;
    address: string;
    contact: Contact | undefined;
    popout: boolean;
  },
) {
  const messages = store.histories.value[address] ?? [];
  const listRef = useRef<HTMLOListElement>(null);
  useEffect(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length, address]);
  const safety = store.safety.value?.address === address ? store.safety.value : null;
  const now = Date.now();
  let lastDay = "";
  return (
    <>
      <header class="conv-head">
        <div>
          <h2 class="mono">{address}</h2>
          <div class="muted small-text">
            {contact?.state === "accepted"
              ? "end-to-end encrypted"
              : contact?.state ?? "no chat yet"}
            {contact?.fingerprint && (
              <>
                {" · key "}
                <span class="mono">{contact.fingerprint}</span>
              </>
            )}
          </div>
        </div>
        <span class="spacer" />
        <SendFileButton
          store={store}
          address={address}
          disabled={contact?.state !== "accepted" || contact.keyChanged}
        />
        <button type="button" onClick={() => store.showSafety(address)}>Safety number</button>
        {!popout && (
          <button
            type="button"
            onClick={() => popOut(address)}
            aria-label={`Open conversation with ${address} in its own window`}
          >
            Pop out ↗
          </button>
        )}
        <button
          type="button"
          class="danger"
          onClick={() => {
            if (confirm(`Block ${address}?`)) void store.run({ kind: "block", address });
          }}
        >
          Block
        </button>
      </header>
      {contact?.keyChanged && (
        <div class="key-warning" role="alert">
          <strong>{address}'s key has changed.</strong>{" "}
          This can mean they reinstalled, or that someone is in the middle. Sending is stopped until
          you check the new safety number with them and accept it.
          <div class="actions">
            <button type="button" onClick={() => store.showSafety(address)}>
              Show safety number
            </button>
            <button
              type="button"
              class="primary"
              onClick={() => store.run({ kind: "acceptKeyChange", address })}
            >
              Accept new key
            </button>
          </div>
        </div>
      )}
      {safety && (
        <aside class="safety" aria-label={`Safety number with ${address}`}>
          <div>
            <h3>Safety number</h3>
            <p class="digits mono">{safety.digits}</p>
            <p class="hint">
              Compare these digits (or scan the code) with {address}, in person or on a call.
            </p>
            <button type="button" onClick={() => (store.safety.value = null)}>Close</button>
          </div>
          <svg
            viewBox={`-4 -4 ${safety.qr.size + 8} ${safety.qr.size + 8}`}
            role="img"
            aria-label="Safety number QR code"
            shape-rendering="crispEdges"
            class="qr-small"
          >
            <rect
              x="-4"
              y="-4"
              width={safety.qr.size + 8}
              height={safety.qr.size + 8}
              fill="#fff"
            />
            <path d={safety.qr.d} fill="#000" />
          </svg>
        </aside>
      )}
      <FilePanel store={store} address={address} />
      <ol class="messages" ref={listRef} aria-label="Messages" aria-live="polite" tabIndex={0}>
        {messages.length === 0 && <li class="empty">No messages yet. Say hello.</li>}
        {messages.map((m) => {
          const at = m.direction === "in" ? (m.receivedAtMs ?? m.sentAtMs) : m.sentAtMs;
          const day = dayKey(at);
          const sep = day !== lastDay;
          lastDay = day;
          return [
            sep && <li key={`day-${day}`} class="day" role="separator">{formatDay(at, now)}</li>,
            <li key={m.id} class={`msg ${m.direction}`} data-id={m.id} data-state={m.state}>
              <p class="text">{m.text}</p>
              <footer>
                <time dateTime={new Date(at).toISOString()} title={new Date(at).toLocaleString()}>
                  {formatTime(at)}
                </time>
                {m.direction === "out" && (
                  <span class={`state state-${m.state}`} title={m.reason}>
                    {STATE_LABEL[m.state]}
                  </span>
                )}
              </footer>
            </li>,
          ];
        })}
      </ol>
    </>
  );
}

function Composer(
  { store, address, contact }: {
    store: UiStore;
    address: string | null;
    contact: Contact | undefined;
  },
) {
  const [text, setText] = useState("");
  const [help, setHelp] = useState(false);
  const blocked = contact?.keyChanged === true;
  const canChat = contact?.state === "accepted" && !blocked;

  const submit = async () => {
    const action = parseSlash(text, address);
    switch (action.kind) {
      case "text":
        if (!address) return store.tell("error", "Open a conversation first, or type /help");
        if (!canChat) {
          return store.tell(
            "error",
            blocked ? "Accept the new key before sending" : "This chat is not accepted yet",
          );
        }
        if (action.text.trim() === "") return;
        setText("");
        if ((await store.run({ kind: "send", address, text: action.text })).kind === "error") {
          setText(action.text);
        }
        return;
      case "help":
        setHelp(true);
        break;
      case "error":
        return store.tell("error", action.error);
      case "verify":
        await store.showSafety(action.address);
        break;
      case "showInvite":
        store.tell("info", `Invite: ${store.self.value.invite}`);
        break;
      case "users":
        location.assign("/directory");
        break;
      case "open":
        await store.openChat(action.address);
        break;
      case "popout":
        popOut(action.address);
        break;
      case "command": {
        const r = await store.run(action.command);
        if (r.kind !== "error") store.tell("info", `Done: /${action.command.kind}`);
        if (r.kind !== "error" && action.command.kind === "accept") {
          await store.openChat(action.command.address);
        }
        break;
      }
    }
    setText("");
  };

  return (
    <div class="composer-wrap">
      {help && (
        <div class="help" role="region" aria-label="Commands">
          <div class="card-head">
            <h3>Commands</h3>
            <button
              type="button"
              class="link"
              onClick={() => setHelp(false)}
              aria-label="Close help"
            >
              ×
            </button>
          </div>
          <dl>
            {SLASH_COMMANDS.map((
              c,
            ) => [
              <dt key={c.usage} class="mono">{c.usage}</dt>,
              <dd key={`${c.usage}-d`}>{c.summary}</dd>,
            ])}
          </dl>
        </div>
      )}
      <form
        class="composer"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <textarea
          rows={2}
          value={text}
          aria-label={address ? `Message to ${address}, or a /command` : "A /command"}
          placeholder={blocked
            ? "Sending is stopped: accept the new key first (/help for commands)"
            : address
            ? `Message ${address} — Enter to send, /help for commands`
            : "/help for commands"}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              void submit();
            }
          }}
        />
        <button type="submit" class="primary" disabled={blocked && !text.trim().startsWith("/")}>
          Send
        </button>
      </form>
    </div>
  );
}
