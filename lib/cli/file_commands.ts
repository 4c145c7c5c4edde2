/** CLI twins of the UI's file transfer actions, acting on a running client. */
import { resolve } from "node:path";
import type { FileTransfer } from "../client/mod.ts";
import { printLine, printProgress } from "../log.ts";
import { formatEta, formatSize as formatBytes } from "../ui/mod.ts";
import { CliError } from "./cli_error.ts";
import { call, type Command, stream, TARGET_FLAGS } from "./command.ts";
import { commandToRun } from "./command_line.ts";

const FLAGS = { ...TARGET_FLAGS, json: { type: "boolean" as const } };
const ENDED = new Set(["complete", "declined", "cancelled", "failed"]);

/** One line about a transfer, as `files` and `send-file` show it. */
export function describeTransfer(t: FileTransfer): string {
  const pct = t.size > 0 ? Math.floor((t.bytesDone * 100) / t.size) : 100;
  const dir = t.direction === "out" ? `to ${t.peer}` : `from ${t.peer}`;
  const moving = t.state === "sending" || t.state === "receiving";
  const progress = moving
    ? `  ${pct}% ${formatBytes(t.bytesDone)}/${formatBytes(t.size)}, ${
      formatBytes(t.rateBytesPerSec)
    }/s${t.etaMs === null ? "" : `, ${formatEta(t.etaMs)}`}`
    : "";
  const where = t.state === "complete" && t.direction === "in" ? `  saved as ${t.path}` : "";
  const why = t.reason ? `  (${t.reason})` : "";
  return `${t.id}  ${t.state.padEnd(9)} ${dir}  "${t.name}" ${
    formatBytes(t.size)
  }${progress}${where}${why}`;
}

function target(p: string[], what: string): string {
  if (p.length !== 1) throw new CliError(`Cannot ${what}: give one ADDRESS (name@node) or file ID`);
  return p[0];
}

/** File commands by name. */
export const FILE_COMMANDS: Record<string, Command> = {
  "send-file": {
    usage: "send-file ADDRESS PATH [--name NAME] [--no-wait] [--json]",
    summary:
      "Offer a file to a contact and show its progress until it arrives (Ctrl-C stops watching)",
    flags: { ...FLAGS, name: { type: "string" }, "no-wait": { type: "boolean" } },
    run: async (p, f) => {
      if (p.length !== 2) throw new CliError("Cannot send a file: give ADDRESS and PATH");
      const events = f["no-wait"] ? null : stream(f, "listen");
      // Asked now, so the stream is open by the time the offer's events come.
      let next = events?.next();
      const t = await call(f, "send-file", {
        address: p[0],
        path: resolve(p[1]),
        ...(typeof f.name === "string" ? { name: f.name } : {}),
      }) as FileTransfer;
      printLine(
        f.json
          ? JSON.stringify(t)
          : `offered ${t.id} "${t.name}" (${
            formatBytes(t.size)
          }) to ${t.peer}; waiting for them to accept`,
      );
      if (!events || !next) return 0;
      for (;;) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const tick = new Promise<"tick">((r) => timer = setTimeout(() => r("tick"), 2000));
        const got = await Promise.race([next, tick]);
        clearTimeout(timer);
        let x: FileTransfer | undefined;
        if (got === "tick") {
          // An event may have come before the stream was open: ask.
          x = (await call(f, "files") as FileTransfer[]).find((y) => y.id === t.id);
          if (!x || !ENDED.has(x.state)) continue;
        } else {
          if (got.done) return 1;
          next = events.next();
          const e = got.value as { kind: string; transfer?: FileTransfer };
          if (e.kind !== "file" || e.transfer?.id !== t.id) continue;
          x = e.transfer;
        }
        const done = ENDED.has(x.state);
        if (f.json) printLine(JSON.stringify(x));
        else printProgress(describeTransfer(x), done);
        // main.ts exits with the code, closing the stream.
        if (done) return x.state === "complete" ? 0 : 1;
      }
    },
  },
  files: {
    usage: "files [--json]",
    summary: "List file offers and transfers with their progress",
    flags: FLAGS,
    run: async (_p, f) => {
      const list = await call(f, "files") as FileTransfer[];
      if (f.json) printLine(JSON.stringify(list));
      else if (list.length === 0) printLine("no file transfers");
      else for (const t of list) printLine(describeTransfer(t));
      return 0;
    },
  },
  "accept-file": {
    usage: "accept-file ADDRESS|ID",
    summary: "Accept a file offer (by its id, or the latest from ADDRESS)",
    flags: FLAGS,
    run: async (p, f) => {
      const t = await call(f, "accept-file", {
        target: target(p, "accept a file"),
      }) as FileTransfer;
      printLine(f.json ? JSON.stringify(t) : `accepted ${t.id} "${t.name}"; saving to ${t.folder}`);
      return 0;
    },
  },
  "decline-file": {
    usage: "decline-file ADDRESS|ID",
    summary: "Decline a file offer",
    flags: FLAGS,
    run: async (p, f) => {
      const t = await call(f, "decline-file", {
        target: target(p, "decline a file"),
      }) as FileTransfer;
      printLine(f.json ? JSON.stringify(t) : `declined ${t.id} "${t.name}"`);
      return 0;
    },
  },
  "cancel-file": {
    usage: "cancel-file ID",
    summary: "Cancel a file transfer in either direction",
    flags: FLAGS,
    run: async (p, f) => {
      if (p.length !== 1) {
        throw new CliError(`Cannot cancel: give the file ID (see ${commandToRun(["files"])})`);
      }
      const t = await call(f, "cancel-file", { id: p[0] }) as FileTransfer;
      printLine(f.json ? JSON.stringify(t) : `cancelled ${t.id} "${t.name}"`);
      return 0;
    },
  },
};
