/**
 * The node's embedded store, behind a narrow interface so a node that outgrows
 * one machine can move to a database server without touching federation code.
 *
 * @module
 */
export type { NodeStore, PeerRecord, PeerState } from "./node_store.ts";
export { openSqliteNodeStore } from "./sqlite_node_store.ts";
export type { OriginPinRecord, OriginPinSource, OriginPinStore } from "./sqlite_origin_pins.ts";
export type {
  AccountRecord,
  ContactPolicy,
  InboxAdd,
  InboxKind,
  InboxRecord,
  InboxUsage,
  MessageStore,
  NoticeRecord,
  OutboxRecord,
} from "./message_store.ts";
export type { CustodyRecord, HeldRecord, MailboxStore, ServedRecord } from "./mailbox_store.ts";
export { describeStoreFailure, type StoreFailure, storeFailure } from "./store_failure.ts";
