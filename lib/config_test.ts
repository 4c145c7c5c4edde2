import assert from "node:assert/strict";
import { ConfigError, LIMIT_KEYS, loadConfig, parseConfig, renderConfig } from "./config.ts";

const GOOD = "[Network]\nhost = 127.0.0.1\nport = 8443\nclient_id = alice\n";

function errorOf(text: string): string {
  try {
    parseConfig(text, "/etc/fc/test.conf");
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.message;
  }
  assert.fail("parsed without error");
}

Deno.test("parseConfig() reads the seed's keys and fills defaults", () => {
  const c = parseConfig(GOOD, "/etc/fc/test.conf");
  assert.equal(c.host, "127.0.0.1");
  assert.equal(c.port, 8443);
  assert.equal(c.nodeId, "alice");
  assert.equal(c.dataDir, "/etc/fc/data");
  assert.equal(c.publicHost, "127.0.0.1");
  assert.equal(c.openFederation, false);
});

Deno.test("parseConfig() reads [Delivery] push_first: on unless set false", () => {
  assert.equal(parseConfig(GOOD, "x.conf").delivery.pushFirst, true);
  const off = parseConfig(GOOD + "[Delivery]\npush_first = false\n", "x.conf");
  assert.equal(off.delivery.pushFirst, false);
  assert.match(errorOf(GOOD + "[Delivery]\npush_first = sometimes\n"), /true or false/);
});

Deno.test("parseConfig() accepts the seed's inline comments", () => {
  const c = parseConfig(
    "[Network]\nhost = 192.168.0.98  # Your server IP\nport = 8443 ; p\nclient_id = bob\n",
    "x.conf",
  );
  assert.equal(c.host, "192.168.0.98");
  assert.equal(c.port, 8443);
});

Deno.test("parseConfig() reads the example config.conf", async () => {
  const c = await loadConfig(new URL("../config.conf", import.meta.url).pathname);
  assert.equal(c.nodeId, "alice");
  assert.equal(c.maxFrameBytes, 1048576);
});

Deno.test("parseConfig() names file, line, section and key for a bad port", () => {
  const m = errorOf("[Network]\nhost = 127.0.0.1\nport = 99999\nclient_id = alice\n");
  assert.match(m, /test\.conf/);
  assert.match(m, /line 3, \[Network\] port/);
  assert.match(m, /"99999" is not allowed; use a whole number from 1 to 65535/);
  assert.match(errorOf("[Network]\nport = abc\nclient_id = a\n"), /line 2, \[Network\] port/);
  assert.match(errorOf("[Network]\nport = -1\nclient_id = a\n"), /line 2/);
  assert.match(errorOf("[Network]\nport =\nclient_id = a\n"), /line 2/);
});

Deno.test("parseConfig() reports a missing port and a missing client_id", () => {
  assert.match(errorOf("[Network]\nclient_id = alice\n"), /\[Network\] port is missing/);
  assert.match(errorOf("[Network]\nport = 1\n"), /\[Network\] client_id is missing/);
});

Deno.test("parseConfig() refuses an id that cannot be part of an address", () => {
  for (const bad of ["Alice", "al ice", "a@b", "-x", "a".repeat(33), "é"]) {
    const m = errorOf(`[Network]\nport = 1\nclient_id = ${bad}\n`);
    assert.match(m, /line 3, \[Network\] client_id/, bad);
    assert.match(m, /a-z, 0-9/);
  }
});

Deno.test("parseConfig() refuses unknown keys, sections, duplicates and bare lines", () => {
  assert.match(errorOf(GOOD + "colour = red\n"), /line 5, \[Network\] colour: unknown key/);
  assert.match(errorOf(GOOD + "[Nope]\n"), /line 5: unknown section \[Nope\]/);
  assert.match(errorOf(GOOD + "port = 1\n"), /line 5, \[Network\] port: set twice/);
  assert.match(errorOf(GOOD + "justaword\n"), /line 5, \[Network\]: expected "key = value"/);
  assert.match(errorOf("port = 1\n"), /outside any \[section\]/);
  assert.match(errorOf(GOOD + "[Federation]\nopen = maybe\n"), /true or false/);
  assert.match(errorOf(GOOD.replace("127.0.0.1", "bad host!")), /host name/);
});

