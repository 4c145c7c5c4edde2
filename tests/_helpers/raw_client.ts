/** A raw client connection for tests: records everything the node says. */
import { join } from "node:path";
import { ClientStore, remoteLink } from "../../lib/client/mod.ts";
import { type NodeId, toNodeId, toUserName } from "../../lib/ids.ts";
import {
  type ClientLink,
  type ClientMessage,
  decodeClientMessage,
  encodeClientMessage,
} from "../../lib/protocol/mod.ts";
import { type NodeProc, waitUntil } from "./node_proc.ts";

/** Enrolls `user` on `node` with `code` and connects as its client. */
export async function rawClient(node: NodeProc, user: string, code: string, dir: string) {
  await Deno.mkdir(dir, { recursive: true });
  const store = new ClientStore(join(dir, "client.db"));
  const link: ClientLink = await remoteLink({
    host: "127.0.0.1",
    port: node.port,
    nodeId: toNodeId(node.id) as NodeId,
    user: toUserName(user),
    enrollCode: code,
  })(store);
  const got: ClientMessage[] = [];
  let closed = "";
  link.onMessage = (b) => got.push(decodeClientMessage(b));
  link.onClose = (r) => (closed = r || "closed");
  await waitUntil("welcome", () => got.some((m) => m.type === "welcome"));
  return {
    got,
    closed: () => closed,
    send: (m: ClientMessage) => link.send(encodeClientMessage(m)),
    raw: (b: Uint8Array) => link.send(b),
    close: () => {
      link.close("done");
      store.close();
    },
  };
}
