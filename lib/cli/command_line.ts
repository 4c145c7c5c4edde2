/**
 * The command a person types to run fedchat, for every hint the CLI prints, so
 * that a hint works as printed on a machine with only Node.js.
 */

/** The Deno release the README and every printed hint name: `npx` fetches it when needed. */
export const DENO_VERSION = "2.9.6";

const TASK = `npx deno@${DENO_VERSION} task`;
/** Characters a POSIX shell passes through unchanged in a bare word. */
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One argument as a POSIX shell word: as is when plain, else single-quoted. */
function shellWord(arg: string): string {
  return PLAIN_WORD.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command line that runs fedchat with `args`, ready to paste into a shell
 * in the project's folder: `npx deno@2.9.6 task cli ARGS`, or
 * `npx deno@2.9.6 task start ARGS` for the `start` command, as the README says.
 * `npx` fetches that Deno release, so no global Deno is needed. Arguments a
 * shell would split or expand (spaces, brackets, quotes) are single-quoted.
 *
 * @example
 * ```ts
 * commandToRun(["connect", "127.0.0.1", "9002", "bob"]);
 * // "npx deno@2.9.6 task cli connect 127.0.0.1 9002 bob"
 * commandToRun(["start", "--config", "my node.conf"]);
 * // "npx deno@2.9.6 task start --config 'my node.conf'"
 * ```
 */
export function commandToRun(args: readonly string[]): string {
  const [task, rest] = args[0] === "start" ? ["start", args.slice(1)] : ["cli", args];
  return [TASK, task, ...rest.map(shellWord)].join(" ");
}
