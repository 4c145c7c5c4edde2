/**
 * The fuzz harness: a target is a decoder, the errors it may throw, valid
 * inputs made with the real encoders, and a size bound. Each case is built
 * from (run seed, target, case number) alone, so any case can be replayed.
 *
 * The rule checked on every case: the decoder returns a value or throws one
 * of its own errors, never anything else (in particular no engine error such
 * as "Cannot read properties of undefined", anywhere in the cause chain); it
 * keeps or allocates at most `perByte × input length + fixed` bytes; it uses
 * less than `timeLimitMs` of CPU time; what it returns keeps the target's `check`; and
 * where the format is canonical, re-encoding what it returned gives the
 * input back.
 */
import process from "node:process";
import { visible } from "../../lib/safe_text.ts";
import { randomBytes, randomJsonText, randomText } from "./generate.ts";
import { mutateBytes, mutateJson, type MutationContext } from "./mutate.ts";
import { Prng } from "./prng.ts";

/** How a case broke the rule. */
export type FailureKind = "error" | "alloc" | "slow" | "reencode" | "contract";

/** An issue already reported to another area: its failures are counted, not failed. */
export interface KnownIssue {
  /** Short id used in reports. */
  id: string;
  kind: FailureKind;
  /** Extra test on the failure's message; default: every failure of `kind`. */
  matches?: (message: string) => boolean;
}

/** One decoder under test. */
export interface FuzzTarget {
  /** Unique, kebab-case; also the corpus folder's name. */
  name: string;
  /** Where fixes go: "fuzz" for decoders this branch fixes, else the owning area. */
  owner: string;
  /** The errors a rejection may throw, in words. */
  errors: string;
  /** Decodes one input (text and JSON targets decode it as UTF-8 themselves). */
  decode(input: Uint8Array): unknown;
  /** True for an error the decoder is allowed to throw. */
  allowed(error: unknown): boolean;
  /** Valid inputs made with the real encoders. */
  seeds(): Uint8Array[] | Promise<Uint8Array[]>;
  /** How fresh inputs are generated and mutated; default "bytes". */
  format?: "bytes" | "json" | "text";
  /** Words worth inserting (text targets) or object keys (JSON targets). */
  dictionary?: readonly string[];
  /** Largest generated input; default 4096 or twice the largest seed. */
  maxBytes?: number;
  /** Allowed bytes kept or allocated: `perByte × input length + fixed`; default 8 and 64 KiB. */
  allocation?: { perByte: number; fixed: number };
  /** A case using more CPU time than this (three times over) fails; default 500 ms. */
  timeLimitMs?: number;
  /** For canonical formats: the encoding of a decoded value, which must equal the input. */
  reencode?(value: unknown, input: Uint8Array): Uint8Array;
  /** A format-aware mutation, used for a third of the mutated cases besides the generic ones. */
  mutate?(input: Uint8Array, ctx: MutationContext): Uint8Array;
  /** What the decoder promises about a value it returns: a complaint, or null when kept. */
  check?(value: unknown, input: Uint8Array): string | null;
  /** Relative cost: the fixed-seed test runs `cases × share` of this target; default 1. */
  share?: number;
  known?: readonly KnownIssue[];
}

/** A case that broke the rule. */
export interface Failure {
  target: string;
  kind: FailureKind;
  message: string;
  seed: string;
  index: number;
  input: Uint8Array;
  /** Set when a {@linkcode KnownIssue} covers it. */
  known?: string;
}

/** One line naming a failure and its input, for test output. */
export function formatFailure(f: Failure): string {
  const hex = f.input.toHex();
  return `${f.target} case ${f.index} (seed ${f.seed}) ${f.kind}: ${f.message}; input ${
    hex.length > 400 ? `${hex.slice(0, 400)}… (${f.input.length} bytes)` : hex
  }`;
}

/** A refusal by a layer in front of the decoder (e.g. `JSON.parse` in a route), always allowed. */
export class InputRefused extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InputRefused";
  }
}

