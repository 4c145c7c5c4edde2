/**
 * Helpers for the group tests only (never imported by mod.ts): people with
 * identities and key packages, a group built in one commit, and a hub that
 * delivers a message to every member but its sender.
 */
import { addGroupMembers, createGroup } from "./group.ts";
import {
  type GeneratedGroupKeyPackage,
  generateGroupKeyPackage,
  readGroupKeyPackage,
} from "./group_key_package.ts";
import { encryptGroupMessage, joinGroup, processGroupMessage } from "./group_message.ts";
import type { GroupState } from "./group_state.ts";
import { generateIdentity, type IdentityKeyPair } from "./identity.ts";
import type { Random } from "./random.ts";

/** The tests' fixed clock: 2026-01-01T00:00:00Z. */
export const NOW = Date.UTC(2026, 0, 1);

/** A user with an identity and one fresh key package. */
export interface Person {
  readonly name: string;
  readonly address: string;
  readonly identity: IdentityKeyPair;
  readonly keyPackage: GeneratedGroupKeyPackage;
}

/** Makes `name@node-name` with a new identity and key package. */
export async function person(name: string, random: Random): Promise<Person> {
  const identity = await generateIdentity({ random });
  const address = `${name}@node-${name}`;
  const keyPackage = await generateGroupKeyPackage({ identity, address, nowMs: NOW, random });
  return { name, address, identity, keyPackage };
}

/** Every member's state by name. */
export type States = Record<string, GroupState>;

/** A group made by `names[0]`, who adds the others in one commit; they join from the Welcome. */
export async function groupOf(
  names: string[],
  random: Random,
): Promise<{ states: States; people: Record<string, Person> }> {
  const people: Record<string, Person> = {};
  for (const n of names) people[n] = await person(n, random);
  const first = people[names[0]];
  const created = await createGroup({
    identity: first.identity,
    address: first.address,
    name: "friends",
    homeNode: `node-${first.name}`,
    nowMs: NOW,
    random,
  });
  const states: States = { [first.name]: created };
  if (names.length === 1) return { states, people };
  const keyPackages = [];
  for (const n of names.slice(1)) {
    keyPackages.push(await readGroupKeyPackage(people[n].keyPackage.keyPackage, { nowMs: NOW }));
  }
  const commit = await addGroupMembers({ state: created, keyPackages, random });
  states[first.name] = commit.newState;
  for (const n of names.slice(1)) {
    const joined = await joinGroup({
      welcome: commit.welcome!,
      keyPackageSecrets: [people[n].keyPackage.secret],
      random,
    });
    states[n] = joined.state;
  }
  return { states, people };
}

/** `from` encrypts `text`; its state moves on; returns the message bytes. */
export async function send(
  states: States,
  from: string,
  text: string,
  random: Random,
): Promise<Uint8Array> {
  const sent = await encryptGroupMessage({
    state: states[from],
    plaintext: new TextEncoder().encode(text),
    random,
  });
  states[from] = sent.newState;
  return sent.message;
}

/** Delivers `message` to each of `to`, in order; returns what each read as text or kind. */
export async function deliver(
  states: States,
  message: Uint8Array,
  to: string[],
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of to) {
    const r = await processGroupMessage({ state: states[n], message });
    states[n] = r.newState;
    out[n] = r.kind === "application" ? new TextDecoder().decode(r.plaintext) : r.kind;
  }
  return out;
}
