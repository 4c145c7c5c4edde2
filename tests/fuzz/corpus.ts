/**
 * Regression inputs and crash files, both as commented hex text so they can be
 * read in a review: lines starting with `#` are comments, the rest is the
 * input in hex (whitespace ignored).
 *
 * - `tests/fuzz/corpus/<target>/<name>.hex`: committed inputs that once broke
 *   a decoder; every run replays them first.
 * - `.tmp/fuzz-crashes/<target>-<kind>-<hash>.hex`: what a run found.
 */
import type { Failure } from "./harness.ts";

const CORPUS_DIR = new URL("./corpus/", import.meta.url);

/** Parses commented hex text. */
export function parseHexFile(text: string): Uint8Array {
  const hex = text.split("\n").filter((l) => !l.startsWith("#")).join("").replace(/\s+/g, "");
  return Uint8Array.fromHex(hex);
}

/** Writes commented hex text, 64 hex digits a line. */
export function formatHexFile(comments: string[], input: Uint8Array): string {
  const hex = input.toHex();
  const lines = comments.map((c) => `# ${c.replaceAll("\n", " ")}`);
  for (let i = 0; i < hex.length; i += 64) lines.push(hex.slice(i, i + 64));
  return lines.join("\n") + "\n";
}

/** The committed regression inputs of a target, by file name (sorted). */
export async function loadCorpus(target: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const dir = new URL(`${target}/`, CORPUS_DIR);
  let names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".hex")) names.push(e.name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return out;
    throw e;
  }
  names = names.sort();
  for (const name of names) {
    out.set(name, parseHexFile(await Deno.readTextFile(new URL(name, dir))));
  }
  return out;
}

// FNV-1a, for short stable file names.
function fnv(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** Writes a failure to `dir` (created if needed) and returns the file's path. */
export async function writeCrash(dir: string, f: Failure): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${f.target}-${f.kind}-${fnv(f.input)}.hex`;
  const replay = f.index < 0
    ? `corpus entry ${-1 - f.index}`
    : `deno task fuzz --target ${f.target} --seed ${f.seed} --case ${f.index}`;
  const comments = [
    `target: ${f.target}`,
    `kind: ${f.kind}${f.known ? ` (known issue ${f.known})` : ""}`,
    `message: ${f.message}`,
    `seed: ${f.seed}  case: ${f.index}  bytes: ${f.input.length}`,
    `replay: ${replay}`,
  ];
  await Deno.writeTextFile(path, formatHexFile(comments, f.input));
  return path;
}
