import assert from "node:assert/strict";
import { join } from "node:path";
import { openSqliteNodeStore } from "../store/mod.ts";
import { addUser, enrollmentMatches } from "./accounts.ts";
import type { UserName } from "../ids.ts";

Deno.test("addUser() keeps only the SHA-256 of the enrollment code, which enrollmentMatches() checks", async () => {
  await Deno.mkdir(".tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: ".tmp", prefix: "accounts-" });
  const store = openSqliteNodeStore(join(dir, "node.db"));
  try {
    const { code } = await addUser(store, "bob", 0);
    const account = store.getAccount("bob" as UserName)!;
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(code)),
    );
    assert.deepEqual(account.enrollHash, digest);
    const text = new TextEncoder().encode(code);
    for (const value of Object.values(account)) {
      if (value instanceof Uint8Array) assert.notDeepEqual(value, text, "the code is not kept");
      else assert.notEqual(value, code, "the code is not kept");
    }
    assert.equal(await enrollmentMatches(account, code), true);
    assert.equal(await enrollmentMatches(account, code.slice(1) + "a"), false);
    assert.equal(await enrollmentMatches(account, ""), false);
    assert.equal(await enrollmentMatches({ ...account, enrollHash: null }, code), false);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