// Messages V8 and web APIs give to programming errors; none is a decoder's own refusal.
const ENGINE_MESSAGES = new RegExp(
  [
    "is not a function",
    "Cannot read properties of",
    "Cannot set properties of",
    "is not iterable",
    "is not defined",
    "is not a constructor",
    "Maximum call stack size exceeded",
    "Invalid array length",
    "Invalid typed array length",
    "Invalid string length",
    "Array buffer allocation failed",
    "out of memory",
    "Offset is outside the bounds",
    "is outside the bounds of the buffer",
    "Cannot convert",
    "Cannot mix BigInt",
    "Cannot destructure",
    "before initialization",
    "Invalid code point",
    "Reduce of empty array",
    "Cannot create property",
    "read only property",
    "not extensible",
    "circular structure",
    "serialize a BigInt",
    "The encoded data was not valid",
    "Unexpected token",
    "Unexpected end of JSON",
    "is not valid JSON",
    "Bad control character",
    "Unterminated string",
    "Cannot use 'in' operator",
    "Cannot redefine property",
    "Invalid regular expression",
    "URI malformed",
  ].join("|"),
  "i",
);

/** True when `error` or anything in its cause chain is an engine error, not a refusal. */
export function isEngineError(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (ENGINE_MESSAGES.test(e.message)) return true;
  }
  return false;
}

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => Error;

/** An `allowed` test: an instance of one of `classes`, with no engine error in its causes. */
export function rejects(...classes: ErrorClass[]): (error: unknown) => boolean {
  return (e) =>
    (e instanceof InputRefused || classes.some((c) => e instanceof c)) && !isEngineError(e);
}

/** A short, stable description of an error for counting distinct messages. */
export function errorShape(e: unknown): string {
  const name = e instanceof Error ? e.name : typeof e;
  const message = e instanceof Error ? e.message : String(e);
  const shape = message.replace(/"(?:[^"\\]|\\.)*"/g, '"…"').replace(/\[[^\]]*\]/g, "[…]")
    .replace(/\d+/g, "#");
  return `${name}: ${shape.slice(0, 160)}`;
}

/**
 * Bytes a decoded value holds: strings (2 per unit), numbers, array and map
 * slots, and the whole buffer behind every typed array that is not the
 * input's own buffer. Stops counting past `cap`.
 */
export function retainedBytes(value: unknown, input: Uint8Array, cap = Infinity): number {
  const seen = new Set<unknown>();
  const buffers = new Set<ArrayBufferLike>([input.buffer]);
  const stack: unknown[] = [value];
  let total = 0;
  while (stack.length > 0 && total <= cap) {
    const v = stack.pop();
    if (typeof v === "string") total += 16 + 2 * v.length;
    else if (typeof v !== "object" || v === null) total += 8;
    else if (seen.has(v)) continue;
    else {
      seen.add(v);
      if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
        const buffer = v instanceof ArrayBuffer ? v : v.buffer;
        total += 32;
        if (!buffers.has(buffer)) total += buffer.byteLength;
        buffers.add(buffer);
      } else if (Array.isArray(v)) {
        total += 16 + 8 * v.length;
        if (total <= cap) stack.push(...v);
      } else if (v instanceof Map) {
        total += 16 + 16 * v.size;
        for (const [k, x] of v) stack.push(k, x);
      } else if (v instanceof Set) {
        total += 16 + 8 * v.size;
        for (const x of v) stack.push(x);
      } else {
        total += 16;
        for (const k of Object.keys(v)) {
          total += 16 + 2 * k.length;
          stack.push((v as Record<string, unknown>)[k]);
        }
      }
    }
  }
  return total;
}

/** What one case did. */
export interface CaseResult {
  accepted: boolean;
  error?: unknown;
  /** CPU time of the process during the call (not wall time, so a busy machine does not count). */
  ms: number;
  /** max(bytes held by the value, external memory grown during the call). */
  allocBytes: number;
  failure?: { kind: FailureKind; message: string };
}

// Remote text in a report: control and bidi characters escaped, length capped.
const printable = (text: string) => visible(text).slice(0, 300);

