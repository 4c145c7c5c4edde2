/**
 * The state a page is rendered with, embedded once in the page as JSON so the
 * browser entry builds its store from exactly what the server painted.
 */
import type { ChatMessage, UiSnapshot } from "./api_types.ts";

/** Id of the `<script type="application/json">` holding the {@linkcode PageState}. */
export const PAGE_STATE_ID = "fedchat-state";

/** What the server rendered a page from. */
export interface PageState {
  snapshot: UiSnapshot;
  active: string | null;
  histories: Record<string, ChatMessage[]>;
}

/** JSON safe to place inside a `<script>` element (no `</script>`, no `<!--`). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}
