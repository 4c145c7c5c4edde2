import assert from "node:assert/strict";
import { stateLabel } from "./message_state.ts";

Deno.test("stateLabel() names the mailbox that holds a message, apart from sent and delivered", () => {
  assert.equal(
    stateLabel({ state: "held", reason: "held at mailbox m" }),
    "✓ stored at mailbox m",
  );
  assert.equal(stateLabel({ state: "held", reason: "m" }), "✓ stored at mailbox m");
  assert.equal(stateLabel({ state: "held" }), "✓ stored at a mailbox");
  assert.equal(
    stateLabel({ state: "held", reason: "held at mailbox <b>x</b>" }),
    "✓ stored at a mailbox",
  );
  assert.equal(stateLabel({ state: "sent", reason: "held at mailbox m" }), "✓ sent");
  assert.equal(stateLabel({ state: "delivered" }), "✓✓ delivered");
});
