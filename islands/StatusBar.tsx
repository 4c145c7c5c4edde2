/** @jsxImportSource preact */
/** Connection state of the event stream, toasts, and the notification switch. */
import { useEffect, useState } from "preact/hooks";
import { useStore } from "../lib/ui/mod.ts";

export default function StatusBar() {
  const store = useStore();
  const state = store.socket.value;
  const notice = store.notice.value;
  const [permission, setPermission] = useState<string>("unsupported");
  useEffect(() => {
    if ("Notification" in globalThis) setPermission(Notification.permission);
  }, []);
  useEffect(() => {
    if (!notice) return;
    const t = setTimeout(() => (store.notice.value = null), 6000);
    return () => clearTimeout(t);
  }, [notice]);
  const signedOut = store.signedOut.value;
  const label = signedOut
    ? "signed out"
    : state === "open"
    ? "live"
    : state === "connecting"
    ? "connecting…"
    : "offline";
  return (
    <div class="status">
      {permission === "default" && (
        <button
          type="button"
          class="small"
          onClick={async () => setPermission(await Notification.requestPermission())}
        >
          Enable notifications
        </button>
      )}
      <span
        class={`conn conn-${signedOut ? "closed" : state}`}
        role="status"
        aria-label={`Connection: ${label}`}
      >
        {label}
      </span>
      {signedOut && (
        <p class="toast toast-error" role="alert">
          Signed out: open the address fedchat printed, or run <code>fedchat ui-url</code>.
        </p>
      )}
      <div class="toast-area" aria-live="polite">
        {notice && (
          <div
            class={`toast toast-${notice.kind}`}
            role={notice.kind === "error" ? "alert" : "status"}
          >
            {notice.text}
            <button
              type="button"
              class="link"
              aria-label="Dismiss"
              onClick={() => (store.notice.value = null)}
            >
              ×
            </button>
          </div>
        )}
      </div>
    </div>
  );
}
