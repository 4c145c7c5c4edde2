/** @jsxImportSource preact */
/**
 * The federation screen's mailboxes: the nodes that hold this node's
 * envelopes while it is away (add, remove) and the nodes it holds them for
 * (serve with an optional quota, stop), with what is held. The CLI's twin is
 * `fedchat mailbox add|list|remove|serve|served|stop`.
 */
import { useEffect, useState } from "preact/hooks";
import {
  formatSize,
  type MailboxView,
  parseSize,
  QUOTA_BYTES,
  type UiCommand,
  useStore,
} from "../lib/ui/mod.ts";

/** Props of {@linkcode MailboxPanel}. */
export interface MailboxPanelProps {
  /** What the server read when it rendered; null when the node runs elsewhere. */
  initial: MailboxView | null;
}

/** Reachability and what is held change without events: looked at again this often. */
const REFRESH_MS = 5_000;

export default function MailboxPanel({ initial }: MailboxPanelProps) {
  const store = useStore();
  const owns = store.self.value.ownsNode;
  const socket = store.socket.value;
  const [view, setView] = useState<MailboxView | null>(initial);
  const [mailboxId, setMailboxId] = useState("");
  const [servedId, setServedId] = useState("");
  const [quota, setQuota] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (command: UiCommand): Promise<boolean> => {
    setBusy(true);
    const r = await store.run(command);
    setBusy(false);
    if (r.kind === "mailboxes") {
      setView(r.mailboxes);
      setError(null);
      return true;
    }
    if (r.kind === "error") setError(r.error);
    return false;
  };

  useEffect(() => {
    if (!owns || socket !== "open") return;
    const timer = setInterval(async () => {
      const r = await store.run({ kind: "mailboxes" });
      if (r.kind === "mailboxes") setView(r.mailboxes);
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [owns, socket]);

  const add = async (e: Event) => {
    e.preventDefault();
    const nodeId = mailboxId.trim();
    if (await run({ kind: "addMailbox", nodeId })) {
      store.tell("info", `${nodeId} is now one of your mailboxes`);
      setMailboxId("");
    }
  };
  const serve = async (e: Event) => {
    e.preventDefault();
    const nodeId = servedId.trim();
    let quotaBytes: number | undefined;
    if (quota.trim() !== "") {
      try {
        quotaBytes = parseSize(quota, QUOTA_BYTES);
      } catch (err) {
        const text = `Cannot serve: ${(err as Error).message}`;
        setError(text);
        store.tell("error", text);
        return;
      }
    }
    if (await run({ kind: "serveMailbox", nodeId, ...(quotaBytes ? { quotaBytes } : {}) })) {
      store.tell("info", `Serving ${nodeId} as its mailbox`);
      setServedId("");
      setQuota("");
    }
  };

  return (
    <section class="card mailboxes" aria-labelledby="mailboxes-title">
      <h2 id="mailboxes-title">Mailboxes</h2>
      {!owns || !view
        ? (
          <p class="hint">
            This client uses a remote node: its mailboxes are set by that node's owner.
          </p>
        )
        : (
          <>
            <h3 id="own-mailboxes-title">My mailboxes</h3>
            <p class="hint">
              Always-on nodes that hold envelopes for you while your node is away. Each must agree
              to serve your node.
            </p>
            {view.own.length === 0
              ? (
                <p class="empty">
                  No mailboxes: envelopes for you wait at their senders while you are away.
                </p>
              )
              : (
                <ul class="rows" aria-labelledby="own-mailboxes-title">
                  {view.own.map((m) => (
                    <li key={m.node} class="row" data-mailbox={m.node}>
                      <span class="mono">{m.node}</span>
                      <span class={`badge ${m.reachable ? "state-up" : "state-down"}`}>
                        {m.reachable ? "reachable" : "unreachable"}
                      </span>
                      <span class="spacer" />
                      <button
                        type="button"
                        disabled={busy}
                        aria-label={`Remove mailbox ${m.node}`}
                        onClick={() => run({ kind: "removeMailbox", nodeId: m.node })}
                      >
                        Remove
                      </button>
                    </li>
                  ))}
                </ul>
              )}
            <form class="connect-form mailbox-form" onSubmit={add}>
              <label>
                Mailbox
                <input
                  name="mailbox"
                  required
                  value={mailboxId}
                  placeholder="m"
                  autoComplete="off"
                  onInput={(e) => setMailboxId(e.currentTarget.value)}
                />
              </label>
              <button type="submit" class="primary" disabled={busy}>Add mailbox</button>
            </form>

            <h3 id="served-title">Nodes I serve</h3>
            <p class="hint">
              Nodes whose envelopes this node holds while they are away, up to a quota. It sees
              their node ids, sizes and times, never their content.
            </p>
            {view.served.length === 0
              ? <p class="empty">Serving nobody.</p>
              : (
                <ul class="rows" aria-labelledby="served-title">
                  {view.served.map((s) => (
                    <li key={s.node} class="row" data-served={s.node}>
                      <span class="mono">{s.node}</span>
                      <span class="muted usage">
                        holding {formatSize(s.heldBytes)} of {formatSize(s.quotaBytes)}
                      </span>
                      <progress
                        max={s.quotaBytes}
                        value={s.heldBytes}
                        aria-label={`Held for ${s.node}`}
                      />
                      <span class="spacer" />
                      <button
                        type="button"
                        disabled={busy}
                        aria-label={`Stop serving ${s.node}`}
                        onClick={() => run({ kind: "stopServing", nodeId: s.node })}
                      >
                        Stop
                      </button>
                    </li>
                  ))}
                </ul>
              )}
            <form class="connect-form mailbox-form" onSubmit={serve}>
              <label>
                Node to serve
                <input
                  name="served"
                  required
                  value={servedId}
                  placeholder="bob"
                  autoComplete="off"
                  onInput={(e) => setServedId(e.currentTarget.value)}
                />
              </label>
              <label>
                Quota (optional)
                <input
                  name="quota"
                  value={quota}
                  placeholder="64M"
                  autoComplete="off"
                  onInput={(e) => setQuota(e.currentTarget.value)}
                />
              </label>
              <button type="submit" class="primary" disabled={busy}>Serve</button>
            </form>
            <p class="hint" data-testid="mailbox-counters">
              Held for all nodes: {formatSize(view.heldBytes)} of{" "}
              {formatSize(view.totalLimitBytes)}; hand-overs refused since start: {view.refusals}
            </p>
          </>
        )}
      {error && <p class="error-text" role="alert">{error}</p>}
    </section>
  );
}
