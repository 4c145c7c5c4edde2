/** @jsxImportSource preact */
/**
 * The files of one conversation: offers to accept or decline, progress bars
 * with rate and time left on both sides, cancel, and where a received file
 * was saved.
 */
import { type FileTransfer, formatEta, formatSize, type UiStore } from "../lib/ui/mod.ts";

const STATE_LABEL: Record<FileTransfer["state"], string> = {
  offered: "offered",
  sending: "sending",
  receiving: "receiving",
  sent: "sent, being checked",
  complete: "complete ✓",
  declined: "declined",
  cancelled: "cancelled",
  failed: "failed ✕",
};

/** The transfers with `address`, newest first. */
export function FilePanel({ store, address }: { store: UiStore; address: string }) {
  const files = store.files.value.filter((t) => t.peer === address);
  if (files.length === 0) return null;
  return (
    <ul class="files plain" aria-label={`Files with ${address}`}>
      {files.map((t) => {
        const moving = t.state === "sending" || t.state === "receiving";
        const pct = t.size > 0 ? Math.floor((t.bytesDone * 100) / t.size) : 100;
        return (
          <li key={t.id} class={`file file-${t.direction}`} data-id={t.id} data-state={t.state}>
            <div class="file-head">
              <span aria-hidden="true">{t.direction === "out" ? "↑" : "↓"}</span>
              <strong class="file-name" title={t.name}>{t.name}</strong>
              <span class="muted">{formatSize(t.size)}</span>
              <span class={`file-state state-${t.state}`}>{STATE_LABEL[t.state]}</span>
            </div>
            {(moving || t.state === "sent") && (
              <div class="file-progress">
                <progress
                  max={Math.max(1, t.size)}
                  value={t.bytesDone}
                  aria-label={`${t.name}: ${pct}%`}
                />
                <span class="small-text muted">
                  {pct}% · {formatSize(t.bytesDone)} of {formatSize(t.size)}
                  {moving && t.rateBytesPerSec > 0 &&
                    ` · ${formatSize(t.rateBytesPerSec)}/s · ${formatEta(t.etaMs)}`}
                </span>
              </div>
            )}
            {t.reason && <p class="small-text file-reason">{t.reason}</p>}
            {t.state === "complete" && t.direction === "in" && (
              <p class="small-text">
                Saved as <code class="file-path">{t.path}</code>
              </p>
            )}
            <div class="actions">
              {t.direction === "in" && t.state === "offered" && (
                <>
                  <button
                    type="button"
                    class="small primary"
                    onClick={() => store.run({ kind: "acceptFile", id: t.id })}
                  >
                    Accept file
                  </button>
                  <button
                    type="button"
                    class="small"
                    onClick={() =>
                      store.run({ kind: "declineFile", id: t.id })}
                  >
                    Decline
                  </button>
                </>
              )}
              {(t.state === "offered" || moving || t.state === "sent") &&
                !(t.direction === "in" && t.state === "offered") && (
                <button
                  type="button"
                  class="small"
                  onClick={() => store.run({ kind: "cancelFile", id: t.id })}
                >
                  Cancel
                </button>
              )}
              {t.direction === "in" && t.folder && (
                <button
                  type="button"
                  class="small link"
                  onClick={() =>
                    store.tell("info", `Files from ${address} are saved in ${t.folder}`)}
                >
                  Open folder
                </button>
              )}
            </div>
          </li>
        );
      })}
    </ul>
  );
}
