/**
 * config.conf: INI with the seed's `[Network] host / port / client_id` and the
 * sections this project adds. Every key is known; every value is checked; an
 * error names the file, line, section and key and says what is allowed.
 */
import { dirname, isAbsolute, join, resolve } from "node:path";
import { networkShare } from "./budget.ts";
import { ID_RULE, type NodeId, toNodeId } from "./ids.ts";
import { IniSyntaxError, parseIni } from "./ini.ts";
import type { LogLevel } from "./log.ts";

/** A loaded, validated configuration. Paths are absolute. */
export interface Config {
  /** The file it came from. */
  file: string;
  /** Where the node listens. */
  host: string;
  port: number;
  /** The node id (`client_id`). */
  nodeId: NodeId;
  /** What other nodes are told to dial (defaults to host / port). */
  publicHost: string;
  publicPort: number;
  /** Where keys, certificates and the store live. */
  dataDir: string;
  /** Accept links from unknown nodes without the owner's approval. */
  openFederation: boolean;
  /** Whether this node's users appear in other nodes' directories at all. */
  listed: boolean;
  /** Largest frame accepted on a link, bytes. */
  maxFrameBytes: number;
  /** Open connections in total / from one address (an IPv6 /64 counts as one). */
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** Connections not yet authenticated from addresses that never authenticated here (default: half of `maxConnections`). */
  maxUnauthenticatedConnections: number;
  /**
   * Of those, from one network (an IPv4 /24, an IPv6 /48). Default: a quarter of
   * `maxUnauthenticatedConnections`, at most 4 × and at least 1 × `maxConnectionsPerAddress`.
   */
  maxUnauthenticatedConnectionsPerNetwork: number;
  /** Slots of `maxConnections` kept for addresses that authenticated before (default: an eighth). */
  reservedKnownConnections: number;
  /** Unsent bytes per connection at which senders wait (and 1/4 of it: go on). */
  writeBufferBytes: number;
  /** Unsent bytes per connection past which it is closed (its peer is not reading). */
  maxWriteBufferBytes: number;
  /** A connection whose senders have waited this long is closed. */
  writeStallMs: number;
  /** Time a new connection gets to finish TLS, the upgrade and authentication. */
  handshakeTimeoutMs: number;
  /** Port of the local browser UI on loopback; 0 picks a free one. */
  uiPort: number;
  /** Open connections to the UI port in total / from one address. */
  uiMaxConnections: number;
  uiMaxConnectionsPerAddress: number;
  /** Time a UI connection gets to send a whole request head (first or next). */
  uiHeadTimeoutMs: number;
  /** Time a UI connection may stay silent while we wait on it (a body, a write, a pong). */
  uiIdleTimeoutMs: number;
  /** Largest file the browser may upload through the UI. */
  uiMaxUploadBytes: number;
  /** Largest file (bytes) this node accepts for a local user. */
  maxFileBytes: number;
  /** File bytes one local user may have waiting at this node, not yet taken by their client. */
  fileQuotaBytes: number;
  /** Where the owner's client saves received files; null: `downloads` in the client's folder. */
  downloadsDir: string | null;
  /** Offers of files up to this size are accepted without asking; larger ones always ask. */
  autoAcceptFileBytes: number;
  /** Files pushed while the owner's node was away (through a mailbox) are taken up to this size. */
  awayAcceptFileBytes: number;
  logLevel: LogLevel;
  /** Budgets on what others (and local users) can make this node keep or do: `[Limits]`. */
  limits: Limits;
  /** How long undelivered messages wait, and how far clocks may disagree: `[Delivery]`. */
  delivery: DeliverySettings;
}

/** `[Delivery]` settings. */
export interface DeliverySettings {
  /** How long an undelivered message waits before its sender is told it failed. */
  messageLifetimeMs: number;
  /** How far another node's clock may be from ours when judging an envelope's age. */
  clockAllowanceMs: number;
  /**
   * A message for a user whose client is attached is pushed to it before it
   * is stored (lib/node/delivery.ts); false: stored first, then pushed.
   */
  pushFirst: boolean;
}

