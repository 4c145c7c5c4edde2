/** Commands for the browser UI of a running process: its address, signing browsers out, status. */
import { printLine } from "../log.ts";
import { call, type Command, TARGET_FLAGS } from "./command.ts";

const FLAGS = { ...TARGET_FLAGS, json: { type: "boolean" as const } };

/** UI commands by name (twins of the Node screen's "Sign out other browsers"). */
export const UI_COMMANDS: Record<string, Command> = {
  "ui-url": {
    usage: "ui-url",
    summary: "Print the address that opens the browser UI (it carries the current token)",
    flags: FLAGS,
    run: async (_p, f) => {
      const r = await call(f, "ui-url") as { url: string };
      printLine(f.json ? JSON.stringify(r) : r.url);
      return 0;
    },
  },
  "ui-signout": {
    usage: "ui-signout",
    summary: "Sign every browser out of the UI and replace its token; prints the new address",
    flags: FLAGS,
    run: async (_p, f) => {
      const r = await call(f, "ui-signout") as { url: string; signedOut: number };
      if (f.json) printLine(JSON.stringify(r));
      else {
        printLine(`signed out ${r.signedOut} browser session(s); the old address no longer works`);
        printLine(`open ${r.url}`);
      }
      return 0;
    },
  },
  "ui-status": {
    usage: "ui-status [--json]",
    summary: "Connections, sessions and event sockets of the browser UI, against their caps",
    flags: FLAGS,
    run: async (_p, f) => {
      const s = await call(f, "ui-status") as {
        port: number;
        connections: { used: number; totalLimit?: number; limit: number; trusted: number };
        sessions: number;
        eventSockets: number;
        acceptErrors: number;
      };
      if (f.json) printLine(JSON.stringify(s));
      else {
        const c = s.connections;
        printLine(`UI on 127.0.0.1:${s.port}`);
        printLine(
          `  connections  ${c.used} of ${c.totalLimit ?? "?"} (${c.limit} per address), ` +
            `${c.trusted} signed in`,
        );
        printLine(`  sessions     ${s.sessions}, ${s.eventSockets} event socket(s)`);
        printLine(`  accept errors since start  ${s.acceptErrors}`);
      }
      return 0;
    },
  },
};
