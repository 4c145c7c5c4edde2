import assert from "node:assert/strict";
import { DecryptError, generateIdentity, openIntro, sealIntro } from "./mod.ts";

const te = new TextEncoder();

Deno.test("sealIntro() round-trips to the recipient and fails for anyone else or other ad", async () => {
  const bob = await generateIdentity();
  const eve = await generateIdentity();
  const ad = te.encode("alice@a|bob@b");
  const sealed = await sealIntro({ recipient: bob.publicIdentity, intro: te.encode("hi bob"), ad });
  assert.equal(new TextDecoder().decode(await openIntro({ identity: bob, sealed, ad })), "hi bob");
  await assert.rejects(openIntro({ identity: eve, sealed, ad }), DecryptError);
  await assert.rejects(
    openIntro({ identity: bob, sealed, ad: te.encode("alice@a|carol@b") }),
    DecryptError,
  );
  const tampered = sealed.slice();
  tampered[tampered.length - 1] ^= 1;
  await assert.rejects(openIntro({ identity: bob, sealed: tampered, ad }), DecryptError);
  await assert.rejects(
    openIntro({ identity: bob, sealed: sealed.subarray(0, 20), ad }),
    DecryptError,
  );
  const v2 = sealed.slice();
  v2[0] = 2;
  await assert.rejects(openIntro({ identity: bob, sealed: v2, ad }), DecryptError);
});