/** The budgets of `[Limits]`, by field (see {@linkcode LIMIT_KEYS} for keys and defaults). */
export interface Limits {
  outboxRowsPerUser: number;
  outboxBytesPerUser: number;
  inboxBytesPerUser: number;
  inboxBytesTotal: number;
  /** Bytes of envelopes from one origin node admitted and waiting for their commit. */
  commitBytesPerOrigin: number;
  /** Bytes of envelopes from other nodes admitted and waiting for their commit, in all. */
  commitBytesTotal: number;
  /** Bytes pushed to one client session and not yet acknowledged (lib/node/client_hub.ts). */
  pushWindowBytesPerClient: number;
  /** Bytes of envelopes pushed to clients before they are stored, in all (lib/node/delivery.ts). */
  pushFirstBytesTotal: number;
  pendingRequestsPerUser: number;
  dedupIdsPerOrigin: number;
  dedupIdsTotal: number;
  requestsPerSenderPerMinute: number;
  requestsPerOriginPerMinute: number;
  messagesPerOriginPerSecond: number;
  undeliverablePerOriginPerMinute: number;
  peerEnvelopesPerSecond: number;
  peerForgedPerMinute: number;
  pendingLinksPerAddress: number;
  pendingLinksTotal: number;
  /** Nodes waiting for approval per network key (default: {@linkcode networkShare}). */
  pendingLinksPerNetwork: number;
  pendingLinkTtlMs: number;
  /** Nodes an open node linked at first contact (not the owner's), per address key and in all. */
  openLinksPerAddress: number;
  openLinksTotal: number;
  /** New such nodes per address key and minute (a burst of as many). */
  openLinksPerAddressPerMinute: number;
  /** New connections to the node's listener per address key and minute (a burst of as many). */
  handshakesPerAddressPerMinute: number;
  /**
   * Strangers (as `openLinksPerAddress`) per network key: an IPv4 /24, an IPv6 /48
   * (lib/wss/address_key.ts `networkKey`). Default: see {@linkcode networkShare}.
   */
  openLinksPerNetwork: number;
  /** New strangers per network key and minute (default: 4 × the per-address rate). */
  openLinksPerNetworkPerMinute: number;
  /**
   * New connections from addresses that never authenticated here, per network key and minute
   * (default: 4 × the per-address rate).
   */
  handshakesPerNetworkPerMinute: number;
  fileSpoolTotalBytes: number;
  /** Spool segment files (one per file being received) one local user may have. */
  fileSegmentsPerUser: number;
  /** Spool segment files of all local users together. */
  fileSegmentsTotal: number;
  /**
   * One sending node's share of a local user's quotas (spool bytes and segments, inbox
   * bytes), in percent of the room the other senders leave (100: no share).
   */
  senderSharePercent: number;
  mailboxBytesPerSender: number;
  mailboxBytesTotal: number;
  mailboxDefaultQuotaBytes: number;
  /** Routing: other nodes kept in all, confirmed ones included. */
  routingOrigins: number;
  /** Routing: origins heard through one neighbour only, per neighbour. */
  provisionalOriginsPerPeer: number;
  /** Routing: such origins in all. */
  provisionalOrigins: number;
  /** Routing: bytes of their announcements per neighbour. */
  provisionalBytesPerPeer: number;
  /** Routing: bytes of their announcements in all. */
  provisionalBytes: number;
  keyPackagesPerUser: number;
  keyPackageFetchesPerOriginPerMinute: number;
  pendingInvitationsPerUser: number;
  invitationsPerSenderPerMinute: number;
  invitationsPerOriginPerMinute: number;
  groupsPerUser: number;
  groupMembersMax: number;
  hubGroupsTotal: number;
  hubSubmissionsPerOriginPerMinute: number;
  /** Bytes of a hub's fan-out envelopes read into memory for their hand-over to the outbox. */
  hubFanoutMemoryBytes: number;
  /** Bytes of fan-out staged at a hub (groups.db) for submissions from one origin node. */
  hubFanoutStagedBytesPerOrigin: number;
  /** Bytes of fan-out staged at a hub, in all. */
  hubFanoutStagedBytesTotal: number;
}

/** A config file that cannot be used; the message says where and what to do. */
export class ConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

interface KeySpec {
  parse: (raw: string) => unknown;
  allowed: string;
}

const portSpec = (min: number): KeySpec => ({
  parse: (raw) => {
    const n = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= min && n <= 65535)) throw new RangeError();
    return n;
  },
  allowed: `a whole number from ${min} to 65535`,
});

const intSpec = (min: number, max: number): KeySpec => ({
  parse: (raw) => {
    const n = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= min && n <= max)) throw new RangeError();
    return n;
  },
  allowed: `a whole number from ${min} to ${max}`,
});

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

