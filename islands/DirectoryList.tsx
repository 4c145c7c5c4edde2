/** @jsxImportSource preact */
/** Users of every reachable node, with presence, search and Refresh. */
import { useState } from "preact/hooks";
import { useStore } from "../lib/ui/mod.ts";

export default function DirectoryList() {
  const store = useStore();
  const [query, setQuery] = useState("");
  const me = store.self.value.address;
  const q = query.trim().toLowerCase();
  const users = store.directory.value
    .filter((u) => u.address !== me && (q === "" || u.address.toLowerCase().includes(q)))
    .sort((a, b) =>
      a.presence === b.presence
        ? a.address.localeCompare(b.address)
        : a.presence === "online"
        ? -1
        : 1
    );

  const action = (address: string) => {
    const c = store.contact(address);
    switch (c?.state) {
      case "accepted":
        return <a class="button" href={`/?chat=${encodeURIComponent(address)}`}>Open chat</a>;
      case "requested":
        return <span class="muted">Request sent</span>;
      case "incoming":
        return <span class="muted">Wants to chat</span>;
      case "blocked":
        return <span class="muted">Blocked</span>;
      default:
        return (
          <button
            type="button"
            class="primary"
            aria-label={`Request chat with ${address}`}
            onClick={async () => {
              const r = await store.run({ kind: "request", address, intro: "" });
              if (r.kind !== "error") store.tell("info", `Chat request sent to ${address}`);
            }}
          >
            Request chat
          </button>
        );
    }
  };

  return (
    <section class="card directory" aria-labelledby="dir-title">
      <div class="card-head">
        <h2 id="dir-title">Directory</h2>
        <input
          type="search"
          class="search"
          placeholder="Search users"
          aria-label="Search users"
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
        <button
          type="button"
          disabled={store.directoryLoading.value}
          onClick={() => store.refreshDirectory().catch((e) => store.tell("error", String(e)))}
        >
          {store.directoryLoading.value ? "Refreshing…" : "Refresh"}
        </button>
      </div>
      {users.length === 0
        ? <p class="empty">{q ? "No user matches." : "No other users yet."}</p>
        : (
          <ul class="rows" aria-label="Users">
            {users.map((u) => (
              <li key={u.address} class="row" data-address={u.address}>
                <span
                  class={`presence presence-${u.presence}`}
                  aria-label={u.presence}
                  title={u.presence}
                />
                <span class="mono address">{u.address}</span>
                <span class="muted">on {u.node}</span>
                <span class="spacer" />
                {action(u.address)}
              </li>
            ))}
          </ul>
        )}
    </section>
  );
}
