/** @jsxImportSource preact */
/**
 * One conversation: its header (state, key, files, safety number, pop-out,
 * block), the key-change warning, the safety number, the files, and the
 * messages with day separators, timestamps and delivery state. Days are
 * named relative to the store's clock, never to a clock read while drawing.
 */
import { useEffect, useRef } from "preact/hooks";
import {
  canSend,
  type Contact,
  dayKey,
  formatDay,
  formatTime,
  popOutChat,
  stateLabel,
  type UiStore,
} from "../lib/ui/mod.ts";
import { FilePanel } from "./FilePanel.tsx";
import { KeyChangeWarning } from "./KeyChangeWarning.tsx";
import { SafetyPanel } from "./SafetyPanel.tsx";
import { SendFileButton } from "./SendFileButton.tsx";

/** Props of {@linkcode Conversation}. */
export interface ConversationProps {
  store: UiStore;
  address: string;
  contact: Contact | undefined;
  /** In a pop-out window (no pop-out button). */
  popout: boolean;
}

/** The header, panels and message list of the conversation with `address`. */
export function Conversation({ store, address, contact, popout }: ConversationProps) {
  const messages = store.histories.value[address] ?? [];
  const listRef = useRef<HTMLOListElement>(null);
  useEffect(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length, address]);
  const safety = store.safety.value?.address === address ? store.safety.value : null;
  const nowMs = store.nowMs.value;
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
        <SendFileButton store={store} address={address} disabled={!canSend(contact).ok} />
        <button type="button" onClick={() => store.showSafety(address)}>Safety number</button>
        {!popout && (
          <button
            type="button"
            onClick={() => popOutChat(address)}
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
      {contact?.keyChanged && <KeyChangeWarning store={store} address={address} />}
      {safety && <SafetyPanel store={store} safety={safety} />}
      <FilePanel store={store} address={address} />
      <ol class="messages" ref={listRef} aria-label="Messages" aria-live="polite" tabIndex={0}>
        {messages.length === 0 && <li class="empty">No messages yet. Say hello.</li>}
        {messages.map((m) => {
          const at = m.direction === "in" ? (m.receivedAtMs ?? m.sentAtMs) : m.sentAtMs;
          const day = dayKey(at);
          const sep = day !== lastDay;
          lastDay = day;
          return [
            sep && <li key={`day-${day}`} class="day" role="separator">{formatDay(at, nowMs)}</li>,
            <li key={m.id} class={`msg ${m.direction}`} data-id={m.id} data-state={m.state}>
              <p class="text">{m.text}</p>
              <footer>
                <time dateTime={new Date(at).toISOString()} title={new Date(at).toLocaleString()}>
                  {formatTime(at)}
                </time>
                {m.direction === "out" && (
                  <span class={`state state-${m.state}`} title={m.reason}>
                    {stateLabel(m)}
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
