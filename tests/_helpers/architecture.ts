/**
 * The architecture checker: reads a module graph with `deno info --json` and
 * checks it against the layout table of STYLE.md and for import cycles. Plain
 * functions over a list of edges, so it runs on any graph: the repository's
 * (tests/architecture_test.ts) or a small planted one.
 *
 * The graph is every module of main.ts, lib/, routes/, islands/ and
 * components/ (tests excluded), with type-only and dynamic imports: a cycle
 * through `import type` is still a cycle for the reader, even when the layout
 * table lets the import itself through ("`import type` from anywhere").
 *
 * One deliberate exception: lib/federation, lib/node and leaf infra
 * (lib/channel, lib/protocol) import lib/e2e/base.ts (pure code, no I/O, no
 * npm package) for the byte codec, Ed25519 key import and signatures, so that
 * small-order keys are refused by the one function every caller goes through.
 * They never load lib/e2e/mod.ts, which brings MLS (ts-mls, HPKE, ML-KEM),
 * except by `import type`; lib/node loads lib/e2e/group_checks.ts by `import()`.
 */
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = resolve(new URL("../..", import.meta.url).pathname);

/** One import: `from` and `to` relative to the graph's folder, or `to` a bare specifier. */
export interface Edge {
  from: string;
  to: string;
  /** `import type` / `export type`: gone at run time, but still part of the design. */
  typeOnly: boolean;
  /** `import()`: loaded when called. */
  dynamic: boolean;
}

/** An import cycle on main, tolerated until issue 12 breaks it. */
export interface KnownCycle {
  issue: string;
  cycle: string;
  /** The import that closes the cycle: skipped by the checks while the entry stands. */
  from: string;
  to: string;
  why: string;
}

/** The files the layout table governs: main.ts and every module of lib/, routes/, islands/, components/. */
export async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (sub: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(join(dir, sub)));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const e of entries) {
      const path = `${sub}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (/\.tsx?$/.test(e.name) && !/_test\.tsx?$/.test(e.name)) files.push(path);
    }
  };
  for (const top of ["lib", "routes", "islands", "components"]) await walk(top);
  try {
    await Deno.stat(join(dir, "main.ts"));
    files.push("main.ts");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return files.sort();
}

/**
 * Every import of `files` (paths relative to `dir`) and of what they reach
 * inside `dir`, read with one `deno info --json` run on a generated module
 * that imports them all.
 *
 * @throws {Error} when deno info fails or cannot resolve an import
 */
export async function readGraph(dir: string, files: string[]): Promise<Edge[]> {
  const scratch = await Deno.makeTempDir({ dir: join(REPO, ".tmp"), prefix: "architecture-" });
  try {
    const root = join(scratch, "roots.ts");
    await Deno.writeTextFile(
      root,
      files.map((f) => `import ${JSON.stringify(pathToFileURL(join(dir, f)).href)};\n`).join(""),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", root],
      cwd: REPO,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.code !== 0) {
      throw new Error(`deno info failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    const name = (specifier: string) =>
      specifier.startsWith("file://") ? relative(dir, fileURLToPath(specifier)) : specifier;
    const edges = new Map<string, Edge>();
    for (const m of info.modules) {
      if (m.error) throw new Error(`deno info: ${m.specifier}: ${m.error}`);
      if (!m.specifier?.startsWith("file://") || !m.dependencies) continue;
      const from = name(m.specifier);
      if (from.startsWith("..") || fileURLToPath(m.specifier) === root) continue;
      for (const d of m.dependencies) {
        const error = d.code?.error ?? d.type?.error;
        if (error) throw new Error(`deno info: ${from} imports ${d.specifier}: ${error}`);
        const code = d.code?.specifier as string | undefined;
        const target = code ?? d.type?.specifier as string | undefined;
        if (!target) continue;
        const to = name(target);
        const key = `${from}→${to}`;
        const before = edges.get(key);
        // Merged over every import of `to` in `from`: code if any is, and loaded at start if any
        // code import is static (an `import type` beside an `import()` loads nothing at start).
        const anyCode = code !== undefined || (before !== undefined && !before.typeOnly);
        const anyStatic = (code !== undefined && d.isDynamic !== true) ||
          (before !== undefined && !before.typeOnly && !before.dynamic);
        edges.set(key, { from, to, typeOnly: !anyCode, dynamic: anyCode && !anyStatic });
      }
    }
    return [...edges.values()].sort((a, b) => (a.from + a.to).localeCompare(b.from + b.to));
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
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
const isExternal = (p: string) => /^(npm|node|jsr|https?):/.test(p);
const UI_FOLDERS = new Set(["routes", "islands", "components"]);

/** The npm package a specifier names: `npm:/preact@10.29.8/hooks` → `preact`. */
function npmPackage(specifier: string): string | null {
  const m = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)/.exec(specifier);
  return m ? m[1] : null;
}

