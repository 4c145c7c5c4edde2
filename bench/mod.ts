/**
 * `deno task bench [NAME...]`: runs benchmarks one after another, each in its
 * own process, passing their output through. Benchmarks assert nothing.
 * Arguments starting with "--" go to each benchmark:
 * `deno task bench messaging --hops=1 --vs-prosody`.
 */
// deno-lint-ignore-file no-console
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
// Arguments starting with "--" are passed to every benchmark run (e.g. `--vs-prosody`).
const flags = Deno.args.filter((a) => a.startsWith("--"));
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
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write=.tmp",
      "--allow-run",
      "--allow-env",
      "--allow-sys",
      file,
      ...flags,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (code !== 0) console.log(`${name} exited with ${code}`);
}
