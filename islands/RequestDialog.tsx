/** @jsxImportSource preact */
/**
 * A chat request as a modal Accept / Reject dialog, with the requester's
 * address and key; then group invitations, each as Accept / Decline.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { useStore } from "../lib/ui/mod.ts";
import { InvitationForm } from "../components/InvitationForm.tsx";

export interface RequestDialogProps {
  /** Whether the page shows conversations (else accepting navigates to them). */
  chatPage: boolean;
}

export default function RequestDialog({ chatPage }: RequestDialogProps) {
  const store = useStore();
  const [later, setLater] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLDialogElement>(null);
  const request = store.requests.value.find((r) => !later.includes(r.from)) ?? null;
  const invitation = request
    ? null
    : store.groups.invitations.value.find((i) => !later.includes(i.group)) ?? null;
  const shown = request?.from ?? invitation?.group ?? null;

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (shown && !d.open) d.showModal();
    if (!shown && d.open) d.close();
  }, [shown]);

  const answer = async (kind: "accept" | "reject" | "block") => {
    if (!request) return;
    setBusy(true);
    const from = request.from;
    const result = await store.run({ kind, address: from });
    setBusy(false);
    if (result.kind === "error") return;
    store.requests.value = store.requests.value.filter((r) => r.from !== from);
    if (kind === "accept") {
      if (chatPage) await store.openChat(from);
      else location.assign(`/?chat=${encodeURIComponent(from)}`);
    }
  };

  return (
    <dialog
      ref={ref}
      class="request-dialog"
      aria-labelledby="request-title"
      aria-describedby="request-desc"
      onCancel={(e) => {
        e.preventDefault();
        if (shown) setLater([...later, shown]);
      }}
    >
      {invitation && (
        <InvitationForm
          store={store}
          invitation={invitation}
          chatPage={chatPage}
          onLater={() => setLater([...later, invitation.group])}
        />
      )}
      {request && (
        <form method="dialog" onSubmit={(e) => e.preventDefault()}>
          <h2 id="request-title">Chat request</h2>
          <p id="request-desc">
            <strong class="address">{request.from}</strong> asks to chat with you.
          </p>
          {request.intro && <blockquote class="intro">{request.intro}</blockquote>}
          <dl class="facts">
            <dt>Key fingerprint</dt>
            <dd class="mono fingerprint">{request.fingerprint}</dd>
          </dl>
          <p class="hint">
            Compare the fingerprint with what {request.from}{" "}
            tells you another way before trusting it.
          </p>
          <div class="actions">
            <button type="button" class="primary" disabled={busy} onClick={() => answer("accept")}>
              Accept
            </button>
            <button type="button" disabled={busy} onClick={() => answer("reject")}>Reject</button>
            <button type="button" class="danger" disabled={busy} onClick={() => answer("block")}>
              Block
            </button>
            <button type="button" class="link" onClick={() => setLater([...later, request.from])}>
              Later
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
