import assert from "node:assert/strict";
import { visible, visibleMultiline } from "./safe_text.ts";

Deno.test("visible() shows escape sequences, bidi and zero-width characters instead of acting on them", () => {
  assert.equal(visible("a\x1b[2Jb"), "a\\u001B[2Jb");
  assert.equal(visible("evil\u202Etxt.exe"), "evil\\u202Etxt.exe");
  assert.equal(visible("x\u200By\u2028z\u0085"), "x\\u200By\\u2028z\\u0085");
  assert.equal(visible("line\nnext\r"), "line\\u000Anext\\u000D");
  assert.equal(visible("plain café ✓ 日本"), "plain café ✓ 日本");
});

Deno.test("visibleMultiline() keeps line feeds and tabs, and JSON stays the same value", () => {
  assert.equal(visibleMultiline("a\tb\nc\x07"), "a\tb\nc\\u0007");
  const value = { host: "\x1b[2J\u202Eevil", list: ["\u2066x\u2069"] };
  const shown = visibleMultiline(JSON.stringify(value));
  // deno-lint-ignore no-control-regex -- the point is that no control character is left
  assert.doesNotMatch(shown, /[\x00-\x08\x1b\u202e\u2066\u2069]/);
  assert.deepEqual(JSON.parse(shown), value);
});
