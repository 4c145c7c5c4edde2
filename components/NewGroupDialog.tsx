/** @jsxImportSource preact */
/**
 * The "New group" dialog: a name, then whom to invite, picked from the
 * directory or typed (`name@node`, separated by spaces or commas).
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { MAX_GROUP_NAME_CHARS, type UiStore } from "../lib/ui/mod.ts";

/** Props of {@linkcode NewGroupDialog}. */
export interface NewGroupDialogProps {
  store: UiStore;
}

/** Addresses typed by the user, split on spaces and commas. */
function typed(text: string): string[] {
  return text.split(/[\s,]+/).map((a) => a.trim()).filter((a) => a !== "");
}

/** A modal form; creating the group and sending its invitations are two commands. */
export function NewGroupDialog({ store }: NewGroupDialogProps) {
  const open = store.groups.creating.value;
  const ref = useRef<HTMLDialogElement>(null);
  const [name, setName] = useState("");
  const [picked, setPicked] = useState<string[]>([]);
  const [others, setOthers] = useState("");
  const [busy, setBusy] = useState(false);
  const me = store.self.value.address;
  const users = store.directory.value.filter((u) => u.address !== me);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);

  const close = () => {
    store.groups.creating.value = false;
    setName("");
    setPicked([]);
    setOthers("");
  };

  const create = async () => {
    const invitees = [...new Set([...picked, ...typed(others)])];
    setBusy(true);
    try {
      const made = await store.run({ kind: "createGroup", name });
      if (made.kind !== "group") return;
      close();
      await store.groups.open(made.group.id);
      if (invitees.length === 0) return;
      const r = await store.run({
        kind: "inviteToGroup",
        group: made.group.id,
        addresses: invitees,
      });
      if (r.kind === "group") store.tell("info", `Invited ${invitees.join(", ")}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog
      ref={ref}
      class="request-dialog"
      aria-labelledby="new-group-title"
      onCancel={(e) => {
        e.preventDefault();
        close();
      }}
    >
      {open && (
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            void create();
          }}
        >
          <h2 id="new-group-title">New group</h2>
          <label class="field">
            Group name
            <input
              type="text"
              required
              maxLength={MAX_GROUP_NAME_CHARS}
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </label>
          <fieldset class="invitees">
            <legend>Invite from the directory</legend>
            {users.length === 0 && <p class="empty">No other users in the directory.</p>}
            {users.map((u) => (
              <label key={u.address} class="check">
                <input
                  type="checkbox"
                  checked={picked.includes(u.address)}
                  onChange={(e) =>
                    setPicked(
                      e.currentTarget.checked
                        ? [...picked, u.address]
                        : picked.filter((a) => a !== u.address),
                    )}
                />
                <span class="mono">{u.address}</span>
              </label>
            ))}
          </fieldset>
          <label class="field">
            Or type addresses (name@node)
            <input
              type="text"
              value={others}
              placeholder="bob@nodeb, carol@nodec"
              onInput={(e) => setOthers(e.currentTarget.value)}
            />
          </label>
          <p class="hint">Each invitee sees the invitation with their chat requests.</p>
          <div class="actions">
            <button type="submit" class="primary" disabled={busy || name.trim() === ""}>
              Create group
            </button>
            <button type="button" onClick={close}>Cancel</button>
          </div>
        </form>
      )}
    </dialog>
  );
}
