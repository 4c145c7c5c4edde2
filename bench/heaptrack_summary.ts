/**
 * What holds a process's malloc heap during a file: reads a heaptrack
 * recording of one bench process (interpreted, gzip) and prints, by category,
 * the live malloc bytes at a baseline time (before the file) and at the
 * highest live total after it, and how much each category allocated after
 * the baseline. The deno binary is stripped, so categories go by allocation
 * size and by whether the call stack passes through JavaScript (frames in no
 * module: JIT code), not by function name.
 *
 *   H=$PWD/.tmp/ht; mkdir -p $H
 *   BYTES=268435456 BOB_ENV="LD_PRELOAD=/usr/lib/heaptrack/libheaptrack_preload.so \
 *     DUMP_HEAPTRACK_OUTPUT=$H/bob.raw" deno task bench files
 *   /usr/lib/heaptrack/libexec/heaptrack_interpret < $H/bob.raw | gzip > $H/bob.gz
 *   deno run --allow-read bench/heaptrack_summary.ts $H/bob.gz --from=<ms before the file>
 *
 * `--from` is milliseconds since the process started (heaptrack's clock); the
 * printed timeline (live MiB per second) shows where the file begins.
 * Lines of the interpreted format used: `i` (instruction: address, module),
 * `t` (trace: instruction, parent trace), `a` (allocation info: size, trace),
 * `+` / `-` (an allocation / a free of an allocation info), `c` (time, ms).
 */
// deno-lint-ignore-file no-console

const MiB = 1024 ** 2;

/** Sorts one allocation into a category by its size and whether JavaScript made it. */
function category(size: number, fromJs: boolean): string {
  if (fromJs && size === 16 * 1024) return "JS 16 KiB (node:crypto update outputs, cipher slices)";
  if (fromJs && size >= 256 * 1024 && size < 257 * 1024) {
    return "JS ~256 KiB (chunk and frame buffers)";
  }
  if (!fromJs && size === 64 * 1024) return "native 64 KiB (socket read buffers)";
  const big = size >= 4096 ? ">= 4 KiB" : "< 4 KiB";
  return `${fromJs ? "JS" : "native"} other ${big}`;
}

interface Counts {
  bytes: Map<string, number>;
  count: Map<string, number>;
}

function add(c: Counts, key: string, bytes: number, n: number): void {
  c.bytes.set(key, (c.bytes.get(key) ?? 0) + bytes);
  c.count.set(key, (c.count.get(key) ?? 0) + n);
}

async function* lines(path: string): AsyncGenerator<string> {
  const file = await Deno.open(path);
  const text = file.readable.pipeThrough(new DecompressionStream("gzip"))
    .pipeThrough(new TextDecoderStream());
  let rest = "";
  for await (const piece of text) {
    const parts = (rest + piece).split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest) yield rest;
}

async function main(args: string[]): Promise<void> {
  const path = args.find((a) => !a.startsWith("--"));
  const from = Number(args.find((a) => a.startsWith("--from="))?.slice(7) ?? 0);
  if (!path) throw new Error("usage: heaptrack_summary.ts FILE.gz [--from=MS]");
  const ipModule: string[] = [""]; // 1-based, as heaptrack numbers them
  const traceIp: number[] = [0];
  const traceParent: number[] = [0];
  const jsTrace = new Map<number, boolean>();
  const infoSize: number[] = [];
  const infoCategory: string[] = [];
  const live: number[] = [];
  const fromJs = (trace: number): boolean => {
    const seen: number[] = [];
    let t = trace;
    let found = false;
    while (t !== 0) {
      const known = jsTrace.get(t);
      if (known !== undefined) {
        found = known;
        break;
      }
      seen.push(t);
      if (ipModule[traceIp[t]] === "0") {
        found = true;
        break;
      }
      t = traceParent[t];
    }
    for (const s of seen) jsTrace.set(s, found);
    return found;
  };
  let total = 0;
  let now = 0;
  let base: number[] | null = null;
  let baseTotal = 0;
  let peak: number[] = [];
  let peakTotal = 0;
  let peakAt = 0;
  const after: Counts = { bytes: new Map(), count: new Map() };
  const timeline: string[] = [];
  for await (const line of lines(path)) {
    const kind = line[0];
    if (kind === "i") {
      ipModule.push(line.split(" ")[2]);
    } else if (kind === "t") {
      const [, ip, parent] = line.split(" ");
      traceIp.push(parseInt(ip, 16));
      traceParent.push(parseInt(parent, 16));
    } else if (kind === "a") {
      const [, size, trace] = line.split(" ");
      const s = parseInt(size, 16);
      infoSize.push(s);
      infoCategory.push(category(s, fromJs(parseInt(trace, 16))));
      live.push(0);
    } else if (kind === "+") {
      const i = parseInt(line.slice(2), 16);
      live[i]++;
      total += infoSize[i];
      if (base) {
        add(after, infoCategory[i], infoSize[i], 1);
        if (total > peakTotal) [peak, peakTotal, peakAt] = [live.slice(), total, now];
      }
    } else if (kind === "-") {
      const i = parseInt(line.slice(2), 16);
      live[i]--;
      total -= infoSize[i];
    } else if (kind === "c") {
      const t = parseInt(line.slice(2), 16);
      if (Math.floor(t / 1000) !== Math.floor(now / 1000)) {
        timeline.push(`${Math.floor(t / 1000)}s ${(total / MiB).toFixed(1)}`);
      }
      now = t;
      if (!base && now >= from) [base, baseTotal] = [live.slice(), total];
    }
  }
  const byCategory = (counts: number[]): Counts => {
    const c: Counts = { bytes: new Map(), count: new Map() };
    counts.forEach((n, i) => n > 0 && add(c, infoCategory[i], n * infoSize[i], n));
    return c;
  };
  const atBase = byCategory(base ?? []);
  const atPeak = byCategory(peak);
  console.log(`live malloc MiB by second: ${timeline.join(", ")}`);
  console.log(
    `${path}: live malloc ${(baseTotal / MiB).toFixed(1)} MiB at ${from} ms, ` +
      `${(peakTotal / MiB).toFixed(1)} MiB at its peak after (${peakAt} ms)`,
  );
  console.log(
    "| category | at baseline MiB | at peak MiB (count) | allocated after baseline: count, MiB |",
  );
  console.log("| --- | --- | --- | --- |");
  const keys = [...new Set([...atBase.bytes.keys(), ...atPeak.bytes.keys(), ...after.bytes.keys()])]
    .sort((a, b) => (atPeak.bytes.get(b) ?? 0) - (atPeak.bytes.get(a) ?? 0));
  const mib = (c: Counts, k: string) => ((c.bytes.get(k) ?? 0) / MiB).toFixed(1);
  for (const k of keys) {
    console.log(
      `| ${k} | ${mib(atBase, k)} | ${mib(atPeak, k)} (${atPeak.count.get(k) ?? 0}) | ` +
        `${after.count.get(k) ?? 0}, ${mib(after, k)} |`,
    );
  }
}

if (import.meta.main) await main(Deno.args);
