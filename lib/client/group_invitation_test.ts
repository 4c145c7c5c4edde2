import assert from "node:assert/strict";
import * as e2e from "../e2e/mod.ts";
import { readInvitation, signInvitation, welcomeHash } from "./group_invitation.ts";

async function fields() {
  return {
    inviter: "alice@nodea",
    invitee: "bob@nodeb",
    home: "nodea",
    groupId: new Uint8Array(16).fill(3),
    name: "book club 📚",
    epoch: 4,
    createdAtMs: 1_800_000_000_000,
    welcomeHash: await welcomeHash(new Uint8Array([1, 2, 3])),
    admins: ["alice@nodea"],
    joined: ["alice@nodea", "carol@nodec"],
  };
}

Deno.test("invitations round-trip and verify under the inviter's identity", async () => {
  const identity = await e2e.generateIdentity();
  const f = await fields();
  const bytes = await signInvitation(f, identity);
  const inv = await readInvitation(bytes);
  assert.deepEqual({ ...inv, inviterIdentity: undefined, bytes: undefined }, {
    ...f,
    inviterIdentity: undefined,
    bytes: undefined,
  });
  assert.deepEqual(inv.inviterIdentity.signingKey, identity.publicIdentity.signingKey);
});

Deno.test("an altered, truncated, extended or unknown-version invitation is refused", async () => {
  const identity = await e2e.generateIdentity();
  const bytes = await signInvitation(await fields(), identity);
  for (const i of [0, 5, 40, 80, bytes.length - 200, bytes.length - 1]) {
    const bad = bytes.slice();
    bad[i] ^= 1;
    await assert.rejects(
      readInvitation(bad),
      (e) => e instanceof e2e.CodecError || e instanceof e2e.VerifyError,
      `byte ${i}`,
    );
  }
  await assert.rejects(readInvitation(bytes.subarray(0, bytes.length - 1)), e2e.CodecError);
  await assert.rejects(readInvitation(new Uint8Array([...bytes, 0])), e2e.CodecError);
  await assert.rejects(readInvitation(new Uint8Array(3000)), e2e.CodecError);
});
