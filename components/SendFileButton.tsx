/** @jsxImportSource preact */
/**
 * The Attach file button: picks files and offers them to `address`. Its name
 * avoids the word "send", which belongs to the composer's Send button.
 */
import { useRef } from "preact/hooks";
import type { UiStore } from "../lib/ui/mod.ts";

/** Props of {@linkcode SendFileButton}. */
export interface SendFileButtonProps {
  store: UiStore;
  address: string;
  disabled: boolean;
}

/** A button and its hidden file input. */
export function SendFileButton({ store, address, disabled }: SendFileButtonProps) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button
        type="button"
        class="send-file"
        disabled={disabled}
        onClick={() => input.current?.click()}
        aria-label={`Attach a file for ${address}`}
        title="Send a file (or drop one on the conversation)"
      >
        Attach file
      </button>
      <input
        type="file"
        hidden
        ref={input}
        onChange={(e) => {
          const files = e.currentTarget.files;
          if (files) { for (const f of files) void store.sendFile(address, f); }
          e.currentTarget.value = "";
        }}
      />
    </>
  );
}
