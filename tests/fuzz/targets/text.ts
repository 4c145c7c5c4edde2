/**
 * Fuzz targets that read text: admin request lines, UI commands (JSON from
 * the browser), config files and INI, and invite lines.
 */
import { ConfigError, parseConfig, renderConfig } from "../../../lib/config.ts";
import { IniSyntaxError, parseIni } from "../../../lib/ini.ts";
import { formatInvite, parseInvite } from "../../../lib/federation/invite.ts";
import { toNodeId } from "../../../lib/ids.ts";
import { AdminError, parseAdminRequest } from "../../../lib/node/admin_server.ts";
import { MAX_MESSAGE_CHARS } from "../../../lib/client/api.ts";
import { parseUiCommand } from "../../../lib/ui/api_types.ts";
import { type FuzzTarget, InputRefused, rejects } from "../harness.ts";

const te = new TextEncoder();
// The UI server's limits: commands are checked against the client's message length, and
// bodies are capped at 6 bytes per character plus 4 KiB (lib/web/start_ui_server.ts).
const UI_LIMITS = { maxMessageChars: MAX_MESSAGE_CHARS };
const MAX_BODY_BYTES = MAX_MESSAGE_CHARS * 6 + 4096;
const utf8 = (b: Uint8Array) => new TextDecoder().decode(b);

const ADMIN_REQUESTS = [
  { cmd: "status" },
  { cmd: "connect", args: { host: "127.0.0.1", port: 9001, nodeId: "nodeb" } },
  { cmd: "users-add", args: { name: "carol", listed: true } },
  { cmd: "send", args: { address: "bob@nodeb", text: "hi" } },
  { cmd: "history", args: { address: "bob@nodeb", limit: 10 } },
];

const UI_COMMANDS = [
  { kind: "connect", host: "chat.example.org", port: 8443, nodeId: "nodeb" },
  { kind: "connectInvite", invite: "fedchat://nodeb@h:1?fp=abcdefghijklmnopqrst" },
  { kind: "approveLink", nodeId: "nodeb" },
  { kind: "request", address: "bob@nodeb", intro: "hi, it is Alice" },
  { kind: "send", address: "bob@nodeb", text: "hello" },
  { kind: "markRead", address: "bob" },
  { kind: "acceptFile", id: "0123456789abcdef0123456789abcdef" },
];

const CONFIG_WORDS = [
  "[Network]",
  "[Storage]",
  "[Federation]",
  "[Limits]",
  "[Files]",
  "[UI]",
  "[Log]",
  "host",
  "port",
  "client_id",
  "public_host",
  "public_port",
  "data_dir",
  "open",
  "listed",
  "max_frame_bytes",
  "max_connections",
  "max_connections_per_address",
  "handshake_timeout_ms",
  "max_file_bytes",
  "file_quota_bytes",
  "downloads_dir",
  "auto_accept_bytes",
  "level",
  " = ",
  "[__proto__]",
  "[constructor]",
  "toString",
  "__proto__",
  "true",
  "65535",
  "4096",
  "99999999999",
  "8 GiB",
  "1t",
  "[::1]",
  "192.168.0.98",
  "  # comment",
  " ; comment",
  '"quoted # value"',
];

// Every section and key config.conf may hold (the example config.conf documents each).
const KNOWN_KEYS: Record<string, readonly string[]> = {
  Network: ["host", "port", "client_id", "public_host", "public_port"],
  Storage: ["data_dir"],
  Federation: ["open", "listed"],
  Limits: [
    "max_frame_bytes",
    "max_connections",
    "max_connections_per_address",
    "handshake_timeout_ms",
    "max_file_bytes",
    "file_quota_bytes",
  ],
  Files: ["downloads_dir", "auto_accept_bytes"],
  UI: ["port"],
  Log: ["level"],
};

