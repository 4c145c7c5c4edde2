/** @jsxImportSource preact */
/** The sidebar's groups: name and unread count of each, and the "New group" button and dialog. */
import type { UiStore } from "../lib/ui/mod.ts";
import { NewGroupDialog } from "./NewGroupDialog.tsx";

/** Props of {@linkcode GroupList}. */
export interface GroupListProps {
  store: UiStore;
}

/** One button per group; the open one is marked. */
export function GroupList({ store }: GroupListProps) {
  const groups = store.groups.list.value;
  const active = store.groups.active.value;
  return (
    <section aria-label="Groups" class="side-section groups">
      <div class="side-head">
        <h3>Groups</h3>
        <button
          type="button"
          class="small"
          onClick={() => (store.groups.creating.value = true)}
        >
          New group
        </button>
      </div>
      {groups.length === 0 ? <p class="empty">No groups yet.</p> : (
        <ul class="plain">
          {groups.map((g) => (
            <li key={g.id} class={g.id === active ? "tab active" : "tab"}>
              <button
                type="button"
                class="group-tab"
                data-group={g.id}
                aria-current={g.id === active ? "true" : undefined}
                aria-label={`Group ${g.name}${g.unread > 0 ? `, ${g.unread} unread` : ""}`}
                onClick={() => void store.groups.open(g.id)}
              >
                <span class="group-name">{g.name}</span>
                {g.state !== "active" && <span class="muted">({g.state})</span>}
                {g.unread > 0 && <span class="unread" aria-hidden="true">{g.unread}</span>}
              </button>
            </li>
          ))}
        </ul>
      )}
      <NewGroupDialog store={store} />
    </section>
  );
}
