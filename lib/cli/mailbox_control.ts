/** The owner's client's view of its node's mailboxes (the federation screen's "Mailboxes"). */
import type { MailboxAction, MailboxView } from "../client/mod.ts";
import { MailboxAdmin, type Node } from "../node/mod.ts";

/**
 * Runs one mailbox action on the node in this process, through the same rules
 * as `fedchat mailbox ...`, and answers the mailboxes after it.
 */
export function mailboxControl(node: Node): (action: MailboxAction) => Promise<MailboxView> {
  const admin = new MailboxAdmin(node);
  const view = (): MailboxView => {
    const counter = node.mailbox.view();
    return {
      own: admin.own(),
      served: admin.served().sort((a, b) => a.node.localeCompare(b.node)),
      heldBytes: counter.used,
      totalLimitBytes: counter.totalLimit ?? counter.limit,
      refusals: counter.refusals,
    };
  };
  return (action) => {
    try {
      switch (action.kind) {
        case "list":
          break;
        case "add":
          admin.add(action.nodeId, Date.now());
          break;
        case "remove":
          admin.remove(action.nodeId, Date.now());
          break;
        case "serve":
          admin.serve(action.nodeId, action.quotaBytes);
          break;
        case "stop":
          admin.stop(action.nodeId);
          break;
      }
      return Promise.resolve(view());
    } catch (err) {
      return Promise.reject(err);
    }
  };
}
