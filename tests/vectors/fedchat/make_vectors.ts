/**
 * Regenerates vectors.json. Run only for a deliberate format change:
 *   deno run --allow-write=tests/vectors/fedchat tests/vectors/fedchat/make_vectors.ts
 * The ML-KEM encapsulation is the one random step WebCrypto cannot fix; it is
 * recorded here once, and the test checks the record by real decapsulation.
 */
import { decodeChatRequest, WEBCRYPTO_KEM } from "../../../lib/e2e/mod.ts";
import { computeFrozenVectors, frozenRequest } from "./frozen.ts";

const { request } = await frozenRequest();
const kem = await WEBCRYPTO_KEM.encapsulate(decodeChatRequest(request).kemEncapsulationKey);
const vectors = await computeFrozenVectors(kem);
Deno.writeTextFileSync(
  new URL("./vectors.json", import.meta.url),
  JSON.stringify(vectors, null, 2) + "\n",
);
