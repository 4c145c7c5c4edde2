/** Opens one conversation in its own browser window (the same origin: it shares the session). */
export function popOutChat(address: string): void {
  globalThis.open(
    `/chat/${encodeURIComponent(address)}`,
    `fedchat-${address.replace(/[^a-z0-9]/g, "_")}`,
    "popup,width=560,height=720",
  );
}
