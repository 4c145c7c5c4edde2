import assert from "node:assert/strict";
import { matchPage } from "./page_match.ts";

const PAGES = ["/", "/chat/:address", "/directory"];

Deno.test("matchPage() finds the pattern and decodes its parameters", () => {
  assert.deepEqual(matchPage(PAGES, "/"), { pattern: "/", params: {} });
  assert.deepEqual(matchPage(PAGES, "/chat/bob%40bob"), {
    pattern: "/chat/:address",
    params: { address: "bob@bob" },
  });
  assert.deepEqual(matchPage(PAGES, "/directory"), { pattern: "/directory", params: {} });
});

Deno.test("matchPage() refuses other paths, empty and undecodable parameters", () => {
  for (const path of ["/nope", "/chat/", "/chat/a/b", "/chat/%E0%A4%A", "//", "/directory/"]) {
    assert.equal(matchPage(PAGES, path), null, path);
  }
});
