/** `init-multi N`: configs for N nodes on one machine, to try federation. */
import { join, resolve } from "node:path";
import { renderConfig } from "../config.ts";
import { CliError } from "./cli_error.ts";
import { commandToRun } from "./command_line.ts";

const NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"];

/** Writes the configs and returns the lines telling how to start and link them. */
export async function initMulti(
  positionals: string[],
  flags: Record<string, string | boolean | undefined>,
): Promise<string[]> {
  const n = Number(positionals[0]);
  if (positionals.length !== 1 || !Number.isInteger(n) || n < 2 || n > 64) {
    throw new CliError("Cannot init-multi: give N, a whole number from 2 to 64");
  }
  const dir = resolve(typeof flags.dir === "string" ? flags.dir : "multi");
  const basePort = Number(flags["base-port"] ?? 9001);
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort + n - 1 > 65535) {
    throw new CliError(
      "Cannot init-multi: --base-port must be 1024 to 65535 with room for N ports",
    );
  }
  await Deno.mkdir(dir, { recursive: true });
  const ids = Array.from({ length: n }, (_, i) => NAMES[i] ?? `node${i + 1}`);
  const lines = [`Wrote ${n} configs in ${dir}:`];
  for (const [i, id] of ids.entries()) {
    const file = join(dir, `${id}.conf`);
    try {
      await Deno.writeTextFile(
        file,
        renderConfig({ port: basePort + i, nodeId: id, dataDir: `${id}-data` }),
        { createNew: true },
      );
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new CliError(`Cannot init-multi: ${file} exists; remove it or pick another --dir`);
      }
      throw e;
    }
    lines.push(`  ${id.padEnd(8)} port ${basePort + i}  ${file}`);
  }
  const config = (id: string) => ["--config", join(dir, `${id}.conf`)];
  lines.push("", "Start each in its own terminal:");
  for (const id of ids) lines.push(`  ${commandToRun(["start", ...config(id)])}`);
  lines.push("", "Then link them, for example each to the next:");
  for (let i = 0; i + 1 < n; i++) {
    const next = ["127.0.0.1", String(basePort + i + 1), ids[i + 1]];
    lines.push(`  ${commandToRun(["connect", ...next, ...config(ids[i])])}`);
    lines.push(`  ${commandToRun(["approve", ids[i], ...config(ids[i + 1])])}`);
  }
  return lines;
}
