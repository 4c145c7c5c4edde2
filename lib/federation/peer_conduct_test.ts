import assert from "node:assert/strict";
import { BudgetRegistry } from "../budget.ts";
import { FakeClock } from "../clock.ts";
import { toNodeId } from "../ids.ts";
import { SILENT_LOGGER } from "../log.ts";
import { judgeEnvelope, PeerConduct } from "./peer_conduct.ts";

Deno.test("judgeEnvelope(): malformed ends the link; forgeries and floods only past their budget", () => {
  const room = { withinRate: true, forgedRoom: true, overRateRoom: true };
  assert.equal(judgeEnvelope({ ...room, result: "invalid" }).kind, "disconnect");
  assert.equal(judgeEnvelope({ ...room, result: "forged" }).kind, "drop");
  assert.equal(judgeEnvelope({ ...room, result: "forged", forgedRoom: false }).kind, "disconnect");
  assert.equal(judgeEnvelope({ ...room, result: "forwarded", withinRate: false }).kind, "drop");
  assert.equal(
    judgeEnvelope({ result: "local", withinRate: false, forgedRoom: true, overRateRoom: false })
      .kind,
    "disconnect",
  );
  assert.equal(judgeEnvelope({ ...room, result: "unknown-origin" }).kind, "ok");
});

Deno.test("PeerConduct counts per neighbour: one flooder does not cost another", () => {
  const clock = new FakeClock(0);
  const c = new PeerConduct(new BudgetRegistry(SILENT_LOGGER, clock), {
    envelopesPerSecond: 10,
    forgedPerMinute: 3,
    overRatePerMinute: 5,
  });
  const [m, h] = ["m", "h"].map(toNodeId);
  const verdicts = Array.from({ length: 40 }, () => c.judge(m, "forwarded", 0).kind);
  assert.equal(verdicts.filter((v) => v === "ok").length, 20, "the burst is twice the rate");
  assert.equal(verdicts.filter((v) => v === "drop").length, 5);
  assert.equal(verdicts.at(-1), "disconnect");
  assert.equal(c.judge(h, "forwarded", 0).kind, "ok");
  const forged = Array.from({ length: 4 }, () => c.judge(h, "forged", 0).kind);
  assert.deepEqual(forged, ["drop", "drop", "drop", "disconnect"]);
});
