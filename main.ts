/**
 * fedchat: one process per person (node, client and browser UI), or a
 * headless node (`server`), or a command acting on a running node.
 * Run `main.ts --help` for the commands. The UI's routes are loaded only by
 * the commands that start the UI.
 */
import { runCli } from "./lib/cli/mod.ts";

const loadManifest = async () => (await import("./routes/mod.ts")).MANIFEST;

if (import.meta.main) Deno.exit(await runCli(Deno.args, { loadManifest }));
