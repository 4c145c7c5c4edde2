import assert from "node:assert/strict";
import { MAX_FILE_NAME_BYTES, numberedFileName, sanitizeFileName } from "./file_name.ts";

function isPlain(name: string): void {
  assert.ok(name.length > 0);
  // deno-lint-ignore no-control-regex -- checks that no control character is left
  assert.ok(!/[/\\\u0000-\u001f\u202a-\u202e\u2066-\u2069\uff0f]/.test(name), name);
  assert.ok(name !== "." && name !== ".." && !name.startsWith("."), name);
  assert.ok(new TextEncoder().encode(name).length <= MAX_FILE_NAME_BYTES, name);
}

const CASES: Array<[string, string]> = [
  ["../../x", "_.._x"],
  ["/abs", "_abs"],
  ["..\\x", "_x"],
  ["C:\\x", "C__x"],
  ["%2e%2e%2f", "_2e_2e_2f"],
  ["invoice\u202Etxt.exe", "invoice_txt.exe"],
  ["a\uFF0Fb", "a_b"],
  ["a\u0000b", "a_b"],
  ["CON", "_CON"],
  ["nul.txt", "_nul.txt"],
  ["com1", "_com1"],
  ["", "file"],
  [".", "file"],
  ["..", "file"],
  [".bashrc", "bashrc"],
  ["report. ", "report"],
  ["line\nbreak", "line_break"],
  ["ok name (1).tar.gz", "ok name (1).tar.gz"],
  ["100% sure.txt", "100% sure.txt"],
];

for (const [raw, want] of CASES) {
  Deno.test(`sanitizeFileName() makes ${JSON.stringify(raw)} safe`, () => {
    const got = sanitizeFileName(raw);
    assert.equal(got, want);
    isPlain(got);
  });
}

Deno.test("sanitizeFileName() caps 300 characters and keeps the extension", () => {
  const got = sanitizeFileName("a".repeat(296) + ".pdf");
  isPlain(got);
  assert.ok(got.endsWith(".pdf"));
  assert.equal(got.length, MAX_FILE_NAME_BYTES);
  const wide = sanitizeFileName("é".repeat(300));
  isPlain(wide);
  assert.ok(!wide.includes("\uFFFD"));
});

Deno.test("numberedFileName() adds a number before the extension and stays within the cap", () => {
  assert.equal(numberedFileName("a.txt", 0), "a.txt");
  assert.equal(numberedFileName("a.txt", 1), "a (1).txt");
  assert.equal(numberedFileName("noext", 12), "noext (12)");
  const long = sanitizeFileName("b".repeat(300) + ".txt");
  const n = numberedFileName(long, 3);
  isPlain(n);
  assert.ok(n.endsWith(" (3).txt"));
});
