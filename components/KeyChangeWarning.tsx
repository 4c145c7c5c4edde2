/** @jsxImportSource preact */
/** The warning shown while a contact's changed key waits for the user's check. */
import type { UiStore } from "../lib/ui/mod.ts";

/** Props of {@linkcode KeyChangeWarning}. */
export interface KeyChangeWarningProps {
  store: UiStore;
  address: string;
}

/** Explains the change and offers the safety number and the acceptance. */
export function KeyChangeWarning({ store, address }: KeyChangeWarningProps) {
  return (
    <div class="key-warning" role="alert">
      <strong>{address}'s key has changed.</strong>{" "}
      This can mean they reinstalled, or that someone is in the middle. Sending is stopped until you
      check the new safety number with them and accept it.
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
  );
}
