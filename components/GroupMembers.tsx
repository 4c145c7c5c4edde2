/** @jsxImportSource preact */
/**
 * A group's members panel: each member's address, role, key fingerprint and
 * safety number (with a warning when it differs from the key a 1:1 chat
 * pinned); for admins, invite, remove and rename.
 */
import { useState } from "preact/hooks";
import type { GroupView, UiStore } from "../lib/ui/mod.ts";

/** Props of {@linkcode GroupMembers}. */
export interface GroupMembersProps {
  store: UiStore;
  group: GroupView;
}

/** The member list and the admin's forms. */
export function GroupMembers({ store, group }: GroupMembersProps) {
  const members = store.groups.members.value[group.id] ?? [];
  const [invitee, setInvitee] = useState("");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const active = group.state === "active";
  const act = async (f: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await f();
    } finally {
      setBusy(false);
    }
  };
  return (
    <aside class="group-members" aria-label={`Members of ${group.name}`}>
      <h3>Members</h3>
      {!active && <p class="empty">You are no longer in this group.</p>}
      <ul class="plain">
        {members.map((m) => (
          <li key={m.address} class="member" data-address={m.address}>
            <div>
              <span class="mono address">{m.address}</span>
              {m.self && <span class="muted">(you)</span>}
              {m.admin && <span class="badge">admin</span>}
              {!m.joined && <span class="badge">invited</span>}
              {group.admin && !m.self && active && (
                <button
                  type="button"
                  class="small danger"
                  disabled={busy}
                  aria-label={`Remove ${m.address}`}
                  onClick={() => {
                    if (!confirm(`Remove ${m.address} from ${group.name}?`)) return;
                    void act(() =>
                      store.run({ kind: "removeFromGroup", group: group.id, address: m.address })
                    );
                  }}
                >
                  Remove
                </button>
              )}
            </div>
            <dl class="facts small-text">
              <dt>Key</dt>
              <dd class="mono fingerprint">{m.fingerprint}</dd>
              {!m.self && (
                <>
                  <dt>Safety number</dt>
                  <dd class="mono digits">{m.safetyNumber}</dd>
                </>
              )}
            </dl>
            {m.pinned === "different" && (
              <p class="key-warning" role="alert">
                This key differs from the one your chat with {m.address}{" "}
                uses: compare safety numbers.
              </p>
            )}
          </li>
        ))}
      </ul>
      {group.admin && active && (
        <>
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              const addresses = invitee.split(/[\s,]+/).filter((a) => a !== "");
              if (addresses.length === 0) return;
              void act(async () => {
                const r = await store.run({ kind: "inviteToGroup", group: group.id, addresses });
                if (r.kind === "group") setInvitee("");
              });
            }}
          >
            <input
              type="text"
              list="group-invitees"
              aria-label="Address to invite"
              placeholder="name@node"
              value={invitee}
              onInput={(e) => setInvitee(e.currentTarget.value)}
            />
            <datalist id="group-invitees">
              {store.directory.value.map((u) => <option key={u.address} value={u.address} />)}
            </datalist>
            <button type="submit" class="small" disabled={busy}>Invite</button>
          </form>
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              if (name.trim() === "") return;
              void act(async () => {
                const r = await store.run({ kind: "renameGroup", group: group.id, name });
                if (r.kind === "group") setName("");
              });
            }}
          >
            <input
              type="text"
              aria-label="New group name"
              placeholder={group.name}
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
            <button type="submit" class="small" disabled={busy}>Rename</button>
          </form>
        </>
      )}
    </aside>
  );
}
