/** Sizes and times left as people read them, for the UI and the terminal alike. */

/** "512 B", "12.3 MB". */
export function formatSize(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** "42 s left", "3 min 5 s left"; empty when unknown. */
export function formatEta(ms: number | null): string {
  if (ms === null) return "";
  const s = Math.ceil(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s left` : `${s} s left`;
}
