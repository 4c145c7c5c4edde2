/**
 * CLI twins of the group actions, acting on a running client: `groups`, and
 * `group create|invite|accept|decline|remove|leave|rename|members|send|history`.
 * GROUP is a group's id (`hex@home`, or a prefix of its hex of at least six
 * characters) or its name where only one group has it.
 */
import { resolve } from "node:path";
import { printLine } from "../log.ts";
import { CliError } from "./cli_error.ts";
import { call, type Command, type Flags, TARGET_FLAGS } from "./command.ts";
import type { GroupMemberView, GroupMessage, GroupView } from "../client/mod.ts";

const FLAGS = { ...TARGET_FLAGS, json: { type: "boolean" as const } };
const time = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

/** One line about a group, as `groups` shows it. */
export function describeGroup(g: GroupView): string {
  const flags = [
    g.state !== "active" ? g.state : "",
    g.admin ? "admin" : "",
    g.leaving ? "leaving" : "",
    g.unread ? `${g.unread} unread` : "",
    g.pending ? `waiting for the home node: ${g.pending}` : "",
  ].filter((x) => x).join(", ");
  return `${g.id}  "${g.name}"  ${g.members} member${g.members === 1 ? "" : "s"}` +
    (flags ? `  (${flags})` : "");
}

/** One line of a group's history. */
export function describeGroupMessage(m: GroupMessage): string {
  if (m.kind === "event") return `${time(m.sentAtMs)} * ${m.text}`;
  const d = m.delivery;
  const state = d
    ? `  (delivered to ${d.delivered} of ${d.recipients}, read by ${d.read}${
      d.failed ? `, failed ${d.failed}` : ""
    })`
    : "";
  return `${time(m.sentAtMs)} ${m.direction === "out" ? ">" : `${m.sender}:`} ${m.text}${state}`;
}

const SUB: Record<
  string,
  { usage: string; args: number; run: (p: string[], f: Flags) => Promise<void> }
> = {
  create: {
    usage: "group create NAME",
    args: -1,
    run: async (p, f) => {
      const g = await call(f, "group-create", { name: p.join(" ") }) as GroupView;
      printLine(f.json ? JSON.stringify(g) : `created ${describeGroup(g)}`);
    },
  },
  invite: {
    usage: "group invite GROUP ADDRESS [ADDRESS...]",
    args: -2,
    run: async (p, f) => {
      const addresses = p.slice(1);
      const g = await call(f, "group-invite", { group: p[0], addresses }) as GroupView;
      printLine(
        f.json
          ? JSON.stringify(g)
          : g.pending
          ? `invitation to ${addresses.join(", ")} waits for the home node (${g.home})`
          : `invited ${addresses.join(", ")} to "${g.name}"; they see it with their requests`,
      );
    },
  },
  accept: {
    usage: "group accept GROUP",
    args: 1,
    run: async (p, f) => {
      const g = await call(f, "group-accept", { group: p[0] }) as GroupView;
      printLine(f.json ? JSON.stringify(g) : `joined ${describeGroup(g)}`);
    },
  },
  decline: {
    usage: "group decline GROUP",
    args: 1,
    run: async (p, f) => {
      await call(f, "group-decline", { group: p[0] });
      printLine(`declined; the group's members are told`);
    },
  },
  remove: {
    usage: "group remove GROUP ADDRESS",
    args: 2,
    run: async (p, f) => {
      const g = await call(f, "group-remove", { group: p[0], address: p[1] }) as GroupView;
      printLine(f.json ? JSON.stringify(g) : `removed ${p[1]} from "${g.name}"`);
    },
  },
  leave: {
    usage: "group leave GROUP",
    args: 1,
    run: async (p, f) => {
      await call(f, "group-leave", { group: p[0] });
      printLine("leaving: a member's client commits it");
    },
  },
  rename: {
    usage: "group rename GROUP NAME",
    args: -2,
    run: async (p, f) => {
      const g = await call(f, "group-rename", {
        group: p[0],
        name: p.slice(1).join(" "),
      }) as GroupView;
      printLine(f.json ? JSON.stringify(g) : `renamed to "${g.name}"`);
    },
  },
  members: {
    usage: "group members GROUP [--json]",
    args: 1,
    run: async (p, f) => {
      const m = await call(f, "group-members", { group: p[0] }) as GroupMemberView[];
      if (f.json) return printLine(JSON.stringify(m));
      for (const x of m) {
        const tags = [
          x.self ? "you" : "",
          x.admin ? "admin" : "",
          x.joined ? "" : "invited",
          x.pinned === "different" ? "KEY DIFFERS FROM YOUR CHAT'S" : "",
        ].filter((t) => t).join(", ");
        printLine(`${x.address.padEnd(40)} key ${x.fingerprint}${tags ? `  (${tags})` : ""}`);
        if (!x.self) printLine(`  safety number ${x.safetyNumber}`);
      }
    },
  },
  send: {
    usage: "group send GROUP TEXT",
    args: -2,
    run: async (p, f) => {
      const m = await call(f, "group-send", {
        group: p[0],
        text: p.slice(1).join(" "),
      }) as GroupMessage;
      printLine(f.json ? JSON.stringify(m) : `${m.state} ${m.id}`);
    },
  },
  "send-file": {
    usage: "group send-file GROUP PATH",
    args: 2,
    run: async (p, f) => {
      const t = await call(f, "group-send-file", { group: p[0], path: resolve(p[1]) }) as Array<
        { id: string; peer: string; name: string }
      >;
      if (f.json) return printLine(JSON.stringify(t));
      for (const x of t) printLine(`offered ${x.id} "${x.name}" to ${x.peer}`);
      printLine("each member accepts or declines it (see files)");
    },
  },
  history: {
    usage: "group history GROUP [--json]",
    args: 1,
    run: async (p, f) => {
      const h = await call(f, "group-history", { group: p[0], limit: 100_000 }) as GroupMessage[];
      if (f.json) return printLine(JSON.stringify(h));
      for (const m of h) printLine(describeGroupMessage(m));
    },
  },
};

/** Group commands by name. */
export const GROUP_COMMANDS: Record<string, Command> = {
  groups: {
    usage: "groups [--json]",
    summary: "List your groups (and invitations waiting: see also requests)",
    flags: FLAGS,
    run: async (_p, f) => {
      const g = await call(f, "groups") as GroupView[];
      if (f.json) printLine(JSON.stringify(g));
      else {
        for (const x of g) printLine(describeGroup(x));
        if (g.length === 0) printLine("no groups; make one with group create NAME");
      }
      return 0;
    },
  },
  group: {
    usage:
      "group create|invite|accept|decline|remove|leave|rename|members|send|send-file|history ...",
    summary: "Group chats: GROUP is a group's id or its name (see groups)",
    flags: FLAGS,
    run: async (p, f) => {
      const sub = Object.hasOwn(SUB, p[0] ?? "") ? SUB[p[0]] : undefined;
      if (!sub) {
        throw new CliError(
          `Cannot run group ${p[0] ?? ""}: use one of ${
            Object.values(SUB).map((s) => s.usage).join("; ")
          }`,
        );
      }
      const args = p.slice(1);
      const ok = sub.args >= 0 ? args.length === sub.args : args.length >= -sub.args;
      if (!ok) throw new CliError(`Cannot run ${p[0]}: usage ${sub.usage}`);
      await sub.run(args, f);
      return 0;
    },
  },
};
