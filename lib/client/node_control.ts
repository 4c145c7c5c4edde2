/** What only a client whose node runs in the same process can do (links, invites). */
import type { LinkView, MailboxAction, MailboxView } from "./api.ts";

/** The in-process node's controls, handed to the client core in the default mode. */
export interface NodeControl {
  nodeId: string;
  nodeFingerprint: string;
  invite(): string;
  links(): Promise<LinkView[]>;
  connect(
    target: { host: string; port: number; nodeId: string } | { invite: string },
  ): Promise<LinkView>;
  approve(nodeId: string): Promise<void>;
  reject(nodeId: string): Promise<void>;
  mailbox(action: MailboxAction): Promise<MailboxView>;
}
