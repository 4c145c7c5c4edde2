/**
 * The node: accounts, inboxes, outbox, the owner's admin channel, and the
 * composition of federation parts into a running process.
 *
 * @module
 */
export { type Node, type NodeStatus, startNode, type StartNodeOptions } from "./node.ts";
export { DeliveryError, NodeError } from "./errors.ts";
export { adminCall, AdminReplyError, adminStream, NotRunningError } from "./admin_client.ts";
export {
  AdminError,
  type AdminHandler,
  type AdminReply,
  startAdminServer,
} from "./admin_server.ts";
export type { ClientLink } from "./client_hub.ts";
export { MailboxAdmin, type MailboxAdminNode } from "./mailbox_admin.ts";