const CONFIGS = [
  renderConfig({ port: 9000, nodeId: "alice", openFederation: true }),
  [
    "[Network]",
    "host = 192.168.0.98  # Your server IP",
    "port = 9001",
    "client_id = alice",
    "public_host = chat.example.org",
    "[Limits]",
    "max_file_bytes = 8 GiB",
    "file_quota_bytes = 2g",
    "[Files]",
    'downloads_dir = "/tmp/a # b"',
    "[UI]",
    "port = 0",
    "[Log]",
    "level = debug",
    "",
  ].join("\r\n"),
];

/** The text targets. */
export const TEXT_TARGETS: FuzzTarget[] = [
  {
    // The line the admin socket reads: up to the first newline, UTF-8 with replacement.
    name: "admin-request",
    owner: "fuzz",
    errors: "AdminError",
    decode: (b) => parseAdminRequest(utf8(b).split("\n")[0]),
    allowed: rejects(AdminError),
    seeds: () => ADMIN_REQUESTS.map((r) => te.encode(JSON.stringify(r))),
    format: "json",
    dictionary: ["cmd", "args", "host", "port", "nodeId", "address", "text", "limit"],
    maxBytes: 64 * 1024,
  },
  {
    // What POST /api/command runs: the route's JSON step (refusals there are the route's),
    // then parseUiCommand.
    name: "ui-command",
    owner: "ui",
    errors: 'TypeError or RangeError "Cannot read command: …"',
    decode: (b) => {
      if (b.length > MAX_BODY_BYTES) throw new InputRefused("too large");
      let value: unknown;
      try {
        value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b));
      } catch (cause) {
        throw new InputRefused("not JSON", { cause });
      }
      return parseUiCommand(value, UI_LIMITS);
    },
    allowed: (e) =>
      e instanceof InputRefused ||
      (rejects(TypeError, RangeError)(e) && /^Cannot read command: /.test((e as Error).message)),
    seeds: () => UI_COMMANDS.map((c) => te.encode(JSON.stringify(c))),
    format: "json",
    dictionary: ["kind", "host", "port", "nodeId", "invite", "address", "intro", "text", "id"],
    maxBytes: MAX_BODY_BYTES,
  },
  {
    name: "config",
    owner: "fuzz",
    errors: "ConfigError",
    decode: (b) => parseConfig(utf8(b), "fuzz.conf"),
    allowed: rejects(ConfigError),
    // An accepted config holds no section or key the program does not know.
    check: (_, input) => {
      for (const [name, section] of parseIni(utf8(input))) {
        if (!Object.hasOwn(KNOWN_KEYS, name)) return `accepted unknown section [${name}]`;
        for (const key of section.entries.keys()) {
          if (!KNOWN_KEYS[name].includes(key)) return `accepted unknown key ${key} in [${name}]`;
        }
      }
      return null;
    },
    seeds: () => CONFIGS.map((c) => te.encode(c)),
    format: "text",
    dictionary: CONFIG_WORDS,
  },
  {
    name: "ini",
    owner: "fuzz",
    errors: "IniSyntaxError",
    decode: (b) => parseIni(utf8(b)),
    allowed: rejects(IniSyntaxError),
    seeds: () => CONFIGS.map((c) => te.encode(c)),
    format: "text",
    dictionary: CONFIG_WORDS,
  },
  {
    name: "invite",
    owner: "federation",
    errors: "RangeError",
    decode: (b) => parseInvite(utf8(b)),
    allowed: rejects(RangeError),
    seeds: () =>
      [
        { nodeId: "nodeb", host: "chat.example.org", port: 8443 },
        { nodeId: "n_1", host: "::1", port: 1 },
      ].map((i) =>
        te.encode(formatInvite({ ...i, nodeId: toNodeId(i.nodeId), fingerprint: "a".repeat(52) }))
      ),
    format: "text",
    dictionary: ["fedchat://", "@", ":", "?fp=", "%", "%40", "[", "]", "#", "/", "%E0%A4%A"],
    known: [{
      id: "invite-uri-error",
      kind: "error",
      matches: (m) => m.startsWith("threw URIError"),
    }],
  },
];
