/**
 * Safe names for received files. A name comes from the sender, so it is
 * treated as hostile: it must stay one plain name inside the downloads
 * folder on every platform, and must not look like something it is not.
 *
 * - path separators and their look-alikes (`/`, `\`, U+FF0F, U+2215...), `:`
 *   and the other characters Windows refuses, become `_`;
 * - control characters (C0, DEL, C1, NUL), bidirectional and zero-width
 *   formatting characters (U+202E...), line separators become `_`;
 * - `%XX` escapes lose their `%`, so nothing decodes them into `../` later;
 * - leading dots and spaces go (no hidden files, no `.` or `..`), and
 *   trailing dots and spaces (Windows drops them);
 * - Windows device names (`CON`, `NUL`, `COM1`..., with any extension) get a
 *   leading `_`;
 * - at most {@linkcode MAX_FILE_NAME_BYTES} bytes of UTF-8, keeping a short
 *   extension; an empty result becomes `file`.
 */

/** Longest saved name, in UTF-8 bytes (file systems allow 255). */
export const MAX_FILE_NAME_BYTES = 200;

// Characters that draw as or act like a separator.
const SEPARATORS = /[/\\\u2044\u2215\u29F8\u29F9\uFF0F\uFF3C\uFE68\u2216\u3033\u3035:<>"|?*]/g;
// C0, DEL, C1, bidi embedding/override/isolate marks, zero-width and line separators, BOM.
const INVISIBLE =
  // deno-lint-ignore no-control-regex -- control characters are exactly what this removes
  /[\u0000-\u001F\u007F-\u009F\u061C\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB]/g;
const RESERVED = /^(con|prn|aux|nul|clock\$|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

const te = new TextEncoder();

function capBytes(s: string, max: number): string {
  if (te.encode(s).length <= max) return s;
  let out = "";
  let used = 0;
  for (const ch of s) {
    const n = te.encode(ch).length;
    if (used + n > max) break;
    out += ch;
    used += n;
  }
  return out;
}

/** Turns a name from a sender into a safe single file name. */
export function sanitizeFileName(raw: string): string {
  let s = raw.normalize("NFC")
    .replace(SEPARATORS, "_")
    .replace(INVISIBLE, "_")
    .replace(/%(?=[0-9a-fA-F]{2})/g, "_");
  s = s.replace(/^[.\s]+/, "").replace(/[.\s]+$/, "");
  if (RESERVED.test(s)) s = `_${s}`;
  if (te.encode(s).length > MAX_FILE_NAME_BYTES) {
    const dot = s.lastIndexOf(".");
    const ext = dot > 0 && s.length - dot <= 16 ? s.slice(dot) : "";
    s = capBytes(s.slice(0, s.length - ext.length), MAX_FILE_NAME_BYTES - te.encode(ext).length) +
      ext;
  }
  return s === "" ? "file" : s;
}

/**
 * The `n`th alternative of a safe name when it is taken: `name (1).ext`,
 * `name (2).ext`... (still within the length cap).
 */
export function numberedFileName(safe: string, n: number): string {
  if (n === 0) return safe;
  const dot = safe.lastIndexOf(".");
  const ext = dot > 0 && safe.length - dot <= 16 ? safe.slice(dot) : "";
  const suffix = ` (${n})${ext}`;
  const stem = capBytes(
    safe.slice(0, safe.length - ext.length),
    MAX_FILE_NAME_BYTES - te.encode(suffix).length,
  );
  return stem + suffix;
}
