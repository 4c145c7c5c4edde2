/** @jsxImportSource preact */
/** This node: id, fingerprints, the invite to copy or scan, and the browsers signed in. */
import { useState } from "preact/hooks";
import { type QrPath, useStore } from "../lib/ui/mod.ts";
import { QrCode } from "../components/QrCode.tsx";

export interface NodeCardProps {
  inviteQr: QrPath;
}

export default function NodeCard({ inviteQr }: NodeCardProps) {
  const store = useStore();
  const self = store.self.value;
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(self.invite);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      store.tell("error", "Cannot copy: select the invite and copy it by hand");
    }
  };
  return (
    <section class="card node-card" aria-labelledby="node-title">
      <h2 id="node-title">This node</h2>
      <dl class="facts">
        <dt>Node id</dt>
        <dd class="mono" data-testid="node-id">{self.nodeId}</dd>
        <dt>Node fingerprint</dt>
        <dd class="mono">{self.nodeFingerprint}</dd>
        <dt>Your address</dt>
        <dd class="mono">{self.address}</dd>
        <dt>Your key fingerprint</dt>
        <dd class="mono">{self.fingerprint}</dd>
        <dt>Mode</dt>
        <dd>{self.ownsNode ? "server + client" : "client of a remote node"}</dd>
      </dl>
      <h3 id="invite-title">Invite</h3>
      <p class="hint">Give this line to someone whose node should link to yours.</p>
      <div class="invite-row">
        <input
          class="mono invite"
          readOnly
          value={self.invite}
          aria-labelledby="invite-title"
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" onClick={copy}>{copied ? "Copied" : "Copy"}</button>
      </div>
      <figure class="qr">
        <QrCode qr={inviteQr} label="QR code of the invite" />
        <figcaption>Scan to get the invite</figcaption>
      </figure>
      <h3 id="sessions-title">Browsers</h3>
      <p class="hint">
        Every browser that opened this node's address stays signed in until fedchat stops. Sign the
        others out (this one stays); the printed address stops working and `fedchat ui-url` prints
        the new one. `fedchat ui-signout` does the same from a terminal, for every browser.
      </p>
      <button
        type="button"
        aria-describedby="sessions-title"
        onClick={() => store.signOutOthers()}
      >
        Sign out other browsers
      </button>
    </section>
  );
}
