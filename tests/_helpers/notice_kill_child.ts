/**
 * The victim of tests/notices_test.ts's kill -9: the sender's node on the
 * store in `Deno.args[0]`, no client attached, submits one envelope, settles
 * it by a receipt, says "settled <id>" once the notice is committed, and waits
 * to be killed.
 */
// deno-lint-ignore-file no-console
import { senderNode } from "./sender_node.ts";

const a = await senderNode(Deno.args[0]);
const id = await a.send(42);
a.delivery.onEvent((ev) => {
  if (ev.kind === "notices") console.log(`settled ${ev.notices.map((n) => n.id).join(",")}`);
});
a.receipt([id]);
setTimeout(() => {}, 60_000);
