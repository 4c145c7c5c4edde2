/** `POST /api/command`: runs one validated command on the client core. */
import { parseUiCommand, type UiCommand, type UiCommandResult } from "../../lib/ui/mod.ts";
import type { ClientApi } from "../../lib/client/api.ts";
import { runGroupCommand } from "./_group_command.ts";
import { type ApiContext, type ApiRoute, WebError } from "../../lib/web/mod.ts";

async function run(client: ClientApi, c: UiCommand): Promise<UiCommandResult> {
  switch (c.kind) {
    case "connect":
      return {
        kind: "link",
        link: await client.connect({ host: c.host, port: c.port, nodeId: c.nodeId }),
      };
    case "connectInvite":
      return { kind: "link", link: await client.connect({ invite: c.invite }) };
    case "approveLink":
      await client.approveLink(c.nodeId);
      return { kind: "ok" };
    case "rejectLink":
      await client.rejectLink(c.nodeId);
      return { kind: "ok" };
    case "request":
      await client.request(c.address, c.intro);
      return { kind: "ok" };
    case "accept":
      await client.accept(c.address);
      return { kind: "ok" };
    case "reject":
      await client.reject(c.address);
      return { kind: "ok" };
    case "block":
      await client.block(c.address);
      return { kind: "ok" };
    case "send":
      return { kind: "message", message: await client.send(c.address, c.text) };
    case "markRead":
      await client.markRead(c.address);
      return { kind: "ok" };
    case "acceptKeyChange":
      await client.acceptKeyChange(c.address);
      return { kind: "ok" };
    case "acceptFile":
      return { kind: "file", transfer: await client.acceptFile(c.id) };
    case "declineFile":
      return { kind: "file", transfer: await client.declineFile(c.id) };
    case "cancelFile":
      return { kind: "file", transfer: await client.cancelFile(c.id) };
    case "mailboxes":
      return { kind: "mailboxes", mailboxes: await client.mailbox({ kind: "list" }) };
    case "addMailbox":
      return {
        kind: "mailboxes",
        mailboxes: await client.mailbox({ kind: "add", nodeId: c.nodeId }),
      };
    case "removeMailbox":
      return {
        kind: "mailboxes",
        mailboxes: await client.mailbox({ kind: "remove", nodeId: c.nodeId }),
      };
    case "serveMailbox": {
      const { nodeId, quotaBytes } = c;
      return {
        kind: "mailboxes",
        mailboxes: await client.mailbox({ kind: "serve", nodeId, quotaBytes }),
      };
    }
    case "stopServing":
      return {
        kind: "mailboxes",
        mailboxes: await client.mailbox({ kind: "stop", nodeId: c.nodeId }),
      };
    default:
      return await runGroupCommand(client, c);
  }
}

export const handler: ApiRoute["handler"] = {
  async POST(ctx: ApiContext) {
    let command: UiCommand;
    try {
      command = parseUiCommand(await ctx.readJson(), ctx.limits);
    } catch (err) {
      // A body the server cannot read says its status; a body of the wrong shape is a 400.
      const status = err instanceof WebError ? err.status : 400;
      const error = err instanceof Error ? err.message : "Cannot read command";
      return ctx.json({ kind: "error", error } satisfies UiCommandResult, status);
    }
    try {
      return ctx.json(await run(ctx.client, command));
    } catch (err) {
      ctx.log.info("command refused", { kind: command.kind });
      const error = err instanceof Error ? err.message : String(err);
      return ctx.json({ kind: "error", error } satisfies UiCommandResult, 422);
    }
  },
};
