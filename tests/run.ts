/**
 * The test entry (`deno task test`): runs `deno test` with the project's
 * permissions, passes its output through, and ends with the plain line
 * `N passed, N failed` that CI reads.
 */
const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write=.tmp",
  "--allow-run",
  "--allow-env",
  "--allow-sys",
];

const args = Deno.args.length > 0 ? Deno.args : ["lib/", "tests/"];
await Deno.mkdir(".tmp", { recursive: true });
const child = new Deno.Command(Deno.execPath(), {
  args: ["test", ...PERMISSIONS, ...args],
  env: { NO_COLOR: "1" },
  stdout: "piped",
  stderr: "inherit",
}).spawn();

let tail = "";
const decoder = new TextDecoder();
for await (const chunk of child.stdout) {
  await Deno.stdout.write(chunk);
  tail = (tail + decoder.decode(chunk, { stream: true })).slice(-4096);
}
const { code } = await child.status;
const m = /(\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed/.exec(tail);
const passed = m ? Number(m[1]) : 0;
const failed = m ? Number(m[3]) : 1;
// deno-lint-ignore no-console
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(code !== 0 && failed === 0 ? 1 : code);
