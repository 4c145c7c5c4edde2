/** @jsxImportSource preact */
/**
 * One window per conversation: tabs with unread counts, the conversation,
 * the composer with /commands, and files dropped on the conversation. In a
 * pop-out window, one conversation and no tabs.
 */
import { canSend, useStore } from "../lib/ui/mod.ts";
import { ChatTabs } from "../components/ChatTabs.tsx";
import { Composer } from "../components/Composer.tsx";
import { Conversation } from "../components/Conversation.tsx";
import { GroupWindow } from "../components/GroupWindow.tsx";

export interface ChatWindowsProps {
  /** A pop-out window: one conversation, no tabs. */
  popout: boolean;
}

export default function ChatWindows({ popout }: ChatWindowsProps) {
  const store = useStore();
  const active = store.active.value;
  const tabs = store.tabs.value;
  const contact = active ? store.contact(active) : undefined;
  const check = canSend(contact);
  const group = popout ? null : store.groups.active.value;
  if (group) {
    return (
      <div class="chats">
        <ChatTabs store={store} tabs={tabs} active={null} />
        <GroupWindow store={store} id={group} popout={false} />
      </div>
    );
  }
  return (
    <div class={popout ? "chats chats-popout" : "chats"}>
      {!popout && <ChatTabs store={store} tabs={tabs} active={active} />}
      <section
        class="conversation"
        role={popout ? "region" : "tabpanel"}
        id="conversation"
        aria-label={active ? `Conversation with ${active}` : "No conversation"}
        onDragOver={(e) => {
          if (active && check.ok) e.preventDefault();
        }}
        onDrop={(e) => {
          const files = e.dataTransfer?.files;
          if (!active || !files || files.length === 0) return;
          e.preventDefault();
          if (!check.ok) return store.tell("error", check.message);
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