function describe(e: unknown): string {
  if (!(e instanceof Error)) return `non-Error thrown: ${printable(String(e))}`;
  let text = `${e.name}: ${printable(e.message)}`;
  for (let c = e.cause, d = 0; c instanceof Error && d < 5; c = c.cause, d++) {
    text += ` (cause ${c.name}: ${printable(c.message)})`;
  }
  const at = e.stack?.split("\n").slice(1).find((l) => !l.includes("/tests/fuzz/"));
  return at ? `${text} ${at.trim()}` : text;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Runs one input through a target once and judges it (time is judged by the caller). */
export async function runCase(target: FuzzTarget, input: Uint8Array): Promise<CaseResult> {
  const { perByte, fixed } = target.allocation ?? { perByte: 8, fixed: 64 * 1024 };
  const limit = perByte * input.length + fixed;
  const before = Deno.memoryUsage().external;
  const cpu = process.cpuUsage();
  let value: unknown;
  let error: unknown;
  let threw = false;
  try {
    value = await target.decode(input);
  } catch (e) {
    threw = true;
    error = e;
  }
  const used = process.cpuUsage(cpu);
  const ms = (used.user + used.system) / 1000;
  const external = Deno.memoryUsage().external - before;
  const allocBytes = Math.max(external, threw ? 0 : retainedBytes(value, input, limit * 2));
  const result: CaseResult = { accepted: !threw, error, ms, allocBytes };
  if (threw && !target.allowed(error)) {
    result.failure = { kind: "error", message: `threw ${describe(error)}` };
  } else if (allocBytes > limit) {
    result.failure = {
      kind: "alloc",
      message: `${allocBytes} bytes for a ${input.length}-byte input (limit ${limit})`,
    };
  } else if (!threw && target.check?.(value, input)) {
    result.failure = { kind: "contract", message: target.check(value, input)! };
  } else if (!threw && target.reencode) {
    let again: Uint8Array | undefined;
    try {
      again = target.reencode(value, input);
    } catch (e) {
      result.failure = { kind: "reencode", message: `re-encoding threw ${describe(e)}` };
    }
    if (again && !equalBytes(again, input)) {
      result.failure = { kind: "reencode", message: "accepted a non-canonical encoding" };
    }
  }
  return result;
}

/** The mutation bases of a target: its seeds plus its regression corpus. */
export async function basesOf(target: FuzzTarget, corpus: Uint8Array[] = []) {
  const seeds = await target.seeds();
  if (seeds.length === 0) throw new Error(`Fuzz target ${target.name} has no seeds`);
  const largest = Math.max(...seeds.map((s) => s.length));
  return {
    bases: [...seeds, ...corpus],
    maxBytes: target.maxBytes ?? Math.max(4096, 2 * largest),
  };
}

/** The input of case `index` of a run with `seed`: a pure function of its arguments. */
export function caseInput(
  target: FuzzTarget,
  bases: readonly Uint8Array[],
  maxBytes: number,
  seed: string,
  index: number,
): Uint8Array {
  const rng = new Prng(`${seed}/${target.name}/${index}`);
  const te = new TextEncoder();
  const dictionary = (target.dictionary ?? []).map((w) => te.encode(w));
  const ctx: MutationContext = { rng, others: bases, dictionary, maxBytes };
  const base = rng.pick(bases);
  const r = rng.int(100);
  if (r < 4) return base.slice();
  if (r < 12) return randomBytes(rng, maxBytes);
  if (target.mutate && r < 45) {
    try {
      return target.mutate(base, ctx);
    } catch {
      // A corpus entry the format-aware mutator cannot parse: mutate its bytes instead.
    }
  }
  switch (target.format ?? "bytes") {
    case "json":
      if (r < 30) return te.encode(randomJsonText(rng, target.dictionary ?? [])).slice(0, maxBytes);
      if (r < 65) return mutateJson(base, ctx, target.dictionary ?? []);
      break;
    case "text":
      if (r < 30) {
        return te.encode(randomText(rng, target.dictionary ?? [], maxBytes)).slice(0, maxBytes);
      }
      break;
  }
  return mutateBytes(base, ctx);
}

/** What a run of one target found. */
export interface TargetStats {
  target: string;
  cases: number;
  accepted: number;
  /** Distinct error shapes ({@linkcode errorShape}) and how often each was seen. */
  errors: Map<string, number>;
  /** Largest allocation per input byte (inputs under 64 bytes count as 64). */
  maxAllocRatio: number;
  maxAlloc: { bytes: number; inputBytes: number; index: number };
  slowest: { ms: number; inputBytes: number; index: number };
  elapsedMs: number;
  failures: Failure[];
  /** Failures covered by a known issue, by issue id. */
  knownHits: Map<string, number>;
}

/** Options of {@linkcode runTarget}. */
export interface RunOptions {
  seed: string;
  cases: number;
  /** Regression inputs to replay first and to mutate. */
  corpus?: Uint8Array[];
  /** Stop after this many failures (default 5). */
  maxFailures?: number;
  /** Stop early after this long (the run still reports what it did). */
  budgetMs?: number;
  /** Called for each failure as it is found. */
  onFailure?: (f: Failure) => void | Promise<void>;
}

/** Judges one case, re-running a slow one twice so a busy machine is not taken for a bug. */
export async function judgeCase(target: FuzzTarget, input: Uint8Array): Promise<CaseResult> {
  const result = await runCase(target, input);
  const limit = target.timeLimitMs ?? 500;
  if (result.failure || result.ms <= limit) return result;
  let ms = result.ms;
  for (let i = 0; i < 2 && ms > limit; i++) ms = Math.min(ms, (await runCase(target, input)).ms);
  if (ms > limit) {
    result.failure = { kind: "slow", message: `took ${ms.toFixed(1)} ms (limit ${limit} ms)` };
  }
  result.ms = ms;
  return result;
}

/** Runs the corpus, then `cases` generated cases, of one target. */
export async function runTarget(target: FuzzTarget, options: RunOptions): Promise<TargetStats> {
  const { seed, cases, corpus = [], maxFailures = 5, budgetMs = Infinity } = options;
  const { bases, maxBytes } = await basesOf(target, corpus);
  const stats: TargetStats = {
    target: target.name,
    cases: 0,
    accepted: 0,
    errors: new Map(),
    maxAllocRatio: 0,
    maxAlloc: { bytes: 0, inputBytes: 0, index: -1 },
    slowest: { ms: 0, inputBytes: 0, index: -1 },
    elapsedMs: 0,
    failures: [],
    knownHits: new Map(),
  };
  const started = performance.now();
  const total = corpus.length + cases;
  for (let i = 0; i < total; i++) {
    // Negative indexes name corpus entries in reports.
    const index = i < corpus.length ? -1 - i : i - corpus.length;
    const input = index < 0 ? corpus[i] : caseInput(target, bases, maxBytes, seed, index);
    const r = await judgeCase(target, input);
    stats.cases++;
    if (r.accepted) stats.accepted++;
    else {
      const shape = errorShape(r.error);
      stats.errors.set(shape, (stats.errors.get(shape) ?? 0) + 1);
    }
    const ratio = r.allocBytes / Math.max(64, input.length);
    if (ratio > stats.maxAllocRatio) stats.maxAllocRatio = ratio;
    if (r.allocBytes > stats.maxAlloc.bytes) {
      stats.maxAlloc = { bytes: r.allocBytes, inputBytes: input.length, index };
    }
    if (r.ms > stats.slowest.ms) stats.slowest = { ms: r.ms, inputBytes: input.length, index };
    if (r.failure) {
      const failure: Failure = { target: target.name, ...r.failure, seed, index, input };
      const known = target.known?.find((k) =>
        k.kind === failure.kind && (k.matches?.(failure.message) ?? true)
      );
      if (known) {
        failure.known = known.id;
        stats.knownHits.set(known.id, (stats.knownHits.get(known.id) ?? 0) + 1);
      } else stats.failures.push(failure);
      await options.onFailure?.(failure);
      if (stats.failures.length >= maxFailures) break;
    }
    if (performance.now() - started > budgetMs) break;
  }
  stats.elapsedMs = performance.now() - started;
  return stats;
}
