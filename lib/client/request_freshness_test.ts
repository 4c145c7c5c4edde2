import assert from "node:assert/strict";
import { ClientStore } from "./client_store.ts";
import {
  judgeRequestFreshness,
  REMEMBERED_REQUESTS_PER_NODE,
  REMEMBERED_REQUESTS_PER_SENDER,
  REMEMBERED_REQUESTS_TOTAL,
  REQUEST_MAX_AGE_MS,
  REQUEST_MAX_AHEAD_MS,
  WAITING_REQUESTS_PER_NODE,
} from "./request_freshness.ts";

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;
const empty = { seen: false, forSender: 0, forNode: 0, total: 0, waitingFromNode: 0, waiting: 0 };

Deno.test("judgeRequestFreshness() lets a request through and says how long to remember it", () => {
  assert.deepEqual(judgeRequestFreshness({ createdAtMs: NOW, nowMs: NOW, memory: empty }), {
    kind: "fresh",
    rememberUntilMs: NOW + REQUEST_MAX_AGE_MS,
  });
});

Deno.test("judgeRequestFreshness() allows clocks hours apart and a week in an outbox", () => {
  for (const createdAtMs of [NOW - 7 * 24 * HOUR - 5 * HOUR, NOW + 5 * HOUR, NOW - 3 * HOUR]) {
    assert.equal(judgeRequestFreshness({ createdAtMs, nowMs: NOW, memory: empty }).kind, "fresh");
  }
});

Deno.test("judgeRequestFreshness() refuses a replay, a stale and a far-future request", () => {
  assert.equal(
    judgeRequestFreshness({ createdAtMs: NOW, nowMs: NOW, memory: { ...empty, seen: true } }).kind,
    "replay",
  );
  assert.equal(
    judgeRequestFreshness({ createdAtMs: NOW - REQUEST_MAX_AGE_MS - 1, nowMs: NOW, memory: empty })
      .kind,
    "stale",
  );
  assert.equal(
    judgeRequestFreshness({
      createdAtMs: NOW + REQUEST_MAX_AHEAD_MS + 1,
      nowMs: NOW,
      memory: empty,
    })
      .kind,
    "ahead",
  );
});

Deno.test("judgeRequestFreshness() keeps a replay a replay: a full memory refuses new requests", () => {
  const full = [
    {
      seen: false,
      forSender: REMEMBERED_REQUESTS_PER_SENDER,
      forNode: 40,
      total: 40,
      waitingFromNode: 0,
      waiting: 0,
    },
    {
      seen: false,
      forSender: 0,
      forNode: 0,
      total: REMEMBERED_REQUESTS_TOTAL,
      waitingFromNode: 0,
      waiting: 0,
    },
  ];
  for (const memory of full) {
    assert.equal(
      judgeRequestFreshness({ createdAtMs: NOW, nowMs: NOW, memory }).kind,
      "memory-full",
    );
  }
});

Deno.test("judgeRequestFreshness() remembers a request exactly as long as it could be replayed", () => {
  // A request accepted at the edge of the future window stays remembered until it is stale.
  const createdAtMs = NOW + REQUEST_MAX_AHEAD_MS;
  const v = judgeRequestFreshness({ createdAtMs, nowMs: NOW, memory: empty });
  assert.equal(v.kind, "fresh");
  const until = (v as { rememberUntilMs: number }).rememberUntilMs;
  // Just before `until` it is still fresh (so it must be remembered); at `until` + 1 it is stale.
  assert.equal(
    judgeRequestFreshness({ createdAtMs, nowMs: until - 1, memory: empty }).kind,
    "fresh",
  );
  assert.equal(
    judgeRequestFreshness({ createdAtMs, nowMs: until + 1, memory: empty }).kind,
    "stale",
  );
});

/**
 * A request from `sender` arriving at `store` now, judged and remembered as the
 * client does; `listed` also puts it in the request list.
 */
function arriving(store: ClientStore, listed: boolean) {
  return (sender: string) => {
    const hash = crypto.randomUUID();
    const memory = store.requestMemory(hash, sender, NOW);
    const verdict = judgeRequestFreshness({ createdAtMs: NOW, nowMs: NOW, memory });
    if (verdict.kind !== "fresh") return verdict.kind;
    store.rememberRequest(hash, sender, verdict.rememberUntilMs);
    if (listed) {
      store.putRequest({
        address: sender,
        intro: "",
        identity: new Uint8Array(32),
        request: new Uint8Array(1),
        receivedAtMs: NOW,
      });
    }
    return verdict.kind;
  };
}

Deno.test("one node's made-up addresses fill at most its share of the memory; another node's request still gets through", () => {
  const store = new ClientStore(":memory:");
  try {
    const arrive = arriving(store, false);
    // 313 addresses of one node, 32 requests each (past the total of 10,000).
    let fresh = 0;
    for (let a = 0; a < 313; a++) {
      for (let i = 0; i < REMEMBERED_REQUESTS_PER_SENDER; i++) {
        if (arrive(`m${a}@evil`) === "fresh") fresh++;
      }
    }
    // Main remembered 10,000 and then refused everyone's requests for 8 days.
    assert.equal(fresh, REMEMBERED_REQUESTS_PER_NODE);
    assert.equal(arrive("alice@honest"), "fresh");
    assert.equal(arrive("m999@evil"), "memory-full");
    // A node whose id ends like another's is not counted with it.
    assert.equal(arrive("bob@not-evil"), "fresh");
  } finally {
    store.close();
  }
});

Deno.test("requests waiting for an answer: at most 100 from one node's addresses; a new one from the same address replaces its own", () => {
  const store = new ClientStore(":memory:");
  try {
    const arrive = arriving(store, true);
    // 150 addresses of one node, one request each (main: 150 waiting, and so on every 8 days).
    let fresh = 0;
    for (let a = 0; a < 150; a++) if (arrive(`m${a}@evil`) === "fresh") fresh++;
    assert.equal(fresh, WAITING_REQUESTS_PER_NODE);
    assert.equal(store.requests().length, WAITING_REQUESTS_PER_NODE);
    assert.equal(arrive("m0@evil"), "fresh", "a waiting address may ask again");
    assert.equal(arrive("alice@honest"), "fresh");
  } finally {
    store.close();
  }
});
