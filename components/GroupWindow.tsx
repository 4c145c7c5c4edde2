/** @jsxImportSource preact */
/**
 * One group chat: its header (name, members, pop-out, leave), the members
 * panel, the messages with sender, day separators, timestamps and, for our
 * own, "delivered to N of M, read by K", and a composer. Everything from
 * peers (names, addresses, texts) is rendered as text.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import {
  dayKey,
  formatDay,
  formatTime,
  type GroupMessage,
  popOutGroup,
  type UiStore,
} from "../lib/ui/mod.ts";
import { GroupMembers } from "./GroupMembers.tsx";

/** Props of {@linkcode GroupWindow}. */
export interface GroupWindowProps {
  store: UiStore;
  /** The group's id. */
  id: string;
  /** In a pop-out window (no pop-out button). */
  popout: boolean;
}

function deliveryLabel(m: GroupMessage): string {
  const d = m.delivery;
  if (m.state === "sending" || !d) return "sending…";
  return `delivered to ${d.delivered} of ${d.recipients}, read by ${d.read}` +
    (d.failed > 0 ? `, failed ${d.failed}` : "");
}

/** The group `id`'s window. */
export function GroupWindow({ store, id, popout }: GroupWindowProps) {
  const group = store.groups.group(id);
  const messages = store.groups.histories.value[id];
  const [showMembers, setShowMembers] = useState(false);
  const [text, setText] = useState("");
  const listRef = useRef<HTMLOListElement>(null);
  useEffect(() => {
    if (!messages) void store.groups.load(id).catch((e) => store.tell("error", String(e)));
  }, [id]);
  useEffect(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages?.length, id]);
  if (!group) {
    return (
      <section class="conversation" aria-label="No group">
        <div class="empty-chat">This group is not known here.</div>
      </section>
    );
  }
  const active = group.state === "active";
  const maxChars = store.limits.value.maxMessageChars;
  const nowMs = store.nowMs.value;
  const submit = async () => {
    const body = text;
    if (body.trim() === "" || !active) return;
    if (body.length > maxChars) {
      return store.tell("error", `Cannot send: a message holds at most ${maxChars} characters`);
    }
    setText("");
    const r = await store.run({ kind: "sendToGroup", group: id, text: body });
    if (r.kind === "error") setText(body);
  };
  let lastDay = "";
  return (
    <section class="conversation group-window" aria-label={`Group ${group.name}`} data-group={id}>
      <header class="conv-head">
        <div>
          <h2>{group.name}</h2>
          <div class="muted small-text">
            {active ? `${group.members} member${group.members === 1 ? "" : "s"}` : group.state}
            {group.admin && " · you are an admin"}
            {group.pending && ` · waiting for ${group.home}: ${group.pending}`}
            {group.leaving && " · leaving"}
          </div>
        </div>
        <span class="spacer" />
        <button
          type="button"
          aria-expanded={showMembers}
          onClick={() =>
            setShowMembers(!showMembers)}
        >
          Members
        </button>
        {!popout && (
          <button
            type="button"
            onClick={() => popOutGroup(id)}
            aria-label={`Open group ${group.name} in its own window`}
          >
            Pop out ↗
          </button>
        )}
        {active && !group.leaving && (
          <button
            type="button"
            class="danger"
            onClick={() => {
              if (confirm(`Leave ${group.name}?`)) {
                void store.run({ kind: "leaveGroup", group: id });
              }
            }}
          >
            Leave
          </button>
        )}
      </header>
      {!active && (
        <p class="key-warning group-gone" role="status">
          {group.state === "removed"
            ? "You were removed from this group: you no longer get its messages."
            : "You left this group."}
        </p>
      )}
      {showMembers && <GroupMembers store={store} group={group} />}
      <ol class="messages" ref={listRef} aria-label="Messages" aria-live="polite" tabIndex={0}>
        {!messages && <li class="empty">Loading…</li>}
        {messages?.length === 0 && <li class="empty">No messages yet. Say hello.</li>}
        {messages?.map((m) => {
          const at = m.direction === "in" ? (m.receivedAtMs ?? m.sentAtMs) : m.sentAtMs;
          const day = dayKey(at);
          const sep = day !== lastDay;
          lastDay = day;
          const time = (
            <time dateTime={new Date(at).toISOString()} title={new Date(at).toLocaleString()}>
              {formatTime(at)}
            </time>
          );
          return [
            sep && <li key={`day-${day}`} class="day" role="separator">{formatDay(at, nowMs)}</li>,
            m.kind === "event"
              ? (
                <li key={m.id} class="group-event" data-id={m.id}>
                  {time} <span>{m.text}</span>
                </li>
              )
              : (
                <li key={m.id} class={`msg ${m.direction}`} data-id={m.id} data-state={m.state}>
                  {m.direction === "in" && <div class="sender mono">{m.sender}</div>}
                  <p class="text">{m.text}</p>
                  <footer>
                    {time}
                    {m.direction === "out" && (
                      <span class={`state state-${m.state}`} title={m.reason}>
                        {deliveryLabel(m)}
                      </span>
                    )}
                  </footer>
                </li>
              ),
          ];
        })}
      </ol>
      <div class="composer-wrap">
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
            maxLength={maxChars}
            disabled={!active}
            aria-label={`Message to group ${group.name}`}
            placeholder={active
              ? `Message ${group.name} — Enter to send`
              : "You are not in this group"}
            onInput={(e) =>
              setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
                e.preventDefault();
                void submit();
              }
            }}
          />
          <button type="submit" class="primary" disabled={!active}>Send</button>
        </form>
      </div>
    </section>
  );
}
