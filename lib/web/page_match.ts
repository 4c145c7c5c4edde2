/** Finds the page route for a path, Hono-style patterns (`/chat/:address`). */

/** A match: the pattern that matched and its parameters, URL-decoded. */
export interface PageMatch {
  pattern: string;
  params: Record<string, string>;
}

/** Matches `pathname` against `patterns` (in order); null when none does. */
export function matchPage(patterns: Iterable<string>, pathname: string): PageMatch | null {
  const parts = pathname.split("/");
  for (const pattern of patterns) {
    const want = pattern.split("/");
    if (want.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < want.length && ok; i++) {
      if (want[i].startsWith(":")) {
        try {
          params[want[i].slice(1)] = decodeURIComponent(parts[i]);
        } catch {
          ok = false;
        }
        ok &&= parts[i] !== "";
      } else {
        ok = want[i] === parts[i];
      }
    }
    if (ok) return { pattern, params };
  }
  return null;
}
