/** @jsxImportSource preact */
/**
 * The composer: a message (up to the client core's limit, from the
 * snapshot) or a /command, sent with Enter; `/help` lists the commands.
 */
import { useState } from "preact/hooks";
import {
  canSend,
  type Contact,
  parseSlash,
  popOutChat,
  SLASH_COMMANDS,
  type UiStore,
} from "../lib/ui/mod.ts";

/** Props of {@linkcode Composer}. */
export interface ComposerProps {
  store: UiStore;
  /** The open conversation, if any. */
  address: string | null;
  contact: Contact | undefined;
}

/** The text box, the Send button and the /help list. */
export function Composer({ store, address, contact }: ComposerProps) {
  const [text, setText] = useState("");
  const [help, setHelp] = useState(false);
  const check = canSend(contact);
  const maxChars = store.limits.value.maxMessageChars;
  const isCommand = text.trim().startsWith("/");

  const submit = async () => {
    const action = parseSlash(text, address);
    switch (action.kind) {
      case "text":
        if (!address) return store.tell("error", "Open a conversation first, or type /help");
        if (!check.ok) return store.tell("error", check.message);
        if (action.text.trim() === "") return;
        if (action.text.length > maxChars) {
          return store.tell("error", `Cannot send: a message holds at most ${maxChars} characters`);
        }
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
        popOutChat(action.address);
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

  const stopped = address !== null && !check.ok && check.why === "key-changed";
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
            {SLASH_COMMANDS.map((c) => [
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
          maxLength={maxChars}
          aria-label={address ? `Message to ${address}, or a /command` : "A /command"}
          placeholder={stopped
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
        <button
          type="submit"
          class="primary"
          disabled={address !== null && !check.ok && !isCommand}
        >
          Send
        </button>
      </form>
    </div>
  );
}
