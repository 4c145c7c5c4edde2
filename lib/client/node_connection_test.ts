import assert from "node:assert/strict";
import { SILENT_LOGGER } from "../log.ts";
import {
  type ClientLink,
  type ClientMessage,
  decodeClientMessage,
  encodeClientMessage,
} from "../protocol/mod.ts";
import { NodeUnavailableError } from "./errors.ts";
import { NodeConnection } from "./node_connection.ts";

/** A connection to a fake node that answers only what `answer` says. */
async function connect(answer: (m: ClientMessage) => ClientMessage | null, timeoutMs: number) {
  let link!: ClientLink;
  const connection = new NodeConnection({
    log: SILENT_LOGGER,
    requestTimeoutMs: timeoutMs,
    open: () => {
      link = {
        send: (bytes) => {
          const reply = answer(decodeClientMessage(bytes));
          if (reply) queueMicrotask(() => link.onMessage?.(encodeClientMessage(reply)));
        },
        close: () => {},
        onMessage: null,
        onClose: () => {},
      };
      setTimeout(() =>
        link.onMessage?.(
          encodeClientMessage({ type: "welcome", user: "alice", node: "nodea", nowMs: 1 }),
        )
      );
      return Promise.resolve(link);
    },
  });
  await connection.start({ onPush: () => {}, onConnected: () => {} });
  return connection;
}

Deno.test("requests resolve with their reply; unanswered ones fail after the timeout", async () => {
  const connection = await connect(
    (m) =>
      m.type === "submit" && m.envelope[0] === 1
        ? { type: "submitted", req: m.req, id: "x", state: "sent" }
        : null,
    100,
  );
  try {
    assert.equal(await connection.submit(Uint8Array.of(1)), "sent");
    const started = Date.now();
    await assert.rejects(connection.submit(Uint8Array.of(2)), NodeUnavailableError);
    assert.ok(Date.now() - started >= 100, "not before its deadline");
    // The sweep stops when nothing waits, and starts again with the next request.
    assert.equal(await connection.submit(Uint8Array.of(1)), "sent");
    await assert.rejects(connection.submit(Uint8Array.of(2)), NodeUnavailableError);
  } finally {
    connection.stop();
  }
});
