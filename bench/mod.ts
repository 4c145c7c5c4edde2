/**
 * `deno task bench [NAME...]`: runs benchmarks one after another, each in its
 * own process, passing their output through. Benchmarks assert nothing.
 * Arguments starting with "--" go to each benchmark:
 * `deno task bench messaging --hops=1 --vs-prosody`; `--v8-flags=...` goes to
 * Deno instead, after the benchmark's own V8 flags:
 * `deno task bench routing --sizes=10000 --v8-flags=--max-old-space-size=12000`.
 */
// deno-lint-ignore-file no-console
import { runScript } from "./_run_script.ts";

const ALL = [
  "startup",
  "e2e",
  "groups_crypto",
  "groups",
  "routing",
  "failover",
  "messaging",
  "ui",
  "files",
];
/**
 * V8 flags a benchmark always runs with: routing measures memory after a full collection
 * (`gc()`), and at 10,000 nodes the simulation holds several GiB in one heap.
 */
const V8_FLAGS: Record<string, string[]> = {
  routing: ["--expose-gc", "--max-old-space-size=12000"],
};
const V8_PREFIX = "--v8-flags=";
const extraV8 = Deno.args.filter((a) => a.startsWith(V8_PREFIX))
  .flatMap((a) => a.slice(V8_PREFIX.length).split(","))
  .filter((f) => f.length > 0);
// Other arguments starting with "--" are passed to every benchmark run (e.g. `--vs-prosody`).
const flags = Deno.args.filter((a) => a.startsWith("--") && !a.startsWith(V8_PREFIX));
const picked = Deno.args.filter((a) => !a.startsWith("--"));
const names = picked.length > 0 ? picked : ALL;
for (const name of names) {
  const file = new URL(`./${name}.ts`, import.meta.url).pathname;
  try {
    await Deno.stat(file);
  } catch {
    console.log(`(no benchmark named ${name})`);
    continue;
  }
  console.log(`== ${name}`);
  const v8 = [...(V8_FLAGS[name] ?? []), ...extraV8];
  const code = await runScript(file, flags, v8);
  if (code !== 0) console.log(`${name} exited with ${code}`);
}
