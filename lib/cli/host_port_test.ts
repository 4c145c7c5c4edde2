import assert from "node:assert/strict";
import { CliError } from "./cli_error.ts";
import { formatHostPort, parseHostPort } from "./host_port.ts";

Deno.test("formatHostPort() and parseHostPort() round-trip names, IPv4 and IPv6", () => {
  for (const [host, port] of [["example.org", 443], ["10.0.0.2", 9001], ["::1", 65535]] as const) {
    assert.deepEqual(parseHostPort(formatHostPort(host, port)), { host, port });
  }
  assert.equal(formatHostPort("::1", 9000), "[::1]:9000");
});

Deno.test("parseHostPort() refuses what is not HOST:PORT with a CliError naming the flag", () => {
  for (const bad of ["example.org", ":9000", "h:0", "h:65536", "::1:9000", "h:9000x", "[::1]"]) {
    assert.throws(
      () => parseHostPort(bad),
      (e) => e instanceof CliError && /--node/.test(e.message),
    );
  }
});
