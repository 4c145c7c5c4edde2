/**
 * Prosody beside fedchat's messaging bench (`--vs-prosody`): runs the shared
 * harness (../shared/bench/prosody, or PROSODY_HARNESS) in a copy under
 * .tmp/prosody-bench when Prosody is installed, prints its figures and the
 * fedchat / Prosody ratios. Env PROSODY_SECONDS (10), PROSODY_NAGLE (on).
 */
// deno-lint-ignore-file no-console
import { join, resolve } from "node:path";
import { mib } from "./_proc.ts";

const REPO = resolve(new URL("..", import.meta.url).pathname);
const PROSODY_SECONDS = Number(Deno.env.get("PROSODY_SECONDS") ?? 10);
const PROSODY_NAGLE = Deno.env.get("PROSODY_NAGLE") ?? "on";
/** The shared harness: `../shared` beside the clone (or beside its worktrees' folder). */
const HARNESS = Deno.env.get("PROSODY_HARNESS") ??
  [
    resolve(REPO, "..", "shared", "bench", "prosody"),
    resolve(REPO, "..", "..", "shared", "bench", "prosody"),
  ]
    .find((p) => {
      try {
        return Deno.statSync(p).isDirectory;
      } catch {
        return false;
      }
    }) ??
  resolve(REPO, "..", "shared", "bench", "prosody");
async function sh(
  cmd: string,
  cwd: string,
  timeoutS = 300,
): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command("timeout", {
    args: [String(timeoutS), "bash", "-c", cmd],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout) + d.decode(r.stderr) };
}

async function prosodySkipReason(): Promise<string | null> {
  if ((await sh("command -v prosody", REPO)).code !== 0) {
    return "Prosody is not installed (see ../shared/bench/prosody/README.md)";
  }
  if ((await sh("command -v node", REPO)).code !== 0) return "node is not installed";
  if (Deno.uid() !== 0) {
    return "the harness runs Prosody as user prosody through setpriv: needs root";
  }
  try {
    await Deno.stat(join(HARNESS, "bench.mjs"));
  } catch {
    return `no Prosody harness at ${HARNESS} (set PROSODY_HARNESS)`;
  }
  if ((await sh("ss -ltn | grep -qE '127\\.0\\.0\\.[23]:5222 '", REPO)).code === 0) {
    return "something already listens on 127.0.0.2/3:5222 (another Prosody run?)";
  }
  return null;
}

interface ProsodyRun {
  delivered_per_s: number;
  lat_ms: { p50: number; p90: number; p99: number; max: number };
  cpu_pct: { a: number; b: number; client_node: number; other_processes: number };
  rss_kB: { a_peak: number; b_peak: number };
  lost_total_after_drain: number;
  loadavg_1m: number;
}

async function runProsody(): Promise<
  { skipped: string } | { nagle: string; seconds: number; max: ProsodyRun; rate1000: ProsodyRun }
> {
  const why = await prosodySkipReason();
  if (why) return { skipped: why };
  const dir = join(REPO, ".tmp", "prosody-bench");
  const prep = await sh(
    `set -e; if [ ! -f bench.mjs ]; then cp -r "${HARNESS}"/. . && chmod -R u+w .; fi
     [ -d node_modules ] || npm install --no-audit --no-fund >/dev/null 2>&1
     ./gen_certs.sh >/dev/null; ./servers.sh users >/dev/null 2>&1 || true`,
    await Deno.mkdir(dir, { recursive: true }).then(() => dir),
  );
  if (prep.code !== 0) return { skipped: `harness setup failed: ${prep.out.slice(-500)}` };
  const run = async (args: string): Promise<ProsodyRun> => {
    await sh(
      `./servers.sh stop; ./servers.sh clean-offline; NAGLE=${PROSODY_NAGLE} ./servers.sh start; sleep 2`,
      dir,
    );
    try {
      const r = await sh(
        `node bench.mjs ${args} --duration ${PROSODY_SECONDS} --warmup 2`,
        dir,
        180,
      );
      const line = r.out.trim().split("\n").reverse().find((l) => l.startsWith("{"));
      if (!line) throw new Error(`Prosody harness printed no result: ${r.out.slice(-500)}`);
      return JSON.parse(line);
    } finally {
      await sh("./servers.sh stop", dir);
    }
  };
  try {
    const max = await run("max --window 400");
    const rate1000 = await run("rate --rate 1000");
    return { nagle: PROSODY_NAGLE, seconds: PROSODY_SECONDS, max, rate1000 };
  } catch (e) {
    // The fedchat figures above stand; say why the reference is missing (Prosody without
    // lua-unbound, for one, never delivers the warm-up message).
    return { skipped: `the harness failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * Runs Prosody (the most msg/s across 1 hop, window 400, and p50/p99 at 1,000
 * msg/s), prints its figures and, given fedchat's 1-hop figures, the ratios;
 * returns them for the JSON line (or why it skipped).
 */
export async function compareWithProsody(
  one: { throughput: number; p50: number; p99: number } | undefined,
): Promise<unknown> {
  const p = await runProsody();
  if ("skipped" in p) {
    console.log(`Prosody: skipped (${p.skipped})`);
    return p;
  } else {
    const m = p.max, l = p.rate1000;
    const perMsg = (pct: number, rate: number) => Math.round((pct / 100 / rate) * 1e6);
    console.log(
      `Prosody 0.12 (nagle ${p.nagle}, ${p.seconds} s): ${m.delivered_per_s} msg/s max (window 400; ` +
        `CPU A ${m.cpu_pct.a}% B ${m.cpu_pct.b}% = ${
          perMsg(m.cpu_pct.a + m.cpu_pct.b, m.delivered_per_s)
        } µs/msg; other ${m.cpu_pct.other_processes}%, load ${m.loadavg_1m}); ` +
        `at 1,000 msg/s p50 ${l.lat_ms.p50} ms, p99 ${l.lat_ms.p99} ms (CPU A ${l.cpu_pct.a}% B ${l.cpu_pct.b}%; ` +
        `other ${l.cpu_pct.other_processes}%, load ${l.loadavg_1m}); RSS peak A ${
          mib(m.rss_kB.a_peak)
        } B ${mib(m.rss_kB.b_peak)} MiB`,
    );
    const ratio = one
      ? {
        throughput: Math.round((one.throughput / m.delivered_per_s) * 100) / 100,
        p50: Math.round((one.p50 / l.lat_ms.p50) * 100) / 100,
        p99: Math.round((one.p99 / l.lat_ms.p99) * 100) / 100,
      }
      : null;
    if (ratio) {
      console.log(
        `fedchat / Prosody, 1 hop: throughput ×${ratio.throughput}; at 1,000 msg/s p50 ×${ratio.p50}, p99 ×${ratio.p99}`,
      );
    }
    return { ...p, ratio };
  }
}
