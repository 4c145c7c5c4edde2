/** Timestamps and day separators as a conversation shows them. */

/**
 * `14:05`, local time, 24-hour: the same text on the server and in the
 * browser, so hydration changes nothing.
 */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** Local calendar day of `ms`, as a sortable key `YYYY-MM-DD`. */
export function dayKey(ms: number): string {
  const d = new Date(ms);
  const m = String(d.getMonth() + 1).padStart(2, "0");
  const day = String(d.getDate()).padStart(2, "0");
  return `${d.getFullYear()}-${m}-${day}`;
}

/** `Today`, `Yesterday`, or a long date, relative to `nowMs`. */
export function formatDay(ms: number, nowMs: number): string {
  const key = dayKey(ms);
  if (key === dayKey(nowMs)) return "Today";
  if (key === dayKey(nowMs - 86_400_000)) return "Yesterday";
  return new Date(ms).toLocaleDateString("en-GB", {
    weekday: "long",
    year: "numeric",
    month: "long",
    day: "numeric",
  });
}
