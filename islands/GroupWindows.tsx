/** @jsxImportSource preact */
/** A group chat in its own browser window (`/group/GROUP`): the group, no sidebar. */
import { useStore } from "../lib/ui/mod.ts";
import { GroupWindow } from "../components/GroupWindow.tsx";

export default function GroupWindows() {
  const store = useStore();
  const id = store.groups.active.value;
  return (
    <div class="chats chats-popout">
      {id ? <GroupWindow store={store} id={id} popout /> : <p class="empty">No group open.</p>}
    </div>
  );
}
