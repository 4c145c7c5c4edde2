/** @jsxImportSource preact */
/** The list of open conversations (tabs with unread counts), requests waiting, and requests sent. */
import type { UiStore } from "../lib/ui/mod.ts";
import { GroupList } from "./GroupList.tsx";

/** Props of {@linkcode ChatTabs}. */
export interface ChatTabsProps {
  store: UiStore;
  tabs: string[];
  active: string | null;
}

/** A vertical tab list; arrow keys move between conversations. */
export function ChatTabs({ store, tabs, active }: ChatTabsProps) {
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
      <GroupList store={store} />
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
