import assert from "node:assert/strict";
import { inProcessLink } from "./in_process_link.ts";
import { collectingUncaught } from "../../tests/_helpers/uncaught.ts";

const turn = () => new Promise((r) => setTimeout(r, 0));

Deno.test("in-process link: lent bytes are handed back when the handler returns, or when what it kept is done", async () => {
  const [client, node] = inProcessLink();
  const events: string[] = [];
  let release: (() => void) | undefined;
  node.onMessage = (bytes, keep) => {
    events.push(`took ${bytes[0]}`);
    if (bytes[0] === 2) release = keep!();
  };
  client.send(Uint8Array.of(1), () => events.push("consumed 1"));
  client.send(Uint8Array.of(2), () => events.push("consumed 2"));
  client.send(Uint8Array.of(3));
  await turn();
  assert.deepEqual(events, ["took 1", "consumed 1", "took 2", "took 3"]);
  release!();
  release!(); // at most once
  assert.deepEqual(events, ["took 1", "consumed 1", "took 2", "took 3", "consumed 2"]);
});

Deno.test("in-process link: no keep without lent bytes; bytes queued before a handler are lent the same", async () => {
  const [client, node] = inProcessLink();
  const events: string[] = [];
  client.send(Uint8Array.of(1), () => events.push("consumed 1"));
  client.send(Uint8Array.of(2));
  await turn();
  assert.equal(events.length, 0, "waits for a handler");
  let kept: (() => void) | undefined;
  node.onMessage = (bytes, keep) => {
    events.push(`took ${bytes[0]} ${keep ? "lent" : "own"}`);
    if (keep) kept = keep();
  };
  assert.deepEqual(events, ["took 1 lent", "took 2 own"]);
  kept!();
  assert.deepEqual(events, ["took 1 lent", "took 2 own", "consumed 1"]);
});

Deno.test("in-process link: a handler that throws never hands the bytes back", async () => {
  const [client, node] = inProcessLink();
  let consumed = false;
  node.onMessage = () => {
    throw new Error("boom");
  };
  const errors = await collectingUncaught(async (errors) => {
    client.send(Uint8Array.of(1), () => (consumed = true));
    await turn();
    return errors;
  });
  assert.equal(errors.length, 1, "the handler ran");
  assert.equal(consumed, false);
});