/** Browser code (islands/, components/): lib/ui, preact and @preact/signals; types from anywhere. */
function browserImport(from: string, to: string, typeOnly: boolean, folder: string): string | null {
  if (area(to) === area(from) || area(to) === "ui" || area(to) === "components") return null;
  const pkg = npmPackage(to);
  if (pkg === "preact" || pkg === "@preact/signals") return null;
  if (typeOnly) return null;
  return `${from} imports ${to}: ${folder} may import lib/ui, components/, preact and ` +
    "@preact/signals (and `import type` from anywhere)";
}

/** The part of lib/e2e that relays and wire codecs import: no npm package. */
const E2E_BASE = "lib/e2e/base.ts";
/** What a node checks of groups (ts-mls), loaded by `import()`. */
const E2E_GROUP_CHECKS = "lib/e2e/group_checks.ts";

/** Why `e` breaks the layout table of STYLE.md, or null when it follows it. */
export function layoutViolation(e: Edge): string | null {
  const { from, to, typeOnly, dynamic } = e;
  if (from === "main.ts") return null; // the composition root: anything
  const fromArea = area(from);
  const base = to.slice(to.lastIndexOf("/") + 1);
  if (!isExternal(to) && base.startsWith("_") && dirname(to) !== dirname(from)) {
    return `${from} imports private ${to}`;
  }
  if (fromArea === "islands" || fromArea === "components") {
    return browserImport(from, to, typeOnly, `${fromArea}/`);
  }
  if (fromArea === "routes") {
    if (isExternal(to) || UI_FOLDERS.has(area(to))) return null;
    if (to.startsWith("lib/") && (isMod(to) || typeOnly)) return null;
    return `${from} imports ${to}: routes/ may import lib/*/mod.ts, islands/ and components/ ` +
      "(and `import type` from lib/)";
  }
  if (!from.startsWith("lib/")) return null;
  if (isExternal(to)) {
    if (fromArea === "e2e" && !to.startsWith("npm:")) {
      return `${from} imports ${to}: lib/e2e does no I/O`;
    }
    return null;
  }
  if (UI_FOLDERS.has(area(to)) && !typeOnly) {
    return `${from} imports ${to}: lib/ never imports ${area(to)}/ by value ` +
      "(main.ts hands the route manifest in)";
  }
  if (fromArea === area(to)) return null;
  if (typeOnly && fromArea !== "leaf") return null;
  if (isLeaf(from)) {
    return isLeaf(to) || to === E2E_BASE ? null : `${from} (leaf infra) imports ${to}`;
  }
  if (fromArea === "e2e") return `${from} imports ${to}: lib/e2e imports only its own files`;
  if (fromArea === "ui") return to.startsWith("lib/e2e/") ? null : `${from} imports ${to}`;
  if (fromArea === "federation") {
    if (isLeaf(to) || to === E2E_BASE) return null;
    return `${from} imports ${to}: federation may import leaf infra and ${E2E_BASE}`;
  }
  if (fromArea === "node") {
    if (isLeaf(to) || to === "lib/federation/mod.ts" || to === E2E_BASE) return null;
    if (to === E2E_GROUP_CHECKS && dynamic) return null;
    return `${from} imports ${to}: node may import lib/federation/mod.ts, ${E2E_BASE}, ` +
      `leaf infra, and ${E2E_GROUP_CHECKS} by import()`;
  }
  if (fromArea === "client") {
    if (isLeaf(to) || to === "lib/e2e/mod.ts") return null;
    return `${from} imports ${to}: client may import lib/e2e/mod.ts and leaf infra`;
  }
  // lib/cli, lib/web and other composition code: only front doors.
  if (isLeaf(to) || isMod(to)) return null;
  return `${from} imports ${to}: use that folder's mod.ts`;
}

