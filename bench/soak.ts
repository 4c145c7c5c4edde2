/**
 * `deno task soak NAME [--flag=value ...]`: runs one soak (`bench/soak_NAME.ts`)
 * in its own process, by hand, passing its output and flags through. A soak
 * runs for minutes against real node processes and prints figures; it
 * asserts nothing. `deno task soak hostile --minutes=10 --nofile=1024`.
 */
// deno-lint-ignore-file no-console
import { runScript } from "./_run_script.ts";

const SOAKS = ["hostile", "chaos"];
const flags = Deno.args.filter((a) => a.startsWith("--"));
const names = Deno.args.filter((a) => !a.startsWith("--"));
if (names.length !== 1 || !SOAKS.includes(names[0])) {
  console.log(`Usage: deno task soak ${SOAKS.join("|")} [--minutes=10] [--nofile=1024] [--seed=N]`);
  Deno.exit(2);
}
const file = new URL(`./soak_${names[0]}.ts`, import.meta.url).pathname;
Deno.exit(await runScript(file, flags));
