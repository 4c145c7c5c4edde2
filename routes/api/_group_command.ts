/** The group commands of `POST /api/command`, each a call on the client core. */
import type { GroupUiCommand, UiCommandResult } from "../../lib/ui/mod.ts";
import type { ClientApi } from "../../lib/client/api.ts";

/** Runs one validated group command. */
export async function runGroupCommand(
  client: ClientApi,
  c: GroupUiCommand,
): Promise<UiCommandResult> {
  switch (c.kind) {
    case "createGroup":
      return { kind: "group", group: await client.createGroup(c.name) };
    case "inviteToGroup":
      return { kind: "group", group: await client.inviteToGroup(c.group, c.addresses) };
    case "renameGroup":
      return { kind: "group", group: await client.renameGroup(c.group, c.name) };
    case "removeFromGroup":
      return { kind: "group", group: await client.removeFromGroup(c.group, c.address) };
    case "sendToGroup":
      return { kind: "groupMessage", message: await client.sendToGroup(c.group, c.text) };
    case "acceptInvitation":
      return { kind: "group", group: await client.acceptInvitation(c.group) };
    case "declineInvitation":
      await client.declineInvitation(c.group);
      return { kind: "ok" };
    case "leaveGroup":
      await client.leaveGroup(c.group);
      return { kind: "ok" };
    case "markGroupRead":
      await client.markGroupRead(c.group);
      return { kind: "ok" };
  }
}