/** Every edge of `edges` that breaks the layout table, as a sentence. */
export function layoutViolations(edges: Edge[]): string[] {
  return edges.map(layoutViolation).filter((x): x is string => x !== null);
}

/** Strongly connected components (Tarjan), in a stable order. */
function components(next: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (n: string) => {
    index.set(n, index.size);
    low.set(n, index.get(n)!);
    stack.push(n);
    onStack.add(n);
    for (const m of next.get(n) ?? []) {
      if (!index.has(m)) {
        visit(m);
        low.set(n, Math.min(low.get(n)!, low.get(m)!));
      } else if (onStack.has(m)) {
        low.set(n, Math.min(low.get(n)!, index.get(m)!));
      }
    }
    if (low.get(n) === index.get(n)) {
      const scc: string[] = [];
      let m: string;
      do {
        m = stack.pop()!;
        onStack.delete(m);
        scc.push(m);
      } while (m !== n);
      found.push(scc.sort());
    }
  };
  for (const n of [...next.keys()].sort()) if (!index.has(n)) visit(n);
  return found;
}

/** The shortest way back from `start` to itself through `next`. */
function shortestCycle(start: string, next: Map<string, string[]>): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    for (const m of next.get(queue[i]) ?? []) {
      if (m === start) {
        const path = [start];
        for (let at = queue[i]; at !== start; at = parent.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!parent.has(m)) {
        parent.set(m, queue[i]);
        queue.push(m);
      }
    }
  }
  return [];
}

function successors(edges: Edge[]): Map<string, string[]> {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (isExternal(e.to)) continue;
    next.set(e.from, [...(next.get(e.from) ?? []), e.to].sort());
  }
  return next;
}

/**
 * Import cycles between the files of `edges` (every kind of import counts),
 * one per group of files that reach each other, as `a → b → a`. Fixing the
 * reported cycle may reveal another one in the same group.
 */
export function findCycles(edges: Edge[]): string[][] {
  const next = successors(edges);
  return components(next)
    .filter((scc) => scc.length > 1 || (next.get(scc[0]) ?? []).includes(scc[0]))
    .map((scc) => shortestCycle(scc[0], next));
}

/** What the checks report on a graph, with known cycles tolerated. */
export interface ArchitectureReport {
  violations: string[];
  cycles: string[];
  /** Known cycles whose import is gone or closes no cycle any more: remove their entries. */
  stale: string[];
}

/** Runs every check on `edges`, skipping the import that closes each of the `known` cycles. */
export function checkArchitecture(edges: Edge[], known: KnownCycle[]): ArchitectureReport {
  const isKnown = (e: Edge) => known.some((k) => k.from === e.from && k.to === e.to);
  const rest = edges.filter((e) => !isKnown(e));
  const group = new Map<string, number>();
  for (const [i, scc] of components(successors(edges)).entries()) {
    for (const n of scc) group.set(n, i);
  }
  // An import closes a cycle when its target leads back to it: both ends in one group.
  const closesCycle = (k: KnownCycle) =>
    edges.some((e) => e.from === k.from && e.to === k.to) &&
    group.get(k.from) === group.get(k.to);
  return {
    violations: layoutViolations(rest),
    cycles: findCycles(rest).map((c) => c.join(" → ")),
    stale: known.filter((k) => !closesCycle(k)).map((k) =>
      `${k.cycle} (${k.issue}) is gone: remove its entry from KNOWN_CYCLES`
    ),
  };
}
