import assert from "node:assert/strict";
import { IniSyntaxError, parseIni } from "./ini.ts";

function entry(text: string, section: string, key: string) {
  return parseIni(text).get(section)?.entries.get(key);
}

Deno.test("parseIni() reads sections and keys with their line numbers", () => {
  const s = parseIni("; top\n[Network]\nhost = 127.0.0.1\n\n# c\nport=8443\n");
  assert.deepEqual(s.get("Network")?.entries.get("host"), { value: "127.0.0.1", line: 3 });
  assert.deepEqual(s.get("Network")?.entries.get("port"), { value: "8443", line: 6 });
  assert.equal(s.get("Network")?.line, 2);
});

Deno.test("parseIni() takes inline comments after whitespace, and a header's comment", () => {
  assert.equal(
    entry("[N]\nhost = 192.168.0.98  # Your server IP\n", "N", "host")?.value,
    "192.168.0.98",
  );
  assert.equal(entry("[N]\nport = 8443 ; p\n", "N", "port")?.value, "8443");
  assert.equal(entry("[N] ; comment\nk = v\n", "N", "k")?.value, "v");
  assert.equal(entry("[N]\nk =\n", "N", "k")?.value, "");
  assert.equal(entry("[N]\nk = ; only a comment\n", "N", "k")?.value, "");
});

Deno.test("parseIni() keeps a # with no space before it, and quoted text whole", () => {
  assert.equal(entry("[S]\ndata_dir = a#b\n", "S", "data_dir")?.value, "a#b");
  assert.equal(entry('[S]\nd = "x # y ; z" # c\n', "S", "d")?.value, "x # y ; z");
  assert.equal(entry("[S]\nd = a=b\n", "S", "d")?.value, "a=b");
});

Deno.test("parseIni() names the line of each syntax error", () => {
  const cases: Array<[string, number, RegExp]> = [
    ["k = v\n", 1, /outside any \[section\]/],
    ["[A]\njustaword\n", 2, /expected "key = value"/],
    ["[A]\nk = 1\nk = 2\n", 3, /set twice \(first on line 2\)/],
    ["[A] junk\n", 1, /after a \[section\] header/],
    ['[A]\nk = "open\n', 2, /unclosed quote/],
    ['[A]\nk = "a" b\n', 2, /after a closing quote/],
    ["[A]\n= v\n", 2, /expected "key = value"/],
  ];
  for (const [text, line, message] of cases) {
    assert.throws(
      () => parseIni(text),
      (e: unknown) => e instanceof IniSyntaxError && e.line === line && message.test(e.message),
      text,
    );
  }
});
