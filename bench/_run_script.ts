/**
 * Runs one bench or soak script in its own Deno process with the permissions
 * they all share, passing its output through; resolves with its exit code.
 */
export async function runScript(
  file: string,
  flags: readonly string[],
  v8Flags: readonly string[] = [],
): Promise<number> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write=.tmp",
      "--allow-run",
      "--allow-env",
      "--allow-sys",
      ...(v8Flags.length > 0 ? [`--v8-flags=${v8Flags.join(",")}`] : []),
      file,
      ...flags,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  return code;
}
