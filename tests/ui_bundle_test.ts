/**
 * The embedded bundles (lib/web/_bundles.ts) match the sources, so a compiled
 * binary serves the islands as written, and the chat screen's JavaScript stays
 * under its 100 KB gzipped budget.
 */
import assert from "node:assert/strict";
import { BUNDLES } from "../lib/web/_bundles.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("UI bundles: lib/web/_bundles.ts is what `deno task build:ui` makes from the sources", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-run",
      "--allow-read",
      "--allow-write=.tmp",
      "--allow-env",
      "scripts/build_ui.ts",
      "--check",
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
});

Deno.test("UI bundles: the chat screen's JavaScript is under 100 KB gzipped, and nothing is external", async () => {
  const js = BUNDLES["app.js"].body;
  const gz = new Blob([js]).stream().pipeThrough(new CompressionStream("gzip"));
  const size = (await new Response(gz).arrayBuffer()).byteLength;
  assert.ok(size < 100 * 1024, `app.js is ${size} bytes gzipped`);
  assert.equal(/\bimport\s*\(|from\s*["']https?:/.test(js), false, "no remote imports");
  assert.equal(/@import|url\(\s*["']?https?:/.test(BUNDLES["app.css"].body), false);
});