Deno.test("parseConfig() refuses names inherited from Object.prototype as sections and keys", () => {
  assert.match(errorOf(`${GOOD}[__proto__]\nclient_id = bob\n`), /unknown section \[__proto__\]/);
  assert.match(errorOf(`${GOOD}[constructor]\nname = x\n`), /unknown section \[constructor\]/);
  assert.match(errorOf(`${GOOD}toString = 1\n`), /\[Network\] toString: unknown key/);
  assert.match(
    errorOf(`${GOOD}[Log]\nhasOwnProperty = 1\n`),
    /\[Log\] hasOwnProperty: unknown key/,
  );
});

Deno.test("loadConfig() explains an unreadable file", async () => {
  await assert.rejects(
    loadConfig("/nonexistent/fedchat.conf"),
    (e: Error) => e instanceof ConfigError && /no such file/.test(e.message),
  );
});

Deno.test("renderConfig() output parses back", () => {
  const c = parseConfig(renderConfig({ port: 9001, nodeId: "node2" }), "/x/y.conf");
  assert.equal(c.port, 9001);
  assert.equal(c.nodeId, "node2");
});

Deno.test("parseConfig() reads file limits in bytes with K, M, G, T and the [Files] keys", () => {
  const c = parseConfig(
    GOOD +
      "[Limits]\nmax_file_bytes = 4G\nfile_quota_bytes = 512M\n" +
      "[Files]\ndownloads_dir = dl\nauto_accept_bytes = 1024\n",
    "/etc/fc/test.conf",
  );
  assert.equal(c.maxFileBytes, 4 * 1024 ** 3);
  assert.equal(c.fileQuotaBytes, 512 * 1024 ** 2);
  assert.equal(c.downloadsDir, "/etc/fc/dl");
  assert.equal(c.autoAcceptFileBytes, 1024);
  const d = parseConfig(GOOD, "/etc/fc/test.conf");
  assert.equal(d.downloadsDir, null);
  assert.equal(d.autoAcceptFileBytes, 0);
  assert.match(
    errorOf(GOOD + "[Limits]\nmax_file_bytes = lots\n"),
    /\[Limits\] max_file_bytes: "lots" is not allowed; use a number of bytes/,
  );
  assert.match(errorOf(GOOD + "[Limits]\nfile_quota_bytes = 10\n"), /file_quota_bytes/);
});

Deno.test("parseConfig() reads the connection caps and write limits of [Limits]", () => {
  const d = parseConfig(GOOD, "/etc/fc/test.conf");
  assert.equal(d.maxUnauthenticatedConnections, 128);
  assert.equal(d.reservedKnownConnections, 32);
  assert.equal(d.writeBufferBytes, 1024 * 1024);
  assert.equal(d.maxWriteBufferBytes, 8 * 1024 * 1024);
  assert.equal(d.writeStallMs, 30_000);
  const c = parseConfig(
    GOOD +
      "[Limits]\nmax_unauthenticated_connections = 40\nreserved_known_connections = 0\n" +
      "write_buffer_bytes = 256K\nmax_write_buffer_bytes = 4M\nwrite_stall_ms = 5000\n",
    "/etc/fc/test.conf",
  );
  assert.equal(c.maxUnauthenticatedConnections, 40);
  assert.equal(c.reservedKnownConnections, 0);
  assert.equal(c.writeBufferBytes, 256 * 1024);
  assert.equal(c.maxWriteBufferBytes, 4 * 1024 * 1024);
  assert.equal(c.writeStallMs, 5000);
  assert.match(
    errorOf(GOOD + "[Limits]\nmax_frame_bytes = 4194304\nmax_write_buffer_bytes = 8M\n"),
    /line \d+, \[Limits\] max_write_buffer_bytes: 8388608 is too small; use at least/,
  );
  assert.match(errorOf(GOOD + "[Limits]\nwrite_stall_ms = 10\n"), /write_stall_ms/);
  assert.match(
    errorOf(GOOD + "[Limits]\nmax_connections = 16\nreserved_known_connections = 16\n"),
    /reserved_known_connections: 16 is too large/,
  );
  const small = parseConfig(GOOD + "[Limits]\nmax_connections = 16\n", "/x.conf");
  assert.equal(small.maxUnauthenticatedConnections, 8, "defaults follow max_connections");
  assert.equal(small.reservedKnownConnections, 2);
  assert.equal(d.maxUnauthenticatedConnectionsPerNetwork, 32, "a quarter of the pool");
  assert.equal(small.maxUnauthenticatedConnectionsPerNetwork, 16, "at least one address's worth");
  const wide = parseConfig(
    GOOD + "[Limits]\nmax_connections = 4096\nmax_unauthenticated_connections = 2048\n",
    "/x.conf",
  );
  assert.equal(wide.maxUnauthenticatedConnectionsPerNetwork, 64, "at most 4 addresses' worth");
  const set = parseConfig(
    GOOD + "[Limits]\nmax_unauthenticated_connections_per_network = 5\n",
    "/x.conf",
  );
  assert.equal(set.maxUnauthenticatedConnectionsPerNetwork, 5);
});

