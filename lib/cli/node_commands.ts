/** Commands that act on a running node: links, routes, users. */
import { printLine } from "../log.ts";
import { parseByteSize } from "../config.ts";
import { CliError } from "./cli_error.ts";
import { call, type Command, TARGET_FLAGS } from "./command.ts";
import { enrollCommand, type Enrollment } from "./enroll_command.ts";
import { formatLinks } from "./format.ts";
import { initMulti } from "./init_multi.ts";

const CONFIG_FLAG = { config: TARGET_FLAGS.config };
const JSON_FLAG = { ...CONFIG_FLAG, json: { type: "boolean" as const } };

/** Node commands by name. */
export const NODE_COMMANDS: Record<string, Command> = {
  "init-multi": {
    usage: "init-multi N [--dir D] [--base-port P]",
    summary: "Write configs for N nodes on this machine to try federation",
    flags: { dir: { type: "string" }, "base-port": { type: "string" } },
    run: async (p, f) => {
      for (const line of await initMulti(p, f)) printLine(line);
      return 0;
    },
  },
  connect: {
    usage: "connect HOST PORT NODE_ID | connect INVITE  [--config PATH]",
    summary: "Link this node to another (by address and id, or by an invite line)",
    flags: CONFIG_FLAG,
    run: async (p, f) => {
      let args: Record<string, unknown>;
      if (p.length === 1 && p[0].startsWith("fedchat://")) args = { invite: p[0] };
      else if (p.length === 3) args = { host: p[0], port: Number(p[1]), nodeId: p[2] };
      else throw new CliError("Cannot connect: give HOST PORT NODE_ID, or one invite line");
      const link = await call(f, "connect", args) as {
        peer: string;
        state: string;
        lastError: string | null;
      };
      printLine(`${link.peer}: ${link.state}${link.lastError ? ` (${link.lastError})` : ""}`);
      return link.state === "up" || link.state === "pending-approval" ? 0 : 1;
    },
  },
  invite: {
    usage: "invite [--config PATH]",
    summary: "Print this node's invite line (host, port, id, key fingerprint)",
    flags: CONFIG_FLAG,
    run: async (_p, f) => {
      printLine(String(await call(f, "invite")));
      return 0;
    },
  },
  links: {
    usage: "links [--json] [--config PATH] | links forget NODE_ID [--yes]",
    summary: "List linked and waiting nodes with their state; forget one (and its pinned key)",
    flags: { ...JSON_FLAG, yes: { type: "boolean" as const } },
    run: async (p, f) => {
      if (p.length === 0) {
        const links = await call(f, "links");
        printLine(f.json ? JSON.stringify(links) : formatLinks(links as never));
        return 0;
      }
      if (p[0] !== "forget" || p.length !== 2) {
        throw new CliError("Cannot run links: use `links`, or `links forget NODE_ID`");
      }
      const links = await call(f, "links") as Array<{ peer: string; fingerprint: string | null }>;
      const known = links.find((l) => l.peer === p[1]);
      if (!known) throw new CliError(`Cannot forget ${p[1]}: this node does not know it`);
      if (!f.yes) {
        printLine(
          `${p[1]} is pinned to key ${known.fingerprint ?? "(none yet)"}. Forgetting it drops ` +
            "the link and the pin, so the next key that answers to this id is trusted anew.\n" +
            `Run again with --yes to forget it: links forget ${p[1]} --yes`,
        );
        return 1;
      }
      await call(f, "forget", { nodeId: p[1] });
      printLine(`${p[1]}: forgotten`);
      return 0;
    },
  },
  approve: {
    usage: "approve NODE_ID [--config PATH]",
    summary: "Let a node that asked to link do so",
    flags: CONFIG_FLAG,
    run: async (p, f) => {
      if (p.length !== 1) throw new CliError("Cannot approve: give one NODE_ID");
      const link = await call(f, "approve", { nodeId: p[0] }) as { peer: string; state: string };
      printLine(`${link.peer}: approved (${link.state})`);
      return 0;
    },
  },
  "reject-link": {
    usage: "reject-link NODE_ID [--config PATH]",
    summary: "Refuse a node's link request (and close its link)",
    flags: CONFIG_FLAG,
    run: async (p, f) => {
      if (p.length !== 1) throw new CliError("Cannot reject-link: give one NODE_ID");
      await call(f, "reject", { nodeId: p[0] });
      printLine(`${p[0]}: rejected`);
      return 0;
    },
  },
  ping: {
    usage: "ping NODE_ID [--config PATH]",
    summary: "Send a probe to a node and show the path it took",
    flags: CONFIG_FLAG,
    run: async (p, f) => {
      if (p.length !== 1) throw new CliError("Cannot ping: give one NODE_ID");
      const r = await call(f, "ping", { nodeId: p[0] }) as { path: string[]; rttMs: number };
      printLine(`${r.path.join(" -> ")}  ${r.rttMs} ms`);
      return 0;
    },
  },
  directory: {
    usage: "directory [--json] [--config PATH]",
    summary: "List the users of every reachable node, with presence",
    flags: JSON_FLAG,
    run: async (_p, f) => {
      const d = await call(f, "directory") as Array<{ address: string; presence: string }>;
      if (f.json) printLine(JSON.stringify(d));
      else for (const u of d) printLine(`${u.address.padEnd(40)} ${u.presence}`);
      if (!f.json && d.length === 0) printLine("nobody reachable yet");
      return 0;
    },
  },
  mailbox: {
    usage: "mailbox add NODE_ID | list | remove NODE_ID | serve NODE_ID [--quota SIZE] | " +
      "served | stop NODE_ID  [--json] [--config PATH]",
    summary:
      "Choose the nodes that hold your envelopes while you are away; or hold them for others",
    flags: { ...JSON_FLAG, quota: { type: "string" } },
    run: async (p, f) => {
      const [sub, id] = p;
      const show = (value: unknown, text: string) =>
        printLine(f.json ? JSON.stringify(value) : text);
      if ((sub === "add" || sub === "remove") && id && p.length === 2) {
        const list = await call(f, `mailbox-${sub}`, { nodeId: id }) as string[];
        show(list, `Mailboxes: ${list.length > 0 ? list.join(", ") : "none"}`);
        return 0;
      }
      if (sub === "list" && p.length === 1) {
        const list = await call(f, "mailbox-list") as Array<{ node: string; reachable: boolean }>;
        show(
          list,
          list.length === 0
            ? "No mailboxes: envelopes for you wait at their senders while you are away"
            : list.map((m) => `${m.node.padEnd(20)} ${m.reachable ? "reachable" : "unreachable"}`)
              .join("\n"),
        );
        return 0;
      }
      if (sub === "serve" && id && p.length === 2) {
        let quotaBytes: number | undefined;
        if (typeof f.quota === "string") {
          try {
            quotaBytes = parseByteSize(f.quota, 65_536);
          } catch (e) {
            throw new CliError((e as Error).message);
          }
        }
        const r = await call(f, "mailbox-serve", { nodeId: id, quotaBytes }) as {
          quotaBytes: number;
        };
        show(r, `Serving ${id} as its mailbox, up to ${r.quotaBytes} bytes`);
        return 0;
      }
      if (sub === "served" && p.length === 1) {
        const list = await call(f, "mailbox-served") as Array<
          { node: string; quotaBytes: number; heldBytes: number }
        >;
        show(
          list,
          list.length === 0
            ? "Serving nobody"
            : list.map((s) =>
              `${s.node.padEnd(20)} holding ${s.heldBytes} of ${s.quotaBytes} bytes`
            ).join("\n"),
        );
        return 0;
      }
      if (sub === "stop" && id && p.length === 2) {
        await call(f, "mailbox-stop", { nodeId: id });
        show(null, `No longer serving ${id} (what is held is still handed over)`);
        return 0;
      }
      throw new CliError(
        "Cannot run mailbox: use add NODE_ID, list, remove NODE_ID, serve NODE_ID [--quota SIZE], " +
          "served or stop NODE_ID",
      );
    },
  },
  users: {
    usage: "users add NAME [--unlisted] | users list | users remove NAME  [--config PATH]",
    summary: "Manage the accounts of further people on this node",
    flags: { ...JSON_FLAG, unlisted: { type: "boolean" } },
    run: async (p, f) => {
      const [sub, name] = p;
      if (sub === "add" && name && p.length === 2) {
        const r = await call(f, "users-add", { name, listed: !f.unlisted }) as Enrollment;
        if (f.json) printLine(JSON.stringify(r));
        else {
          printLine(`Added ${r.name}@${r.node}. Give them this command (the code works once):`);
          printLine(`  ${enrollCommand(r)}`);
        }
        return 0;
      }
      if (sub === "list" && p.length === 1) {
        const list = await call(f, "users-list") as Array<Record<string, unknown>>;
        if (f.json) printLine(JSON.stringify(list));
        else {
          for (const u of list) {
            printLine(
              `${String(u.name).padEnd(20)} ${u.enrolled ? "enrolled" : "not enrolled"}  ` +
                `${u.listed ? "listed" : "unlisted"}  ${
                  u.online ? "online" : "offline"
                }  inbox ${u.inbox}`,
            );
          }
        }
        return 0;
      }
      if (sub === "remove" && name && p.length === 2) {
        await call(f, "users-remove", { name });
        printLine(`Removed ${name}`);
        return 0;
      }
      throw new CliError(
        "Cannot run users: use `users add NAME`, `users list` or `users remove NAME`",
      );
    },
  },
  status: {
    usage: "status [--json] [--config PATH]",
    summary: "Show the node's id, fingerprint, address, links, routes and directory",
    flags: JSON_FLAG,
    run: async (_p, f) => {
      const s = await call(f, "status") as {
        nodeId: string;
        fingerprint: string;
        listening: { host: string; port: number };
        links: never;
      };
      if (f.json) printLine(JSON.stringify(s));
      else {
        printLine(
          `node ${s.nodeId}  fingerprint ${s.fingerprint}  on ${s.listening.host}:${s.listening.port}`,
        );
        printLine(formatLinks(s.links));
      }
      return 0;
    },
  },
};
