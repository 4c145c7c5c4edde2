/**
 * The V8 flags every fedchat process starts with, as deno.json's tasks give
 * them: a young generation of 1 MiB semi-spaces, which V8 otherwise grows to
 * its maximum under allocation pressure and keeps (docs/PERF_NOTES.md §3),
 * and an old generation that may grow by 100 % before the next full
 * collection (V8 otherwise lets it grow to several times what is live: nodes
 * held 60 MiB of heap for 22 MiB live at 1,000 msg/s; PERF_NOTES.md, section
 * "msgperf"). 20 % kept nodes 12 MiB smaller but ran a full collection every
 * ~250 ms during a file, and cost messages 18 % and files 30-40 % more CPU
 * (PERF_NOTES.md, the lead's fifth-session section). And dead ArrayBuffers
 * freed by the collection that finds them, not later by a concurrent sweeper
 * task: during a file, chunk-sized buffers (256 KiB, glibc's heap) waited for
 * that task while new ones were allocated, and each process's peak RSS was
 * 15-20 MiB higher at the same CPU per GiB (PERF_NOTES.md, `bobrss`).
 * No hard cap: a node with more live data still gets the heap it needs.
 * A module of its own, so a bench client process can import it without the
 * node's code or any permission.
 */

/** The flags of deno.json's `start`, `cli`, `dev` and `compile` tasks. */
export const DEFAULT_V8_FLAGS =
  "--max-semi-space-size=1,--heap-growing-percent=100,--no-concurrent-array-buffer-sweeping";

/**
 * The `--v8-flags` argument for a fedchat process started by tests and
 * benchmarks: FEDCHAT_V8_FLAGS replaces the default when set (empty: none),
 * e.g. `FEDCHAT_V8_FLAGS=--max-semi-space-size=1,--trace-gc` for experiments.
 */
export function v8FlagsArgs(): string[] {
  const flags = Deno.env.get("FEDCHAT_V8_FLAGS") ?? DEFAULT_V8_FLAGS;
  return flags ? [`--v8-flags=${flags}`] : [];
}

/**
 * `args` (from {@linkcode v8FlagsArgs}) as one `--v8-flags` argument with `--trace-gc` added, or
 * FEDCHAT_TRACE_V8_FLAGS instead when set (e.g. `--trace-gc-nvp`: one JSON line per collection, what
 * bench/gc_trace.ts reads). Only the traced processes get them, not the CLI commands a bench runs
 * (whose output is parsed).
 */
export function tracedV8Flags(args: string[]): string {
  const traced = Deno.env.get("FEDCHAT_TRACE_V8_FLAGS") || "--trace-gc";
  return args.length > 0 ? `${args[0]},${traced}` : `--v8-flags=${traced}`;
}