Deno.test("parseConfig(): a network's budgets follow the per-address ones unless set", () => {
  const net = (limits: string) => {
    const l = parseConfig(`${GOOD}[Limits]\n${limits}`, "/x.conf").limits;
    return [l.openLinksPerNetwork, l.openLinksPerNetworkPerMinute, l.handshakesPerNetworkPerMinute];
  };
  // 4 addresses' worth, at most a quarter of the total, at least one address's worth.
  assert.deepEqual(net(""), [128, 120, 2400]);
  const small = "open_links_per_address = 4\nopen_links_total = 32\n" +
    "open_links_per_address_per_minute = 10\nhandshakes_per_address_per_minute = 20\n";
  assert.deepEqual(net(small), [8, 40, 80]);
  assert.deepEqual(net("open_links_per_address = 8\nopen_links_total = 12\n"), [8, 120, 2400]);
  const set = "open_links_per_network = 50\nopen_links_per_network_per_minute = 7\n" +
    "handshakes_per_network_per_minute = 99\n";
  assert.deepEqual(net(set), [50, 7, 99]);
  assert.match(errorOf(GOOD + "[Limits]\nopen_links_per_network = 0\n"), /open_links_per_network/);
});

Deno.test("parseConfig() reads the routing-origin budgets under [Limits], with safe defaults", () => {
  const pick = (c: ReturnType<typeof parseConfig>) => {
    const l = c.limits;
    return [
      l.routingOrigins,
      l.provisionalOriginsPerPeer,
      l.provisionalOrigins,
      l.provisionalBytesPerPeer,
      l.provisionalBytes,
    ];
  };
  assert.deepEqual(pick(parseConfig(GOOD, "/etc/fc/test.conf")), [
    100_000,
    4096,
    16_384,
    4 * 1024 * 1024,
    16 * 1024 * 1024,
  ]);
  const c = parseConfig(
    GOOD +
      "[Limits]\nmax_routing_origins = 5000\nmax_provisional_origins_per_peer = 64\n" +
      "max_provisional_origins = 256\nmax_provisional_bytes_per_peer = 1M\n" +
      "max_provisional_bytes = 2M\n",
    "/etc/fc/test.conf",
  );
  assert.deepEqual(pick(c), [5000, 64, 256, 1024 * 1024, 2 * 1024 * 1024]);
  assert.throws(
    () => parseConfig(GOOD + "[Limits]\nmax_provisional_origins_per_peer = 0\n", "/x.conf"),
    /max_provisional_origins_per_peer: "0" is not allowed; use a whole number from 1/,
  );
});

