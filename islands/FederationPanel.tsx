/** @jsxImportSource preact */
/** Linking nodes: the connect form, an invite, pending approvals, linked nodes. */
import { useState } from "preact/hooks";
import { useStore } from "../lib/ui/mod.ts";

const PENDING = new Set(["awaiting-owner", "pending", "awaiting-approval", "incoming"]);

export default function FederationPanel() {
  const store = useStore();
  const owns = store.self.value.ownsNode;
  const links = store.links.value;
  const pending = links.filter((l) => PENDING.has(l.state));
  const linked = links.filter((l) => !PENDING.has(l.state)).sort((a, b) =>
    a.peer.localeCompare(b.peer)
  );
  const [host, setHost] = useState("");
  const [port, setPort] = useState("");
  const [nodeId, setNodeId] = useState("");
  const [invite, setInvite] = useState("");
  const [busy, setBusy] = useState(false);

  const connect = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const r = await store.run({
      kind: "connect",
      host: host.trim(),
      port: Number(port),
      nodeId: nodeId.trim(),
    });
    setBusy(false);
    if (r.kind !== "error") {
      store.tell("info", `Linking to ${nodeId}…`);
      setHost("");
      setPort("");
      setNodeId("");
    }
  };
  const useInvite = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const r = await store.run({ kind: "connectInvite", invite: invite.trim() });
    setBusy(false);
    if (r.kind !== "error") {
      store.tell("info", "Linking with the invite…");
      setInvite("");
    }
  };

  return (
    <div class="federation">
      {!owns && (
        <p class="hint">This client uses a remote node: linking is done by that node's owner.</p>
      )}
      <section class="card" aria-labelledby="connect-title">
        <h2 id="connect-title">Connect to a node</h2>
        <form class="connect-form" onSubmit={connect} method="post" action="/federation">
          <label>
            Host
            <input
              name="host"
              required
              value={host}
              disabled={!owns}
              placeholder="192.168.0.101"
              onInput={(e) => setHost(e.currentTarget.value)}
              autoComplete="off"
            />
          </label>
          <label>
            Port
            <input
              name="port"
              required
              inputMode="numeric"
              pattern="[0-9]{1,5}"
              value={port}
              disabled={!owns}
              placeholder="8443"
              onInput={(e) => setPort(e.currentTarget.value)}
            />
          </label>
          <label>
            Node id
            <input
              name="nodeId"
              required
              value={nodeId}
              disabled={!owns}
              placeholder="bob"
              pattern="[a-z0-9][a-z0-9_\-]{0,31}"
              autoComplete="off"
              onInput={(e) => setNodeId(e.currentTarget.value)}
            />
          </label>
          <button type="submit" class="primary" disabled={busy || !owns}>Connect</button>
        </form>
        <form class="invite-form" onSubmit={useInvite}>
          <label class="grow">
            Or paste an invite
            <input
              name="invite"
              required
              class="mono"
              value={invite}
              disabled={!owns}
              placeholder="fedchat://bob@192.168.0.101:8443?fp=…"
              onInput={(e) => setInvite(e.currentTarget.value)}
              autoComplete="off"
            />
          </label>
          <button type="submit" disabled={busy || !owns}>Use invite</button>
        </form>
      </section>
      <section class="card" aria-labelledby="pending-title">
        <h2 id="pending-title">Waiting for approval</h2>
        {pending.length === 0 ? <p class="empty">No node is waiting.</p> : (
          <ul class="rows">
            {pending.map((l) => (
              <li key={l.peer} class="row">
                <span class="mono">{l.peer}</span>
                <span class="muted mono">{l.fingerprint ?? "fingerprint unknown"}</span>
                <span class="spacer" />
                <button
                  type="button"
                  class="primary"
                  onClick={() => store.run({ kind: "approveLink", nodeId: l.peer })}
                  aria-label={`Approve link from ${l.peer}`}
                >
                  Approve
                </button>
                <button
                  type="button"
                  onClick={() => store.run({ kind: "rejectLink", nodeId: l.peer })}
                  aria-label={`Reject link from ${l.peer}`}
                >
                  Reject
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section class="card" aria-labelledby="linked-title">
        <h2 id="linked-title">Linked nodes</h2>
        {linked.length === 0 ? <p class="empty">No links yet.</p> : (
          <table class="links-table">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">State</th>
                <th scope="col">Address</th>
                <th scope="col">Fingerprint</th>
              </tr>
            </thead>
            <tbody>
              {linked.map((l) => (
                <tr key={l.peer} data-peer={l.peer}>
                  <td class="mono">{l.peer}</td>
                  <td>
                    <span class={`badge state-${l.state}`}>{l.state}</span>
                    {l.lastError && <div class="error-text">{l.lastError}</div>}
                  </td>
                  <td class="mono">{l.host ? `${l.host}:${l.port}` : "incoming"}</td>
                  <td class="mono muted">{l.fingerprint ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
