/** Opens one conversation in its own browser window (the same origin: it shares the session). */
export function popOutChat(address: string): void {
  globalThis.open(
    `/chat/${encodeURIComponent(address)}`,
    `fedchat-${address.replace(/[^a-z0-9]/g, "_")}`,
    "popup,width=560,height=720",
  );
}

/** Opens one group chat in its own browser window. */
export function popOutGroup(id: string): void {
  globalThis.open(
    `/group/${encodeURIComponent(id)}`,
    `fedchat-group-${id.replace(/[^a-z0-9]/g, "_")}`,
    "popup,width=640,height=720",
  );
}
