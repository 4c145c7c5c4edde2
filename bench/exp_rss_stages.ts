/**
 * Experiment behind docs/PERF_NOTES.md (branch `slim`, run by hand): where a
 * fresh node's and client's RSS goes, stage by stage, as `deno task bench
 * messaging --hops=1` sets them up: two headless nodes started, linked, alice's
 * and bob's client processes connected (they publish key packages), the chat
 * set up (the bench's "before traffic"). For each process: RSS, anonymous and
 * file-backed, the largest mappings of /proc/PID/smaps, and V8's heap.
 *
 *   deno run -A bench/exp_rss_stages.ts
 *
 * `--imports A B ...` instead prints what importing modules costs in a fresh
 * process (RSS after the imports + 300 ms, with the project's V8 flags), one
 * child per argument; an argument may join modules with `+`:
 *
 *   deno run -A bench/exp_rss_stages.ts --imports lib/node/mod.ts lib/node/mod.ts+lib/e2e/mod.ts
 *
 * Needs -A: Deno reads /proc only with --allow-all.
 */
// deno-lint-ignore-file no-console
import type { ClientProc } from "./_client_proc.ts";

// No node:path here: a node: module alone costs the children several MiB.
const REPO = new URL("..", import.meta.url);
const mib = (kib: number) => (kib / 1024).toFixed(1);

function status(pid: number | "self"): { rss: string; anon: string; file: string } {
  const st = Deno.readTextFileSync(`/proc/${pid}/status`);
  const k = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(st)?.[1] ?? 0);
  return { rss: mib(k("VmRSS")), anon: mib(k("RssAnon")), file: mib(k("RssFile")) };
}

/** The largest mappings by RSS: file name (or [anon], [heap]) and permissions. */
function topMappings(pid: number, n = 6): string {
  const by = new Map<string, number>();
  let cur = "";
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
    const m = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) cur = `${(m[2] || "[anon]").replace(/.*\//, "")} ${m[1]}`;
    else if (line.startsWith("Rss:")) {
      by.set(cur, (by.get(cur) ?? 0) + Number(line.split(/\s+/)[1]));
    }
  }
  return [...by].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${k} ${mib(v)}`)
    .join(", ");
}

const heap = (m: Deno.MemoryUsage) =>
  `heap ${mib(m.heapUsed / 1024)}/${mib(m.heapTotal / 1024)}, external ${mib(m.external / 1024)}`;

async function stages(): Promise<void> {
  // Loaded here, not at the top: the --imports children must load nothing but what they measure.
  const { link } = await import("../tests/_helpers/chat.ts");
  const { NodeProc, tempRoot } = await import("../tests/_helpers/node_proc.ts");
  const { ClientProc } = await import("./_client_proc.ts");
  const root = await tempRoot("rss-stages");
  const nodes = await Promise.all(
    ["na", "nb"].map((id) => NodeProc.create({ id, root, open: true })),
  );
  const clients: ClientProc[] = [];
  const show = async (stage: string) => {
    console.log(`== ${stage}`);
    const rows: Array<[string, number, Deno.MemoryUsage]> = [
      ...await Promise.all(
        nodes.map(async (n) =>
          [`node ${n.id}`, n.pid!, await n.admin("memory") as Deno.MemoryUsage] as [
            string,
            number,
            Deno.MemoryUsage,
          ]
        ),
      ),
      ...await Promise.all(
        clients.map(async (c) =>
          [`client ${c.name}`, c.pid, await c.call<Deno.MemoryUsage>("memory")] as [
            string,
            number,
            Deno.MemoryUsage,
          ]
        ),
      ),
    ];
    for (const [name, pid, m] of rows) {
      const s = status(pid);
      console.log(`${name}: RSS ${s.rss} = anon ${s.anon} + file ${s.file}; ${heap(m)}`);
      console.log(`  ${topMappings(pid)}`);
    }
  };
  const settle = () => new Promise((r) => setTimeout(r, 1000));
  try {
    await settle();
    await show("nodes started");
    await link(nodes[0], nodes[1]);
    await settle();
    await show("linked");
    for (const [name, node] of [["alice", nodes[0]], ["bob", nodes[1]]] as const) {
      clients.push(await ClientProc.startUser(node, name, root));
    }
    await settle();
    await show("clients connected (key packages published)");
    await clients[0].call("request", { to: `bob@${nodes[1].id}` });
    await clients[1].call("waitRequest");
    await clients[1].call("accept", { from: `alice@${nodes[0].id}` });
    await clients[0].call("waitAccepted");
    await show("chat set up (the messaging bench's 'before traffic')");
  } finally {
    for (const c of clients) await c.stop();
    for (const n of nodes) await n.stop();
  }
}

/** In a child: imports the modules named by `spec` (joined with `+`) and prints one row. */
async function importChild(spec: string): Promise<void> {
  for (const s of spec.split("+").filter((x) => x !== "")) {
    await import(/^(npm|node|jsr):/.test(s) ? s : new URL(s, REPO).href);
  }
  await new Promise((r) => setTimeout(r, 300));
  const s = status("self");
  console.log(
    `${spec || "nothing"}\tRSS ${s.rss}\tanon ${s.anon}\tfile ${s.file}\t${
      heap(Deno.memoryUsage())
    }`,
  );
}

async function imports(specs: string[]): Promise<void> {
  for (const spec of specs) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--max-semi-space-size=1,--heap-growing-percent=100",
        new URL(import.meta.url).pathname,
        "--import-child",
        spec,
      ],
      cwd: REPO.pathname,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`Cannot measure "${spec}": the child failed`);
  }
}

if (Deno.args[0] === "--import-child") await importChild(Deno.args[1] ?? "");
else if (Deno.args[0] === "--imports") await imports(Deno.args.slice(1));
else await stages();
