/** Admin commands served by a running client (its CLI twins act through them). */
import type { ClientApi, ClientEvent } from "../client/mod.ts";
import { AdminError, type AdminHandler } from "../node/mod.ts";

function str(args: Record<string, unknown>, name: string, max = 500): string {
  const v = args[name];
  if (typeof v !== "string" || v.length === 0 || v.length > max) {
    throw new AdminError(`Missing or bad argument ${name}`);
  }
  return v;
}

const result = (value: unknown) => ({ kind: "result" as const, value });

/** Builds the client's command table. */
export function clientAdminHandlers(client: ClientApi): Record<string, AdminHandler> {
  return {
    whoami: async () => result(await client.self()),
    request: async (a) =>
      result(await client.request(str(a, "address"), typeof a.intro === "string" ? a.intro : "")),
    requests: async () => result(await client.requests()),
    accept: async (a) => result(await client.accept(str(a, "address"))),
    decline: async (a) => result(await client.reject(str(a, "address"))),
    block: async (a) => result(await client.block(str(a, "address"))),
    send: async (a) => result(await client.send(str(a, "address"), str(a, "text", 1_000_000))),
    history: async (a) => {
      const limit = typeof a.limit === "number" ? Math.min(100_000, Math.max(1, a.limit)) : 500;
      return result(await client.history(str(a, "address"), { limit }));
    },
    contacts: async () => result(await client.contacts()),
    verify: async (a) => result(await client.safety(str(a, "address"))),
    "key-change": async (a) => result(await client.keyChange(str(a, "address"))),
    "accept-key": async (a) =>
      result(
        await client.acceptKeyChange(
          str(a, "address"),
          typeof a.confirm === "string" ? { confirm: a.confirm } : undefined,
        ),
      ),
    "dismiss-key": async (a) => result(await client.dismissKeyChange(str(a, "address"))),
    "client-directory": async () => result(await client.directory()),
    "send-file": async (a) =>
      result(
        await client.sendFile(str(a, "address"), {
          path: str(a, "path", 4096),
          name: typeof a.name === "string" ? a.name : undefined,
          type: typeof a.type === "string" ? a.type : undefined,
        }),
      ),
    files: async () => result(await client.files()),
    "accept-file": async (a) => result(await client.acceptFile(str(a, "target"))),
    "decline-file": async (a) => result(await client.declineFile(str(a, "target"))),
    "cancel-file": async (a) => result(await client.cancelFile(str(a, "id"))),
    conditions: async () => result(await client.nodeConditions()),
    groups: async () => result(await client.groups()),
    invitations: async () => result(await client.invitations()),
    "group-create": async (a) => result(await client.createGroup(str(a, "name", 256))),
    "group-invite": async (a) => {
      const many = Array.isArray(a.addresses) && a.addresses.length <= 256 &&
        a.addresses.every((x) => typeof x === "string" && x.length <= 100);
      return result(
        await client.inviteToGroup(
          str(a, "group", 300),
          many ? a.addresses as string[] : str(a, "address"),
        ),
      );
    },
    "group-accept": async (a) => result(await client.acceptInvitation(str(a, "group", 300))),
    "group-decline": async (a) => result(await client.declineInvitation(str(a, "group", 300))),
    "group-remove": async (a) =>
      result(await client.removeFromGroup(str(a, "group", 300), str(a, "address"))),
    "group-leave": async (a) => result(await client.leaveGroup(str(a, "group", 300))),
    "group-rename": async (a) =>
      result(await client.renameGroup(str(a, "group", 300), str(a, "name", 256))),
    "group-members": async (a) => result(await client.groupMembers(str(a, "group", 300))),
    "group-send": async (a) =>
      result(await client.sendToGroup(str(a, "group", 300), str(a, "text", 1_000_000))),
    "group-history": async (a) => {
      const limit = typeof a.limit === "number" ? Math.min(100_000, Math.max(1, a.limit)) : 500;
      return result(await client.groupHistory(str(a, "group", 300), { limit }));
    },
    "group-read": async (a) => result(await client.markGroupRead(str(a, "group", 300))),
    "group-send-file": async (a) =>
      result(
        await client.sendFileToGroup(str(a, "group", 300), {
          path: str(a, "path", 4096),
          name: typeof a.name === "string" ? a.name : undefined,
          type: typeof a.type === "string" ? a.type : undefined,
        }),
      ),
    listen: () => ({
      kind: "stream",
      subscribe: (emit) => {
        // A listener that starts while something is wrong with the node hears it at once.
        void client.nodeConditions().then((conditions) => {
          if (Object.values(conditions).some((c) => c.state !== "ok")) {
            emit({ kind: "node", conditions });
          }
        });
        return client.subscribe((event: ClientEvent) => {
          emit(event);
          // A listener shows incoming messages, so they count as read.
          if (event.kind === "message" && event.message.direction === "in") {
            void client.markRead(event.message.peer).catch(() => {});
          }
          if (
            event.kind === "groupMessage" && event.message.direction === "in" &&
            event.message.kind === "text"
          ) {
            void client.markGroupRead(event.message.group).catch(() => {});
          }
        });
      },
    }),
  };
}
