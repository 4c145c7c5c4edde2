/** Commands that act on a running client: requests, messages, keys, events. */
import { printLine } from "../log.ts";
import { CliError } from "./cli_error.ts";
import { call, type Command, stream, TARGET_FLAGS } from "./command.ts";
import { describeTransfer } from "./file_commands.ts";
import type { FileTransfer, GroupMessage, GroupView, KeyChange } from "../client/mod.ts";
import { describeGroup } from "./group_commands.ts";

const FLAGS = { ...TARGET_FLAGS, json: { type: "boolean" as const } };
const KEY_FLAGS = { ...FLAGS, confirm: { type: "string" as const } };

function one(p: string[], what: string): string {
  if (p.length !== 1) throw new CliError(`Cannot ${what}: give one ADDRESS (name@node)`);
  return p[0];
}

const time = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

/** Client commands by name. */
export const CLIENT_COMMANDS: Record<string, Command> = {
  request: {
    usage: "request ADDRESS [TEXT]",
    summary: "Ask someone for a chat, with an introduction they see before accepting",
    flags: FLAGS,
    run: async (p, f) => {
      if (p.length < 1) throw new CliError("Cannot request: give ADDRESS and an optional TEXT");
      await call(f, "request", { address: p[0], intro: p.slice(1).join(" ") });
      printLine(`request sent to ${p[0]}`);
      return 0;
    },
  },
  requests: {
    usage: "requests [--json]",
    summary: "List chat requests waiting for your answer",
    flags: FLAGS,
    run: async (_p, f) => {
      const r = await call(f, "requests") as Array<
        { from: string; intro: string; fingerprint: string; restart: boolean }
      >;
      if (f.json) printLine(JSON.stringify(r));
      else {
        for (const x of r) {
          printLine(
            `${x.from}  key ${x.fingerprint}  "${x.intro}"${
              x.restart ? "  (restart: same key as your chat; they lost their side of it)" : ""
            }`,
          );
        }
      }
      const invitations = f.json ? [] : await call(f, "invitations") as Array<
        { group: string; name: string; inviter: string; fingerprint: string; members: number }
      >;
      for (const i of invitations) {
        printLine(
          `group "${i.name}" (${i.members} members): invitation from ${i.inviter}  key ${i.fingerprint}` +
            `  (group accept ${i.group} / group decline ${i.group})`,
        );
      }
      if (!f.json && r.length === 0 && invitations.length === 0) printLine("no requests waiting");
      return 0;
    },
  },
  accept: {
    usage: "accept ADDRESS",
    summary: "Accept a chat request",
    flags: FLAGS,
    run: async (p, f) => {
      await call(f, "accept", { address: one(p, "accept") });
      printLine(`accepted ${p[0]}`);
      return 0;
    },
  },
  reject: {
    usage: "reject ADDRESS",
    summary: "Reject a chat request (the sender is not told; further requests are dropped)",
    flags: FLAGS,
    run: async (p, f) => {
      await call(f, "decline", { address: one(p, "reject") });
      printLine(`rejected ${p[0]}`);
      return 0;
    },
  },
  block: {
    usage: "block ADDRESS",
    summary: "Block an address: its requests and messages are dropped at your node",
    flags: FLAGS,
    run: async (p, f) => {
      await call(f, "block", { address: one(p, "block") });
      printLine(`blocked ${p[0]}`);
      return 0;
    },
  },
  send: {
    usage: "send ADDRESS TEXT",
    summary: "Send a message in an accepted chat",
    flags: FLAGS,
    run: async (p, f) => {
      if (p.length < 2) throw new CliError("Cannot send: give ADDRESS and TEXT");
      const m = await call(f, "send", { address: p[0], text: p.slice(1).join(" ") }) as {
        id: string;
        state: string;
      };
      printLine(f.json ? JSON.stringify(m) : `${m.state} ${m.id}`);
      return 0;
    },
  },
  history: {
    usage: "history ADDRESS [--json]",
    summary: "Show a conversation with timestamps and delivery states",
    flags: FLAGS,
    run: async (p, f) => {
      const h = await call(f, "history", {
        address: one(p, "show history"),
        limit: 100_000,
      }) as Array<
        { direction: string; text: string; sentAtMs: number; state: string }
      >;
      if (f.json) printLine(JSON.stringify(h));
      else {for (const m of h) {
          printLine(
            `${time(m.sentAtMs)} ${m.direction === "out" ? ">" : "<"} ${m.text}  (${m.state})`,
          );
        }}
      return 0;
    },
  },
  contacts: {
    usage: "contacts [--json]",
    summary: "List contacts and the state of each chat",
    flags: FLAGS,
    run: async (_p, f) => {
      const c = await call(f, "contacts") as Array<
        {
          address: string;
          state: string;
          unread: number;
          keyChanged: boolean;
          claim: { fingerprint: string } | null;
        }
      >;
      if (f.json) printLine(JSON.stringify(c));
      else {
        for (const x of c) {
          printLine(
            `${x.address.padEnd(40)} ${x.state}${x.unread ? `  ${x.unread} unread` : ""}${
              x.keyChanged ? "  KEY CHANGED (see key-change)" : ""
            }${x.claim ? `  WARNING: another key claims this address (see key-change)` : ""}`,
          );
        }
      }
      return 0;
    },
  },
  verify: {
    usage: "verify ADDRESS [--json]",
    summary: "Show the safety number to compare with a contact",
    flags: FLAGS,
    run: async (p, f) => {
      const s = await call(f, "verify", { address: one(p, "verify") }) as {
        digits: string;
        qr: string;
      };
      printLine(f.json ? JSON.stringify(s) : `${p[0]}\n  ${s.digits}\n  qr: ${s.qr}`);
      return 0;
    },
  },
  "key-change": {
    usage: "key-change ADDRESS [--json]",
    summary: "Show a waiting key change: both keys, both safety numbers",
    flags: FLAGS,
    run: async (p, f) => {
      const k = await call(f, "key-change", { address: one(p, "show a key change") }) as
        | KeyChange
        | null;
      if (f.json) printLine(JSON.stringify(k));
      else if (!k) printLine(`no key change is waiting for ${p[0]}`);
      else printKeyChange(k);
      return 0;
    },
  },
  "accept-key": {
    usage: "accept-key ADDRESS --confirm FINGERPRINT",
    summary: "Take a contact's new key, after comparing safety numbers (see key-change)",
    flags: KEY_FLAGS,
    run: async (p, f) => {
      const address = one(p, "accept a key");
      if (typeof f.confirm !== "string") {
        const k = await call(f, "key-change", { address }) as KeyChange | null;
        if (!k) throw new CliError(`Cannot accept a key: no key change is waiting for ${address}`);
        printKeyChange(k);
        throw new CliError(
          "Cannot accept the new key yet: compare the safety numbers above with your contact, " +
            `then run accept-key ${address} --confirm ${k.claimed.fingerprint}`,
        );
      }
      await call(f, "accept-key", { address, confirm: f.confirm });
      printLine(`accepted the new key of ${address}`);
      return 0;
    },
  },
  "dismiss-key": {
    usage: "dismiss-key ADDRESS",
    summary: "Forget a claim made with another key; the chat goes on with the key you have",
    flags: FLAGS,
    run: async (p, f) => {
      await call(f, "dismiss-key", { address: one(p, "dismiss a key claim") });
      printLine(`dismissed the claim on ${p[0]}`);
      return 0;
    },
  },
  listen: {
    usage: "listen [--json]",
    summary: "Print events as they happen (requests, messages, state changes), one per line",
    flags: FLAGS,
    run: async (_p, f) => {
      for await (const ev of stream(f, "listen")) {
        printLine(f.json ? JSON.stringify(ev) : describe(ev as Record<string, unknown>));
      }
      return 0;
    },
  },
};