const byteSpec = (min: number, max: number): KeySpec => ({
  parse: (raw) => {
    const m = /^(\d{1,16})\s*([kmgt]?)i?b?$/i.exec(raw);
    const n = m ? Number(m[1]) * UNITS[m[2].toLowerCase()] : NaN;
    if (!(Number.isSafeInteger(n) && n >= min && n <= max)) throw new RangeError();
    return n;
  },
  allowed: `a number of bytes from ${min} to ${max}, optionally with K, M, G or T (1024-based)`,
});

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const durationSpec = (minMs: number, maxMs: number): KeySpec => ({
  parse: (raw) => {
    const m = /^(\d{1,12})\s*(ms|s|m|h|d)$/.exec(raw);
    const n = m ? Number(m[1]) * DURATION_UNITS[m[2]] : NaN;
    if (!(Number.isSafeInteger(n) && n >= minMs && n <= maxMs)) throw new RangeError();
    return n;
  },
  allowed: `a duration from ${formatMs(minMs)} to ${formatMs(maxMs)}, like 30s, 90m, 12h or 7d`,
});

function formatMs(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]]) {
    if (ms % (size as number) === 0) return `${ms / (size as number)}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * The `[Limits]` budgets: config key, field, what is allowed, default. Each is
 * counted in `status --json` under `budgets`; docs/SECURITY.md lists what
 * happens when one is reached. A key with `derive` takes, when not set, what
 * `derive` makes of the other limits (`default` is that of the defaults).
 */
export const LIMIT_KEYS: ReadonlyArray<
  {
    key: string;
    field: keyof Limits;
    spec: KeySpec;
    default: number;
    derive?: (limits: Limits) => number;
  }
> = [
  {
    key: "outbox_messages_per_user",
    field: "outboxRowsPerUser",
    spec: intSpec(1, 100_000_000),
    default: 100_000,
  },
  {
    key: "outbox_bytes_per_user",
    field: "outboxBytesPerUser",
    spec: byteSpec(65_536, 2 ** 50),
    default: 512 * 1024 ** 2,
  },
  {
    key: "inbox_bytes_per_user",
    field: "inboxBytesPerUser",
    spec: byteSpec(65_536, 2 ** 50),
    default: 256 * 1024 ** 2,
  },
  {
    key: "inbox_bytes_total",
    field: "inboxBytesTotal",
    spec: byteSpec(65_536, 2 ** 50),
    default: 4 * 1024 ** 3,
  },
  {
    key: "commit_bytes_per_origin",
    field: "commitBytesPerOrigin",
    // Above the largest envelope (a 512 KiB body and its header), so one always fits.
    spec: byteSpec(1024 * 1024, 2 ** 40),
    default: 16 * 1024 ** 2,
  },
  {
    key: "commit_bytes_total",
    field: "commitBytesTotal",
    spec: byteSpec(1024 * 1024, 2 ** 40),
    default: 64 * 1024 ** 2,
  },
  {
    key: "push_window_bytes_per_client",
    field: "pushWindowBytesPerClient",
    spec: byteSpec(65_536, 2 ** 40),
    default: 4 * 1024 ** 2,
  },
  {
    key: "push_first_bytes_total",
    field: "pushFirstBytesTotal",
    spec: byteSpec(65_536, 2 ** 40),
    default: 16 * 1024 ** 2,
  },
  {
    key: "pending_requests_per_user",
    field: "pendingRequestsPerUser",
    spec: intSpec(1, 1_000_000),
    default: 200,
  },
  {
    key: "dedup_ids_per_origin",
    field: "dedupIdsPerOrigin",
    spec: intSpec(1000, 1_000_000_000),
    default: 2_000_000,
  },
  {
    key: "dedup_ids_total",
    field: "dedupIdsTotal",
    spec: intSpec(1000, 1_000_000_000),
    default: 10_000_000,
  },
  {
    key: "requests_per_sender_per_minute",
    field: "requestsPerSenderPerMinute",
    spec: intSpec(1, 1_000_000),
    default: 5,
  },
  {
    key: "requests_per_origin_per_minute",
    field: "requestsPerOriginPerMinute",
    spec: intSpec(1, 1_000_000),
    default: 30,
  },
  {
    key: "messages_per_origin_per_second",
    field: "messagesPerOriginPerSecond",
    spec: intSpec(1, 10_000_000),
    default: 20_000,
  },
  {
    key: "undeliverable_per_origin_per_minute",
    field: "undeliverablePerOriginPerMinute",
    spec: intSpec(1, 10_000_000),
    default: 600,
  },
  {
    key: "peer_envelopes_per_second",
    field: "peerEnvelopesPerSecond",
    spec: intSpec(10, 10_000_000),
    default: 50_000,
  },
  {
    key: "peer_forged_per_minute",
    field: "peerForgedPerMinute",
    spec: intSpec(1, 1_000_000),
    default: 20,
  },
  {
    key: "pending_links_per_address",
    field: "pendingLinksPerAddress",
    spec: intSpec(1, 10_000),
    default: 4,
  },
  {
    key: "pending_links_total",
    field: "pendingLinksTotal",
    spec: intSpec(1, 100_000),
    default: 64,
  },
  {
    key: "pending_links_per_network",
    field: "pendingLinksPerNetwork",
    spec: intSpec(1, 100_000),
    default: 16,
    derive: (l) => networkShare(l.pendingLinksPerAddress, l.pendingLinksTotal),
  },
  {
    key: "pending_link_ttl",
    field: "pendingLinkTtlMs",
    spec: durationSpec(60_000, 365 * 86_400_000),
    default: 7 * 86_400_000,
  },
  {
    key: "open_links_per_address",
    field: "openLinksPerAddress",
    spec: intSpec(1, 100_000),
    default: 32,
  },
  {
    key: "open_links_total",
    field: "openLinksTotal",
    spec: intSpec(1, 1_000_000),
    default: 1024,
  },
  {
    key: "open_links_per_address_per_minute",
    field: "openLinksPerAddressPerMinute",
    spec: intSpec(1, 100_000),
    default: 30,
  },
  {
    key: "handshakes_per_address_per_minute",
    field: "handshakesPerAddressPerMinute",
    spec: intSpec(10, 1_000_000),
    default: 600,
  },
  {
    key: "open_links_per_network",
    field: "openLinksPerNetwork",
    spec: intSpec(1, 1_000_000),
    default: 128,
    derive: (l) => networkShare(l.openLinksPerAddress, l.openLinksTotal),
  },
  {
    key: "open_links_per_network_per_minute",
    field: "openLinksPerNetworkPerMinute",
    spec: intSpec(1, 1_000_000),
    default: 120,
    derive: (l) => networkShare(l.openLinksPerAddressPerMinute),
  },
  {
    key: "handshakes_per_network_per_minute",
    field: "handshakesPerNetworkPerMinute",
    spec: intSpec(10, 10_000_000),
    default: 2400,
    derive: (l) => networkShare(l.handshakesPerAddressPerMinute),
  },
  {
    key: "file_spool_total_bytes",
    field: "fileSpoolTotalBytes",
    spec: byteSpec(1024 * 1024, 2 ** 50),
    default: 16 * 1024 ** 3,
  },
  {
    key: "file_segments_per_user",
    field: "fileSegmentsPerUser",
    spec: intSpec(16, 10_000_000),
    default: 4096,
  },
  {
    key: "file_segments_total",
    field: "fileSegmentsTotal",
    spec: intSpec(16, 100_000_000),
    default: 65_536,
  },
  {
    key: "sender_share_percent",
    field: "senderSharePercent",
    spec: intSpec(10, 100),
    default: 50,
  },
  {
    key: "mailbox_bytes_per_sender",
    field: "mailboxBytesPerSender",
    spec: byteSpec(65_536, 2 ** 50),
    default: 256 * 1024 ** 2,
  },
  {
    key: "mailbox_bytes_total",
    field: "mailboxBytesTotal",
    spec: byteSpec(65_536, 2 ** 50),
    default: 4 * 1024 ** 3,
  },
  {
    key: "mailbox_default_quota",
    field: "mailboxDefaultQuotaBytes",
    spec: byteSpec(65_536, 2 ** 50),
    default: 1024 ** 3,
  },
  {
    key: "max_routing_origins",
    field: "routingOrigins",
    spec: intSpec(16, 10_000_000),
    default: 100_000,
  },
  {
    key: "max_provisional_origins_per_peer",
    field: "provisionalOriginsPerPeer",
    spec: intSpec(1, 10_000_000),
    default: 4096,
  },
  {
    key: "max_provisional_origins",
    field: "provisionalOrigins",
    spec: intSpec(1, 10_000_000),
    default: 16_384,
  },
  {
    key: "max_provisional_bytes_per_peer",
    field: "provisionalBytesPerPeer",
    spec: byteSpec(65_536, 2 ** 40),
    default: 4 * 1024 ** 2,
  },
  {
    key: "max_provisional_bytes",
    field: "provisionalBytes",
    spec: byteSpec(65_536, 2 ** 40),
    default: 16 * 1024 ** 2,
  },
  {
    key: "key_packages_per_user",
    field: "keyPackagesPerUser",
    spec: intSpec(2, 1000),
    default: 32,
  },
  {
    key: "key_package_fetches_per_origin_per_minute",
    field: "keyPackageFetchesPerOriginPerMinute",
    spec: intSpec(1, 1_000_000),
    default: 60,
  },
  {
    key: "pending_invitations_per_user",
    field: "pendingInvitationsPerUser",
    spec: intSpec(1, 100_000),
    default: 50,
  },
  {
    key: "invitations_per_sender_per_minute",
    field: "invitationsPerSenderPerMinute",
    spec: intSpec(1, 1_000_000),
    default: 10,
  },
  {
    key: "invitations_per_origin_per_minute",
    field: "invitationsPerOriginPerMinute",
    spec: intSpec(1, 1_000_000),
    default: 60,
  },
  {
    key: "groups_per_user",
    field: "groupsPerUser",
    spec: intSpec(1, 1_000_000),
    default: 500,
  },
  {
    key: "group_members_max",
    field: "groupMembersMax",
    spec: intSpec(2, 256),
    default: 256,
  },
  {
    key: "hub_groups_total",
    field: "hubGroupsTotal",
    spec: intSpec(1, 10_000_000),
    default: 10_000,
  },
  {
    key: "hub_submissions_per_origin_per_minute",
    field: "hubSubmissionsPerOriginPerMinute",
    spec: intSpec(1, 10_000_000),
    default: 600,
  },
  {
    key: "hub_fanout_memory_bytes",
    field: "hubFanoutMemoryBytes",
    // Above the largest envelope (a 512 KiB body and its header), so one always fits.
    spec: byteSpec(1024 * 1024, 2 ** 40),
    default: 16 * 1024 ** 2,
  },
  {
    key: "hub_fanout_staged_bytes_per_origin",
    field: "hubFanoutStagedBytesPerOrigin",
    spec: byteSpec(1024 * 1024, 2 ** 50),
    default: 256 * 1024 ** 2,
  },
  {
    key: "hub_fanout_staged_bytes_total",
    field: "hubFanoutStagedBytesTotal",
    spec: byteSpec(1024 * 1024, 2 ** 50),
    default: 1024 ** 3,
  },
];

/**
 * Parses a size as config.conf writes it (`512`, `64K`, `1G`, 1024-based), for
 * command-line flags that take one.
 *
 * @throws {RangeError} not a size from `min` to 2^50 bytes
 */
export function parseByteSize(text: string, min = 0): number {
  const spec = byteSpec(min, 2 ** 50);
  try {
    return spec.parse(text.trim()) as number;
  } catch {
    throw new RangeError(`Cannot read size ${JSON.stringify(text)}: use ${spec.allowed}`);
  }
}

const boolSpec: KeySpec = {
  parse: (raw) => {
    if (raw === "true" || raw === "yes" || raw === "1") return true;
    if (raw === "false" || raw === "no" || raw === "0") return false;
    throw new RangeError();
  },
  allowed: "true or false",
};

const hostSpec: KeySpec = {
  parse: (raw) => {
    // A DNS name, IPv4 address, or IPv6 address (optionally in brackets).
    const host = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
    const dns =
      /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
    const ipv6 = /^[0-9a-fA-F:.]{2,45}$/;
    if (!(dns.test(host) || (host.includes(":") && ipv6.test(host)))) throw new RangeError();
    return host;
  },
  allowed: "a host name, an IPv4 address or an IPv6 address",
};

const SPEC: Record<string, Record<string, KeySpec>> = {
  Network: {
    host: hostSpec,
    port: portSpec(1),
    client_id: { parse: toNodeId, allowed: ID_RULE },
    public_host: hostSpec,
    public_port: portSpec(1),
  },
  Storage: { data_dir: { parse: (raw) => raw, allowed: "a folder path" } },
  Federation: { open: boolSpec, listed: boolSpec },
  Limits: {
    max_frame_bytes: intSpec(65_536, 16 * 1024 * 1024),
    max_connections: intSpec(4, 4096),
    max_connections_per_address: intSpec(1, 1024),
    max_unauthenticated_connections: intSpec(1, 4096),
    max_unauthenticated_connections_per_network: intSpec(1, 4096),
    reserved_known_connections: intSpec(0, 4096),
    handshake_timeout_ms: intSpec(100, 120_000),
    write_buffer_bytes: byteSpec(16 * 1024, 256 * 1024 * 1024),
    max_write_buffer_bytes: byteSpec(64 * 1024, 1024 * 1024 * 1024),
    write_stall_ms: intSpec(1000, 600_000),
    max_file_bytes: byteSpec(0, 2 ** 50),
    file_quota_bytes: byteSpec(1024 * 1024, 2 ** 50),
    ...Object.fromEntries(LIMIT_KEYS.map((k) => [k.key, k.spec])),
  },
  Delivery: {
    message_lifetime: durationSpec(10_000, 90 * 86_400_000),
    clock_allowance: durationSpec(0, 7 * 86_400_000),
    push_first: boolSpec,
  },
  Files: {
    downloads_dir: { parse: (raw) => raw, allowed: "a folder path" },
    auto_accept_bytes: byteSpec(0, 2 ** 50),
    away_accept_bytes: byteSpec(0, 2 ** 50),
  },
  UI: {
    port: portSpec(0),
    max_connections: intSpec(8, 4096),
    max_connections_per_address: intSpec(4, 4096),
    head_timeout_ms: intSpec(500, 120_000),
    idle_timeout_ms: intSpec(1_000, 600_000),
    max_upload_bytes: byteSpec(0, 2 ** 50),
  },
  Log: {
    level: {
      parse: (raw) => {
        if (!["debug", "info", "warn", "error"].includes(raw)) throw new RangeError();
        return raw;
      },
      allowed: "debug, info, warn or error",
    },
  },
};

const REQUIRED: Array<[string, string]> = [["Network", "port"], ["Network", "client_id"]];

/** Defaults for everything optional. */
export const CONFIG_DEFAULTS = {
  host: "127.0.0.1",
  dataDir: "data",
  openFederation: false,
  listed: true,
  maxFrameBytes: 1024 * 1024,
  maxConnections: 256,
  maxConnectionsPerAddress: 16,
  handshakeTimeoutMs: 5_000,
  writeBufferBytes: 1024 * 1024,
  maxWriteBufferBytes: 8 * 1024 * 1024,
  writeStallMs: 30_000,
  uiPort: 0,
  uiMaxConnections: 128,
  uiMaxConnectionsPerAddress: 64,
  uiHeadTimeoutMs: 10_000,
  uiIdleTimeoutMs: 60_000,
  uiMaxUploadBytes: 8 * 1024 ** 3,
  maxFileBytes: 8 * 1024 ** 3,
  fileQuotaBytes: 2 * 1024 ** 3,
  autoAcceptFileBytes: 0,
  awayAcceptFileBytes: 64 * 1024 * 1024,
  logLevel: "info" as LogLevel,
  messageLifetimeMs: 7 * 86_400_000,
  clockAllowanceMs: 12 * 3_600_000,
  pushFirst: true,
};

/**
 * Parses config text. `file` is used for messages and to resolve `data_dir`.
 *
 * @throws {ConfigError} with file, line, section and key named
 */
export function parseConfig(text: string, file: string): Config {
  const where = (line: number, section?: string | null, key?: string) =>
    `Cannot load config ${JSON.stringify(file)}: line ${line}` +
    (section ? `, [${section}]` : "") + (key ? ` ${key}` : "");
  let sections;
  try {
    sections = parseIni(text);
  } catch (e) {
    if (!(e instanceof IniSyntaxError)) throw e;
    const key = e.section === null ? undefined : e.key ?? undefined;
    throw new ConfigError(`${where(e.line, e.section, key)}: ${e.message}`, { cause: e });
  }
  for (const [name, section] of sections) {
    // Own properties only: "__proto__", "constructor" or "toString" are not sections or keys.
    if (!Object.hasOwn(SPEC, name)) {
      throw new ConfigError(
        `${where(section.line)}: unknown section [${name}]; allowed: ${
          Object.keys(SPEC).map((s) => `[${s}]`).join(", ")
        }`,
      );
    }
    for (const [key, entry] of section.entries) {
      if (!Object.hasOwn(SPEC[name], key)) {
        throw new ConfigError(
          `${where(entry.line, name, key)}: unknown key; allowed in [${name}]: ${
            Object.keys(SPEC[name]).join(", ")
          }`,
        );
      }
    }
  }
  const value = (sec: string, key: string): unknown => {
    const entry = sections.get(sec)?.entries.get(key);
    if (entry === undefined) return undefined;
    const spec = SPEC[sec][key];
    try {
      if (entry.value === "") throw new RangeError();
      return spec.parse(entry.value);
    } catch {
      throw new ConfigError(
        `${where(entry.line, sec, key)}: ${
          JSON.stringify(entry.value)
        } is not allowed; use ${spec.allowed}`,
      );
    }
  };
  for (const [sec, key] of REQUIRED) {
    if (!sections.get(sec)?.entries.has(key)) {
      throw new ConfigError(
        `Cannot load config ${JSON.stringify(file)}: [${sec}] ${key} is missing; add it (${
          SPEC[sec][key].allowed
        })`,
      );
    }
  }
  const host = (value("Network", "host") as string | undefined) ?? CONFIG_DEFAULTS.host;
  const port = value("Network", "port") as number;
  const dataDirRaw = (value("Storage", "data_dir") as string | undefined) ??
    CONFIG_DEFAULTS.dataDir;
  const base = dirname(resolve(file));
  const downloadsRaw = value("Files", "downloads_dir") as string | undefined;
  const lineOfKey = (key: string) => sections.get("Limits")?.entries.get(key)?.line;
  const limit = <K extends keyof typeof CONFIG_DEFAULTS>(key: string, fallback: K) =>
    (value("Limits", key) as (typeof CONFIG_DEFAULTS)[K] | undefined) ?? CONFIG_DEFAULTS[fallback];
  const maxFrameBytes = limit("max_frame_bytes", "maxFrameBytes");
  const writeBufferBytes = limit("write_buffer_bytes", "writeBufferBytes");
  const maxWriteBufferBytes = limit("max_write_buffer_bytes", "maxWriteBufferBytes");
  if (maxWriteBufferBytes < writeBufferBytes + 2 * maxFrameBytes) {
    const line = lineOfKey("max_write_buffer_bytes") ?? lineOfKey("write_buffer_bytes") ??
      lineOfKey("max_frame_bytes") ?? 0;
    throw new ConfigError(
      `${where(line, "Limits", "max_write_buffer_bytes")}: ${maxWriteBufferBytes} is too small; ` +
        `use at least write_buffer_bytes + 2 × max_frame_bytes (${
          writeBufferBytes + 2 * maxFrameBytes
        }), so one connection can hold a message past its high-water mark`,
    );
  }
  const maxConnections = limit("max_connections", "maxConnections");
  // Defaults follow max_connections: half for strangers, an eighth kept for known addresses.
  const maxUnauthenticatedConnections =
    (value("Limits", "max_unauthenticated_connections") as number | undefined) ??
      Math.max(1, Math.floor(maxConnections / 2));
  // One network's (an IPv4 /24, an IPv6 /48) share of it: budget.ts networkShare.
  const maxUnauthenticatedConnectionsPerNetwork =
    (value("Limits", "max_unauthenticated_connections_per_network") as number | undefined) ??
      networkShare(
        (value("Limits", "max_connections_per_address") as number | undefined) ??
          CONFIG_DEFAULTS.maxConnectionsPerAddress,
        maxUnauthenticatedConnections,
      );
  const reservedKnownConnections =
    (value("Limits", "reserved_known_connections") as number | undefined) ??
      Math.floor(maxConnections / 8);
  if (reservedKnownConnections >= maxConnections) {
    throw new ConfigError(
      `${
        where(
          lineOfKey("reserved_known_connections") ?? 0,
          "Limits",
          "reserved_known_connections",
        )
      }: ${reservedKnownConnections} is too large; use less than max_connections (${maxConnections})`,
    );
  }
  return {
    file: resolve(file),
    host,
    port,
    nodeId: value("Network", "client_id") as NodeId,
    publicHost: (value("Network", "public_host") as string | undefined) ?? host,
    publicPort: (value("Network", "public_port") as number | undefined) ?? port,
    dataDir: isAbsolute(dataDirRaw) ? dataDirRaw : join(base, dataDirRaw),
    openFederation: (value("Federation", "open") as boolean | undefined) ??
      CONFIG_DEFAULTS.openFederation,
    listed: (value("Federation", "listed") as boolean | undefined) ?? CONFIG_DEFAULTS.listed,
    maxFrameBytes,
    maxConnections,
    maxConnectionsPerAddress:
      (value("Limits", "max_connections_per_address") as number | undefined) ??
        CONFIG_DEFAULTS.maxConnectionsPerAddress,
    maxUnauthenticatedConnections,
    maxUnauthenticatedConnectionsPerNetwork,
    reservedKnownConnections,
    handshakeTimeoutMs: (value("Limits", "handshake_timeout_ms") as number | undefined) ??
      CONFIG_DEFAULTS.handshakeTimeoutMs,
    writeBufferBytes,
    maxWriteBufferBytes,
    writeStallMs: limit("write_stall_ms", "writeStallMs"),
    uiPort: (value("UI", "port") as number | undefined) ?? CONFIG_DEFAULTS.uiPort,
    uiMaxConnections: (value("UI", "max_connections") as number | undefined) ??
      CONFIG_DEFAULTS.uiMaxConnections,
    uiMaxConnectionsPerAddress:
      (value("UI", "max_connections_per_address") as number | undefined) ??
        CONFIG_DEFAULTS.uiMaxConnectionsPerAddress,
    uiHeadTimeoutMs: (value("UI", "head_timeout_ms") as number | undefined) ??
      CONFIG_DEFAULTS.uiHeadTimeoutMs,
    uiIdleTimeoutMs: (value("UI", "idle_timeout_ms") as number | undefined) ??
      CONFIG_DEFAULTS.uiIdleTimeoutMs,
    uiMaxUploadBytes: (value("UI", "max_upload_bytes") as number | undefined) ??
      CONFIG_DEFAULTS.uiMaxUploadBytes,
    maxFileBytes: (value("Limits", "max_file_bytes") as number | undefined) ??
      CONFIG_DEFAULTS.maxFileBytes,
    fileQuotaBytes: (value("Limits", "file_quota_bytes") as number | undefined) ??
      CONFIG_DEFAULTS.fileQuotaBytes,
    downloadsDir: downloadsRaw === undefined
      ? null
      : isAbsolute(downloadsRaw)
      ? downloadsRaw
      : join(base, downloadsRaw),
    autoAcceptFileBytes: (value("Files", "auto_accept_bytes") as number | undefined) ??
      CONFIG_DEFAULTS.autoAcceptFileBytes,
    awayAcceptFileBytes: (value("Files", "away_accept_bytes") as number | undefined) ??
      CONFIG_DEFAULTS.awayAcceptFileBytes,
    logLevel: (value("Log", "level") as LogLevel | undefined) ?? CONFIG_DEFAULTS.logLevel,
    limits: limitsOf((key) => value("Limits", key) as number | undefined),
    delivery: {
      messageLifetimeMs: (value("Delivery", "message_lifetime") as number | undefined) ??
        CONFIG_DEFAULTS.messageLifetimeMs,
      clockAllowanceMs: (value("Delivery", "clock_allowance") as number | undefined) ??
        CONFIG_DEFAULTS.clockAllowanceMs,
      pushFirst: (value("Delivery", "push_first") as boolean | undefined) ??
        CONFIG_DEFAULTS.pushFirst,
    },
  };
}

/** The `[Limits]` budgets from the keys set (`set`), with the defaults and derived defaults. */
function limitsOf(set: (key: string) => number | undefined): Limits {
  const limits = Object.fromEntries(
    LIMIT_KEYS.map((k) => [k.field, set(k.key) ?? k.default]),
  ) as unknown as Limits;
  for (const k of LIMIT_KEYS) {
    if (k.derive && set(k.key) === undefined) limits[k.field] = k.derive(limits) as never;
  }
  return limits;
}

/**
 * Reads and parses a config file.
 *
 * @throws {ConfigError} unreadable or invalid
 */
export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (cause) {
    const why = cause instanceof Deno.errors.NotFound
      ? "no such file; create one (see the example config.conf) or pass --config PATH"
      : cause instanceof Deno.errors.PermissionDenied
      ? "permission denied; check the file's permissions (and Deno's --allow-read)"
      : (cause as Error).message;
    throw new ConfigError(`Cannot load config ${JSON.stringify(file)}: ${why}`, { cause });
  }
  return parseConfig(text, file);
}

/** Options of {@linkcode renderConfig}. */
export interface RenderConfigOptions {
  host?: string;
  port: number;
  nodeId: string;
  dataDir?: string;
  openFederation?: boolean;
}

/** Writes a config file's text (used by `init-multi`). */
export function renderConfig(options: RenderConfigOptions): string {
  const { host = CONFIG_DEFAULTS.host, port, nodeId, dataDir = CONFIG_DEFAULTS.dataDir } = options;
  return [
    "; fedchat node configuration (see config.conf in the project for every key)",
    "[Network]",
    `host = ${host}`,
    `port = ${port}`,
    `client_id = ${nodeId}`,
    "",
    "[Storage]",
    `data_dir = ${dataDir}`,
    "",
    "[Federation]",
    `open = ${options.openFederation ?? false}`,
    "",
  ].join("\n");
}
