/**
 * fedchat: one process per person (node, client and browser UI), or a
 * headless node (`server`), or a command acting on a running node.
 * Run `main.ts --help` for the commands.
 */
import { runCli } from "./lib/cli/mod.ts";
import { MANIFEST } from "./routes/mod.ts";

if (import.meta.main) Deno.exit(await runCli(Deno.args, { manifest: MANIFEST }));
