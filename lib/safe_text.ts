/**
 * Text from outside (a peer, a name, an intro, a host) made safe for a
 * terminal or a log: control characters, bidirectional and zero-width
 * formatting characters and line separators are shown visibly as `\uXXXX`
 * instead of being acted on, so `ESC[2J` cannot clear a screen and U+202E
 * cannot reverse what follows it. Everything else passes unchanged.
 *
 * The escape is JSON's own, and every character escaped is in the BMP, so a
 * JSON document passed through {@linkcode visibleMultiline} still parses to
 * the same value (JSON's structure is ASCII; only strings can hold them).
 */

// C0 and C1 controls and DEL; bidi embeddings, overrides and isolates; zero-width and
// joiner characters; line and paragraph separators; BOM; interlinear annotations.
const UNSAFE =
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/gu;

/** `text` with every unsafe character replaced by its visible escape `\uXXXX`. */
export function visible(text: string): string {
  return text.replace(
    UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`,
  );
}

/** Like {@linkcode visible}, but keeps line feeds and tabs (multi-line text such as a message). */
export function visibleMultiline(text: string): string {
  return text.split("\n").map((line) => line.split("\t").map(visible).join("\t")).join("\n");
}
