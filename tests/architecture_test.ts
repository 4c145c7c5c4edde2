/**
 * The layout table of STYLE.md, checked on the real module graph from
 * `deno info --json`, so a wrong import fails CI instead of a review.
 *
 * One deliberate exception: lib/federation, lib/node and leaf infra
 * (lib/channel) import lib/e2e/mod.ts (pure code, no I/O) for Ed25519 key
 * import and signatures, so that small-order keys are refused by the one
 * function every caller goes through.
 */
import assert from "node:assert/strict";
import { relative, resolve } from "node:path";

const REPO = resolve(new URL("..", import.meta.url).pathname);

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

async function graph(): Promise<Edge[]> {
  const roots = ["main.ts", "islands/_entry.ts"];
  for await (const e of Deno.readDir(`${REPO}/lib`)) {
    if (e.isDirectory) roots.push(`lib/${e.name}/mod.ts`);
  }
  const edges = new Map<string, Edge>();
  for (const root of roots) {
    try {
      await Deno.stat(`${REPO}/${root}`);
    } catch {
      continue;
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", root],
      cwd: REPO,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    for (const m of info.modules) {
      if (!m.specifier?.startsWith("file://") || !m.dependencies) continue;
      const from = relative(REPO, new URL(m.specifier).pathname);
      for (const d of m.dependencies) {
        const code = d.code?.specifier as string | undefined;
        const type = d.type?.specifier as string | undefined;
        const target = code ?? type;
        if (!target) continue;
        const to = target.startsWith("file://") ? relative(REPO, new URL(target).pathname) : target;
        edges.set(`${from}→${to}`, { from, to, typeOnly: !code });
      }
    }
  }
  return [...edges.values()];
}

function area(path: string): string {
  if (!path.startsWith("lib/")) return path.split("/")[0];
  const parts = path.split("/");
  if (parts.length === 2) return "leaf";
  if (parts[1] === "federation" && parts[2] === "routing") return "federation";
  return parts[1];
}

const LEAF_DIRS = new Set(["store", "wss", "protocol", "channel"]);
const isLeaf = (p: string) => area(p) === "leaf" || LEAF_DIRS.has(area(p));
const isMod = (p: string) => p.endsWith("/mod.ts");

const BROWSER_PACKAGES = /^npm:\/?(preact|@preact\/signals)(@|\/|$)/;

/**
 * islands/ and components/ run in the browser: lib/ui, preact and signals,
 * shared components (components/), and types from anywhere. An island never
 * imports another island file (only the browser entry gathers them).
 */
function browserSide(e: Edge): string | null {
  const { from, to, typeOnly } = e;
  if (typeOnly || BROWSER_PACKAGES.test(to) || to.startsWith("lib/ui/")) return null;
  if (to.startsWith("components/")) return null;
  if (to.startsWith("islands/") && from === "islands/_entry.ts") return null;
  return `${from} imports ${to}: islands and components may import lib/ui, preact and components/`;
}

/** routes/ render pages: front doors of lib, islands, components, their own files. */
function routeSide(e: Edge): string | null {
  const { from, to, typeOnly } = e;
  if (typeOnly || to.startsWith("npm:") || isMod(to)) return null;
  if (/^(routes|islands|components)\//.test(to)) return null;
  return `${from} imports ${to}: routes import lib front doors (mod.ts), islands and components`;
}

function allowed(e: Edge): string | null {
  const { from, to, typeOnly } = e;
  if (from.startsWith("islands/") || from.startsWith("components/")) return browserSide(e);
  if (from.startsWith("routes/")) return routeSide(e);
  if (!from.startsWith("lib/")) return null; // main.ts, tests, bench: anything
  if (to.startsWith("npm:") || to.startsWith("node:") || to.startsWith("jsr:")) {
    if (area(from) === "e2e" && !to.startsWith("npm:")) {
      return `${from} imports ${to}: lib/e2e does no I/O`;
    }
    return null;
  }
  const fromDir = from.slice(0, from.lastIndexOf("/"));
  const toDir = to.slice(0, to.lastIndexOf("/"));
  const base = to.slice(to.lastIndexOf("/") + 1);
  if (base.startsWith("_") && toDir !== fromDir) return `${from} imports private ${to}`;
  if (area(from) === area(to)) return null;
  if (typeOnly && area(from) !== "leaf") return null;
  const a = area(from);
  if (isLeaf(from)) {
    return isLeaf(to) || to === "lib/e2e/mod.ts" ? null : `${from} (leaf infra) imports ${to}`;
  }
  if (a === "e2e") return `${from} imports ${to}: lib/e2e imports only its own files`;
  if (a === "ui") return to.startsWith("lib/e2e/") ? null : `${from} imports ${to}`;
  if (a === "federation") {
    if (isLeaf(to) || to === "lib/e2e/mod.ts") return null;
    return `${from} imports ${to}: federation may import leaf infra and lib/e2e/mod.ts`;
  }
  if (a === "node") {
    if (isLeaf(to) || to === "lib/federation/mod.ts" || to === "lib/e2e/mod.ts") return null;
    return `${from} imports ${to}: node may import lib/federation/mod.ts, lib/e2e/mod.ts and leaf infra`;
  }
  if (a === "client") {
    if (isLeaf(to) || to === "lib/e2e/mod.ts") return null;
    return `${from} imports ${to}: client may import lib/e2e/mod.ts and leaf infra`;
  }
  // lib/cli and other composition code: only front doors.
  if (isLeaf(to) || isMod(to)) return null;
  return `${from} imports ${to}: use that folder's mod.ts`;
}

Deno.test("architecture: imports follow the layout table of STYLE.md", async () => {
  const edges = await graph();
  assert.ok(edges.length > 20, "the graph was read");
  const bad = edges.map(allowed).filter((x): x is string => x !== null);
  assert.deepEqual(bad, []);
});

Deno.test("architecture: no import cycles between files", async () => {
  const edges = (await graph()).filter((e) => !e.typeOnly && e.to.startsWith("lib/"));
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (n: string, path: string[]) => {
    if (state.get(n) === "done") return;
    if (state.get(n) === "open") {
      cycles.push([...path.slice(path.indexOf(n)), n].join(" → "));
      return;
    }
    state.set(n, "open");
    for (const m of next.get(n) ?? []) visit(m, [...path, n]);
    state.set(n, "done");
  };
  for (const n of next.keys()) visit(n, []);
  assert.deepEqual(cycles, []);
});

Deno.test("architecture: lib/e2e never touches Deno.* or the clock", async () => {
  const offenders: string[] = [];
  for await (const e of Deno.readDir(`${REPO}/lib/e2e`)) {
    if (!e.name.endsWith(".ts") || e.name.endsWith("_test.ts")) continue;
    const text = await Deno.readTextFile(`${REPO}/lib/e2e/${e.name}`);
    const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    if (/\bDeno\.|\bDate\.now\(|\bconsole\./.test(code)) offenders.push(e.name);
  }
  assert.deepEqual(offenders, []);
});