function printKeyChange(k: KeyChange): void {
  printLine(
    k.kind === "claim"
      ? `${k.address}: someone claims to be ${k.address} with another key; your chat is unaffected`
      : `${k.address}: your request was answered by another key than the one their node published; ` +
        "sending waits",
  );
  printLine(`  ${k.kind === "claim" ? "key you have" : "key published"}  ${k.current.fingerprint}`);
  printLine(`    safety number  ${k.current.digits}`);
  printLine(`  ${k.kind === "claim" ? "claimed key " : "key answering"}  ${k.claimed.fingerprint}`);
  printLine(`    safety number  ${k.claimed.digits}`);
  if (k.intro !== null) printLine(`  their words: "${k.intro}"`);
  printLine(`  take the new key: accept-key ${k.address} --confirm ${k.claimed.fingerprint}`);
  if (k.kind === "claim") printLine(`  forget the claim: dismiss-key ${k.address}`);
}

function describe(ev: Record<string, unknown>): string {
  const m = ev.message as
    | { peer: string; direction: string; text: string; sentAtMs: number }
    | undefined;
  if (ev.kind === "message" && m) {
    return `${time(m.sentAtMs)} ${m.direction === "in" ? `${m.peer}:` : `to ${m.peer}:`} ${m.text}`;
  }
  if (ev.kind === "request") {
    const r = ev.request as { from: string; intro: string };
    return `chat request from ${r.from}: "${r.intro}"  (accept ${r.from} / reject ${r.from})`;
  }
  if (ev.kind === "claim") {
    const c = ev.claim as { address: string; fingerprint: string };
    return `WARNING: someone claims to be ${c.address} with another key (${c.fingerprint}); ` +
      `your chat is unaffected (key-change ${c.address})`;
  }
  if (ev.kind === "file") return describeTransfer(ev.transfer as FileTransfer);
  if (ev.kind === "node") {
    const bad = Object.entries(ev.conditions as Record<string, { state: string; message?: string }>)
      .filter(([, c]) => c.state !== "ok");
    return bad.length === 0
      ? "node: all resources ok again"
      : bad.map(([name, c]) => `node ${name}: ${c.state} (${c.message ?? ""})`).join("\n");
  }
  if (ev.kind === "groupMessage") {
    const m = ev.message as GroupMessage;
    return `[${m.group}] ${m.kind === "event" ? `* ${m.text}` : `${m.sender}: ${m.text}`}`;
  }
  if (ev.kind === "invitation") {
    const i = ev.invitation as { group: string; name: string; inviter: string };
    return `group invitation to "${i.name}" from ${i.inviter}  (group accept ${i.group} / group decline ${i.group})`;
  }
  if (ev.kind === "group") return `group ${describeGroup(ev.group as GroupView)}`;
  if (ev.kind === "groupState") {
    const d = ev.delivery as { delivered: number; recipients: number; read: number };
    return `[${ev.group}] ${ev.id}: delivered to ${d.delivered} of ${d.recipients}, read by ${d.read}`;
  }
  if (ev.kind === "state") {
    return `${ev.peer} ${ev.id}: ${ev.state}${ev.reason ? ` (${ev.reason})` : ""}`;
  }
  return JSON.stringify(ev);
}
