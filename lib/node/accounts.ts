/** Accounts on a node: the owner, and further users who connect their own clients. */
import { toUserName, type UserName } from "../ids.ts";
import type { AccountRecord, NodeStore } from "../store/mod.ts";
import { AdminError } from "./admin_server.ts";

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Makes sure the owner's account exists (the in-process client needs no enrollment). */
export function ensureOwner(store: NodeStore, owner: UserName, nowMs: number): void {
  if (store.getAccount(owner)) return;
  store.putAccount({
    name: owner,
    publicKey: null,
    enrollHash: null,
    bundle: null,
    listed: true,
    createdAtMs: nowMs,
  });
}

/**
 * Adds a user and returns a one-time enrollment code for their client. Only a
 * hash of the code is kept.
 *
 * @throws {AdminError} the name is taken or invalid
 */
export async function addUser(
  store: NodeStore,
  name: string,
  nowMs: number,
  options: { listed?: boolean } = {},
): Promise<{ name: UserName; code: string }> {
  const user = toUserName(name);
  if (store.getAccount(user)) throw new AdminError(`Cannot add user: ${user} already exists`);
  const raw = crypto.getRandomValues(new Uint8Array(20));
  const code = Array.from(raw, (b) => BASE32[b & 31]).join("");
  store.putAccount({
    name: user,
    publicKey: null,
    enrollHash: await sha256(code),
    bundle: null,
    listed: options.listed ?? true,
    createdAtMs: nowMs,
  });
  return { name: user, code };
}

/** Checks an enrollment code against an account, in constant time. */
export async function enrollmentMatches(account: AccountRecord, code: string): Promise<boolean> {
  if (!account.enrollHash) return false;
  const h = await sha256(code);
  let diff = h.length ^ account.enrollHash.length;
  for (let i = 0; i < h.length; i++) diff |= h[i] ^ (account.enrollHash[i] ?? 0);
  return diff === 0;
}
