import assert from "node:assert/strict";
import { commandToRun, DENO_VERSION } from "./command_line.ts";

const PREFIX = `npx deno@${DENO_VERSION} task`;

/** The words a POSIX shell makes of `line`, by running it. */
async function shellWords(line: string): Promise<string[]> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `printf '%s\\0' ${line}`],
    env: { HOME: "/home/expanded" },
    stdout: "piped",
  }).output();
  assert.equal(out.code, 0);
  return new TextDecoder().decode(out.stdout).split("\0").slice(0, -1);
}

Deno.test("commandToRun() runs the cli task through npx, and start as its own task", () => {
  assert.equal(
    commandToRun(["connect", "127.0.0.1", "9002", "bob", "--config", "multi/alice.conf"]),
    `${PREFIX} cli connect 127.0.0.1 9002 bob --config multi/alice.conf`,
  );
  assert.equal(
    commandToRun(["start", "--config", "/x/a.conf"]),
    `${PREFIX} start --config /x/a.conf`,
  );
  assert.equal(commandToRun(["start"]), `${PREFIX} start`);
  assert.equal(commandToRun([]), `${PREFIX} cli`);
  assert.equal(commandToRun(["links", "start"]), `${PREFIX} cli links start`);
});

Deno.test("commandToRun() quotes what a shell would split or expand, so it runs as printed", async () => {
  const args = [
    "send",
    "alice@alice",
    'it\'s a $HOME `date` *.conf [::1]:9000 "q" \\ ; & | ~',
    "",
    "--config",
    "/tmp/my node/alice.conf",
  ];
  const line = commandToRun(args);
  assert.ok(line.startsWith(`${PREFIX} cli send alice@alice '`), line);
  const words = await shellWords(line.slice(`${PREFIX} cli `.length));
  assert.deepEqual(words, args);
});

Deno.test("README's commands name the same Deno release and forms as the hints", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const versions = [...readme.matchAll(/npx deno@([\w.-]+)/g)].map((m) => m[1]);
  assert.ok(versions.length >= 3, "README shows npx commands");
  assert.deepEqual(versions.filter((v) => v !== DENO_VERSION), []);
  assert.ok(readme.includes(`\n${commandToRun(["start"])} `), "start as printed");
  assert.ok(readme.includes(`\`${commandToRun(["COMMAND"])}`), "cli as printed");
  // A bare `deno task x` needs a global Deno, which a newcomer may not have.
  assert.deepEqual([...readme.matchAll(/`deno task \w[^`]*`/g)].map((m) => m[0]), []);
});
