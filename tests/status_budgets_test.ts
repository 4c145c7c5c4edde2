/**
 * DESIGN.md: "Budgets are config keys with safe defaults, counted in status
 * --json". A real node started with every `[Limits]` budget key set to a value
 * other than its default shows each of them, with that value as its limit,
 * under `budgets` in `status --json`. A key added to LIMIT_KEYS without a
 * budget shown (or a reason here why it is not one) fails this test.
 */
import assert from "node:assert/strict";
import { LIMIT_KEYS } from "../lib/config.ts";
import { NodeProc, tempRoot } from "./_helpers/node_proc.ts";

type Field = "limit" | "totalLimit";

/** `[Limits]` key → the budget `status --json` counts it in, which field, and its unit there. */
const SHOWN: Record<string, { budget: string; field: Field; times?: number }> = {
  outbox_messages_per_user: { budget: "outbox_rows", field: "limit" },
  outbox_bytes_per_user: { budget: "outbox_bytes", field: "limit" },
  inbox_bytes_per_user: { budget: "inbox_bytes", field: "limit" },
  inbox_bytes_total: { budget: "inbox_bytes", field: "totalLimit" },
  commit_bytes_per_origin: { budget: "commit_bytes", field: "limit" },
  commit_bytes_total: { budget: "commit_bytes", field: "totalLimit" },
  push_window_bytes_per_client: { budget: "push_window_bytes", field: "limit" },
  push_first_bytes_total: { budget: "push_first_bytes", field: "limit" },
  pending_requests_per_user: { budget: "pending_requests", field: "limit" },
  dedup_ids_per_origin: { budget: "dedup_ids", field: "limit" },
  dedup_ids_total: { budget: "dedup_ids", field: "totalLimit" },
  requests_per_sender_per_minute: { budget: "requests_per_sender", field: "limit" },
  requests_per_origin_per_minute: { budget: "requests_per_origin", field: "limit" },
  // Rates are shown per minute.
  messages_per_origin_per_second: { budget: "messages_per_origin", field: "limit", times: 60 },
  undeliverable_per_origin_per_minute: { budget: "undeliverable", field: "limit" },
  peer_envelopes_per_second: { budget: "peer_envelopes", field: "limit", times: 60 },
  peer_forged_per_minute: { budget: "peer_forged_envelopes", field: "limit" },
  pending_links_per_address: { budget: "pending_links", field: "limit" },
  pending_links_total: { budget: "pending_links", field: "totalLimit" },
  pending_links_per_network: { budget: "pending_links_network", field: "limit" },
  open_links_per_address: { budget: "open_links", field: "limit" },
  open_links_total: { budget: "open_links", field: "totalLimit" },
  open_links_per_address_per_minute: { budget: "open_links_new", field: "limit" },
  handshakes_per_address_per_minute: { budget: "listener.handshakes", field: "limit" },
  open_links_per_network: { budget: "open_links_network", field: "limit" },
  open_links_per_network_per_minute: { budget: "open_links_network_new", field: "limit" },
  handshakes_per_network_per_minute: { budget: "listener.handshakes_network", field: "limit" },
  file_spool_total_bytes: { budget: "file_spool_bytes", field: "totalLimit" },
  file_segments_per_user: { budget: "file_spool_segments", field: "limit" },
  file_segments_total: { budget: "file_spool_segments", field: "totalLimit" },
  sender_share_percent: { budget: "sender_share", field: "limit" },
  mailbox_bytes_per_sender: { budget: "mailbox_held_bytes", field: "limit" },
  mailbox_bytes_total: { budget: "mailbox_held_bytes", field: "totalLimit" },
  max_routing_origins: { budget: "routing.origins", field: "limit" },
  max_provisional_origins_per_peer: { budget: "routing.provisional_origins", field: "limit" },
  max_provisional_origins: { budget: "routing.provisional_origins", field: "totalLimit" },
  max_provisional_bytes_per_peer: { budget: "routing.provisional_bytes", field: "limit" },
  max_provisional_bytes: { budget: "routing.provisional_bytes", field: "totalLimit" },
  key_packages_per_user: { budget: "key_packages", field: "limit" },
  key_package_fetches_per_origin_per_minute: {
    budget: "key_package_fetches_per_origin",
    field: "limit",
  },
  pending_invitations_per_user: { budget: "pending_invitations", field: "limit" },
  invitations_per_sender_per_minute: { budget: "invitations_per_sender", field: "limit" },
  invitations_per_origin_per_minute: { budget: "invitations_per_origin", field: "limit" },
  groups_per_user: { budget: "groups_per_user", field: "limit" },
  hub_groups_total: { budget: "hub_groups", field: "limit" },
  hub_submissions_per_origin_per_minute: { budget: "hub_submissions_per_origin", field: "limit" },
  hub_fanout_memory_bytes: { budget: "hub_fanout_memory_bytes", field: "limit" },
  hub_fanout_staged_bytes_per_origin: { budget: "hub_fanout_staged_bytes", field: "limit" },
  hub_fanout_staged_bytes_total: { budget: "hub_fanout_staged_bytes", field: "totalLimit" },
};

/** `[Limits]` keys that hold nothing by themselves, so no budget counts them. */
const NOT_COUNTED: Record<string, string> = {
  pending_link_ttl: "a duration: how long a counted pending link waits",
  mailbox_default_quota: "the quota a served node gets when `mailbox serve` names none",
  group_members_max: "a cap on one group's size, checked at each commit",
};

Deno.test({
  name: "status --json counts every [Limits] budget, with the configured limit",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    for (const { key } of LIMIT_KEYS) {
      assert.ok(key in SHOWN || key in NOT_COUNTED, `${key}: shown in status --json, or why not`);
    }
    // Each counted key set to a valid value other than its default.
    const set = new Map<string, number>();
    for (const k of LIMIT_KEYS) {
      if (!(k.key in SHOWN)) continue;
      const value = k.spec.parse(String(k.default + 7)) as number;
      set.set(k.key, value);
    }
    const root = await tempRoot("status-budgets");
    const a = await NodeProc.create({
      id: "a",
      root,
      extra: `[Limits]\n${[...set].map(([k, v]) => `${k} = ${v}`).join("\n")}\n`,
    });
    try {
      const status = (await a.admin("status")) as {
        budgets: Record<string, Record<Field, number | undefined>>;
      };
      for (const [key, value] of set) {
        const { budget, field, times } = SHOWN[key];
        assert.ok(status.budgets[budget], `${key}: budget ${budget} in status --json`);
        assert.equal(status.budgets[budget][field], value * (times ?? 1), `${key}: ${field}`);
      }
    } finally {
      await a.stop();
    }
  },
});
