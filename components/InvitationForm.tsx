/** @jsxImportSource preact */
/**
 * A group invitation inside the request dialog: who invites, to what, with
 * the inviter's key fingerprint; accept or decline (nothing of the group is
 * opened before the user accepts).
 */
import { useState } from "preact/hooks";
import type { GroupInvitationView, UiStore } from "../lib/ui/mod.ts";

/** Props of {@linkcode InvitationForm}. */
export interface InvitationFormProps {
  store: UiStore;
  invitation: GroupInvitationView;
  /** Whether the page shows conversations (else accepting navigates to them). */
  chatPage: boolean;
  /** "Later": the dialog moves on. */
  onLater: () => void;
}

/** The invitation's facts and its Accept / Decline / Later buttons. */
export function InvitationForm({ store, invitation: i, chatPage, onLater }: InvitationFormProps) {
  const [busy, setBusy] = useState(false);
  const answer = async (kind: "acceptInvitation" | "declineInvitation") => {
    setBusy(true);
    const result = await store.run({ kind, group: i.group });
    setBusy(false);
    if (result.kind === "error") return;
    store.groups.dropInvitation(i.group);
    if (kind !== "acceptInvitation") return;
    if (chatPage) await store.groups.open(i.group);
    else location.assign(`/?group=${encodeURIComponent(i.group)}`);
  };
  return (
    <form method="dialog" onSubmit={(e) => e.preventDefault()}>
      <h2 id="request-title">Group invitation</h2>
      <p id="request-desc">
        <strong class="address">{i.inviter}</strong> invites you to the group{" "}
        <strong class="group-name">{i.name}</strong> ({i.members}{" "}
        member{i.members === 1 ? "" : "s"}).
      </p>
      <dl class="facts">
        <dt>Inviter's key fingerprint</dt>
        <dd class="mono fingerprint">{i.fingerprint}</dd>
      </dl>
      <p class="hint">
        Compare the fingerprint with what {i.inviter}{" "}
        tells you another way. The group's members see your messages once you accept.
      </p>
      <div class="actions">
        <button
          type="button"
          class="primary"
          disabled={busy}
          onClick={() => answer("acceptInvitation")}
        >
          Accept
        </button>
        <button type="button" disabled={busy} onClick={() => answer("declineInvitation")}>
          Decline
        </button>
        <button type="button" class="link" onClick={onLater}>Later</button>
      </div>
    </form>
  );
}