Deno.test("parseConfig() reads the memory budgets of envelopes waiting for a commit or pushed to clients, with safe defaults", () => {
  const pick = (c: ReturnType<typeof parseConfig>) => {
    const l = c.limits;
    return [
      l.commitBytesPerOrigin,
      l.commitBytesTotal,
      l.pushWindowBytesPerClient,
      l.pushFirstBytesTotal,
    ];
  };
  const MIB = 1024 * 1024;
  assert.deepEqual(pick(parseConfig(GOOD, "/etc/fc/test.conf")), [
    16 * MIB,
    64 * MIB,
    4 * MIB,
    16 * MIB,
  ]);
  const c = parseConfig(
    GOOD +
      "[Limits]\ncommit_bytes_per_origin = 2M\ncommit_bytes_total = 8M\n" +
      "push_window_bytes_per_client = 1M\npush_first_bytes_total = 4M\n",
    "/etc/fc/test.conf",
  );
  assert.deepEqual(pick(c), [2 * MIB, 8 * MIB, 1 * MIB, 4 * MIB]);
  // An envelope (a 512 KiB body) always fits an origin's share.
  assert.match(
    errorOf(GOOD + "[Limits]\ncommit_bytes_per_origin = 64K\n"),
    /commit_bytes_per_origin/,
  );
});

Deno.test("parseConfig(): a hub's fan-out bounds, defaults and set; one envelope always fits a batch", () => {
  const pick = (c: ReturnType<typeof parseConfig>) => {
    const l = c.limits;
    return [l.hubFanoutMemoryBytes, l.hubFanoutStagedBytesPerOrigin, l.hubFanoutStagedBytesTotal];
  };
  const MIB = 1024 * 1024;
  assert.deepEqual(pick(parseConfig(GOOD, "/etc/fc/test.conf")), [16 * MIB, 256 * MIB, 1024 * MIB]);
  const c = parseConfig(
    GOOD +
      "[Limits]\nhub_fanout_memory_bytes = 2M\nhub_fanout_staged_bytes_per_origin = 8M\n" +
      "hub_fanout_staged_bytes_total = 32M\n",
    "/etc/fc/test.conf",
  );
  assert.deepEqual(pick(c), [2 * MIB, 8 * MIB, 32 * MIB]);
  assert.match(
    errorOf(GOOD + "[Limits]\nhub_fanout_memory_bytes = 512K\n"),
    /hub_fanout_memory_bytes/,
  );
});

Deno.test("the example config.conf sets every [Limits] budget to its default, and every other key it sets too", async () => {
  const path = new URL("../config.conf", import.meta.url).pathname;
  const text = await Deno.readTextFile(path);
  for (const { key } of LIMIT_KEYS) {
    assert.match(text, new RegExp(`^${key} = `, "m"), `config.conf documents ${key}`);
  }
  const example = await loadConfig(path);
  const defaults = parseConfig(GOOD, path);
  assert.deepEqual(example.limits, defaults.limits, "config.conf shows the defaults");
  assert.deepEqual(example.delivery, defaults.delivery);
  const { file: _f, nodeId: _n, dataDir: _d, downloadsDir: _dl, limits: _l, ...rest } = example;
  const { file: _f2, nodeId: _n2, dataDir: _d2, downloadsDir: _dl2, limits: _l2, ...rest2 } =
    defaults;
  assert.deepEqual(rest, rest2);
});

Deno.test("the example config.conf names every key of every section, set or commented out", async () => {
  const text = await Deno.readTextFile(new URL("../config.conf", import.meta.url).pathname);
  const blocks = new Map<string, string>();
  for (const part of text.split(/^\[/m).slice(1)) {
    blocks.set(part.slice(0, part.indexOf("]")), part);
  }
  for (
    const section of [
      "Network",
      "Storage",
      "Federation",
      "Limits",
      "Delivery",
      "Files",
      "UI",
      "Log",
    ]
  ) {
    // The loader lists a section's keys when it refuses an unknown one.
    const message = errorOf(`${GOOD}[${section}]\nno_such_key = 1\n`);
    const keys = /allowed in \[\w+\]: (.*)$/.exec(message)![1].split(", ");
    for (const key of keys) {
      assert.match(
        blocks.get(section) ?? "",
        new RegExp(`^(; )?${key} = `, "m"),
        `[${section}] ${key}`,
      );
    }
  }
});
