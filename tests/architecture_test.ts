/**
 * The layout table of STYLE.md, checked on the real module graph from
 * `deno info --json`, so a wrong import fails CI instead of a review; and the
 * checker itself (tests/_helpers/architecture.ts), run on planted graphs to
 * show that it fails when it should.
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import {
  checkArchitecture,
  type Edge,
  type KnownCycle,
  layoutViolation,
  layoutViolations,
  readGraph,
  sourceFiles,
} from "./_helpers/architecture.ts";

const REPO = resolve(new URL("..", import.meta.url).pathname);

/**
 * Import cycles that exist on main and are being broken (issue 12). Each entry
 * names the one import that closes its cycle; the checks skip exactly that
 * import, and fail once it is gone or no longer closes a cycle, so that the
 * entry is removed with the cycle. Add nothing here: break the cycle instead.
 */
const KNOWN_CYCLES: KnownCycle[] = [];

async function repoGraph(): Promise<Edge[]> {
  const files = await sourceFiles(REPO);
  assert.ok(files.includes("main.ts") && files.some((f) => f.startsWith("routes/")));
  return await readGraph(REPO, files);
}

Deno.test("architecture: imports follow the layout table of STYLE.md", async () => {
  const edges = await repoGraph();
  assert.ok(edges.length > 100, "the graph was read");
  assert.ok(edges.some((e) => e.typeOnly && e.from.startsWith("routes/")), "type-only edges seen");
  assert.deepEqual(checkArchitecture(edges, KNOWN_CYCLES).violations, []);
});

Deno.test("architecture: no import cycles between files, type-only imports included", async () => {
  const report = checkArchitecture(await repoGraph(), KNOWN_CYCLES);
  assert.deepEqual(report.cycles, []);
  assert.deepEqual(report.stale, []);
});

/**
 * What a headless node (`main.ts server`) and a CLI command load at start:
 * main.ts and its static imports, `import()` excluded.
 */
function loadedAtStart(edges: Edge[], root = "main.ts"): Set<string> {
  const seen = new Set<string>([root]);
  const todo = [root];
  while (todo.length > 0) {
    const from = todo.pop()!;
    for (const e of edges) {
      if (e.from !== from || e.typeOnly || e.dynamic || seen.has(e.to)) continue;
      seen.add(e.to);
      todo.push(e.to);
    }
  }
  return seen;
}

Deno.test("architecture: a headless node loads no client, UI, routes, CLI command tables or X.509 library", async () => {
  const edges = await repoGraph();
  const loaded = [...loadedAtStart(edges)];
  assert.ok(loaded.includes("lib/node/mod.ts"), "the node is loaded");
  const unneeded = loaded.filter((m) =>
    /^(lib\/client\/|lib\/web\/|lib\/ui\/|routes\/|lib\/cli\/app\.ts$)/.test(m) ||
    /^lib\/cli\/[a-z]+_commands\.ts$/.test(m) ||
    /^npm:\/?(hono|preact|preact-render-to-string|@preact\/signals|qrcode-generator)@/.test(m)
  );
  assert.deepEqual(unneeded, []);
  // A certificate is DER made by lib/tls.ts: no X.509 library, not even by import().
  const x509 = edges.filter((e) => /^npm:\/?(@peculiar\/|reflect-metadata)/.test(e.to));
  assert.deepEqual(x509, []);
});

/** MLS code: lib/e2e's barrel and group files, ts-mls, HPKE, ML-KEM. */
const isMls = (m: string) =>
  m === "lib/e2e/mod.ts" || m === "lib/e2e/_mls.ts" || /^lib\/e2e\/group/.test(m) ||
  /^npm:\/?(ts-mls|@hpke\/[^@]+|mlkem|@noble\/curves|@noble\/post-quantum)@/.test(m);

Deno.test("architecture: a node loads no MLS code (ts-mls, HPKE, ML-KEM) at start", async () => {
  const edges = await repoGraph();
  const loaded = loadedAtStart(edges);
  assert.ok(loaded.has("lib/node/node.ts"), "the node is loaded");
  // Issue 13: a relay never does MLS, and a node checks key packages and hub submissions with
  // lib/e2e/group_checks.ts, loaded by import() on first use.
  const mls = [...loaded].filter(isMls);
  assert.deepEqual(mls, []);
  const lazy = edges.filter((e) => e.dynamic && e.to === "lib/e2e/group_checks.ts");
  assert.deepEqual(lazy.map((e) => e.from), ["lib/node/group_service.ts"]);
  // Those checks need signatures and a hash, not HPKE: X-Wing and ML-KEM stay out.
  const checks = [...loadedAtStart(edges, "lib/e2e/group_checks.ts")];
  assert.ok(checks.some((m) => m.startsWith("npm:/ts-mls@")), "the checks use ts-mls");
  const hpke = checks.filter((m) => /^npm:\/?(@hpke\/|mlkem@)|\/provider\.js$/.test(m));
  assert.deepEqual(hpke, []);
  assert.ok(!checks.includes("lib/e2e/mod.ts"), "nor the rest of lib/e2e");
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

/** Writes `files` (path → source) under a fresh folder in .tmp/ and returns it. */
async function plant(files: Record<string, string>): Promise<string> {
  await Deno.mkdir(join(REPO, ".tmp"), { recursive: true });
  const dir = await Deno.makeTempDir({ dir: join(REPO, ".tmp"), prefix: "planted-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), text);
  }
  return dir;
}

Deno.test("architecture: the checker reports planted cycles and imports read from files", async () => {
  const dir = await plant({
    "main.ts": 'import "./lib/node/mod.ts";\n',
    "lib/node/mod.ts": 'export { startNode } from "./node.ts";\n',
    "lib/node/node.ts":
      'import { handlers } from "./admin_handlers.ts";\nexport const startNode = () => handlers;\n',
    "lib/node/admin_handlers.ts":
      'import type { startNode } from "./node.ts";\nexport const handlers: typeof startNode[] = [];\n',
    "lib/store/a.ts": 'import { b } from "./b.ts";\nexport const a = () => b;\n',
    "lib/store/b.ts": 'import { a } from "./a.ts";\nexport const b = () => a;\n',
    "islands/Chat.tsx":
      'import { label } from "../components/Button.tsx";\nexport const c = label;\n',
    "components/Button.tsx":
      'import type { c } from "../islands/Chat.tsx";\nexport const label = "";\n' +
      "export type C = typeof c;\n",
    "routes/index.tsx":
      'import { startNode } from "../lib/node/node.ts";\nexport default startNode;\n',
  });
  try {
    const edges = await readGraph(dir, await sourceFiles(dir));
    const typeEdge = edges.find((e) => e.from === "lib/node/admin_handlers.ts");
    assert.deepEqual(typeEdge, {
      from: "lib/node/admin_handlers.ts",
      to: "lib/node/node.ts",
      typeOnly: true,
      dynamic: false,
    });
    assert.deepEqual(checkArchitecture(edges, []), {
      violations: [
        "routes/index.tsx imports lib/node/node.ts: routes/ may import lib/*/mod.ts, islands/ " +
        "and components/ (and `import type` from lib/)",
      ],
      cycles: [
        "components/Button.tsx → islands/Chat.tsx → components/Button.tsx",
        "lib/node/admin_handlers.ts → lib/node/node.ts → lib/node/admin_handlers.ts",
        "lib/store/a.ts → lib/store/b.ts → lib/store/a.ts",
      ],
      stale: [],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("architecture: an import type beside an import() of one module loads it later, not at start", async () => {
  const dir = await plant({
    "lib/node/a.ts": 'import type { b } from "./b.ts";\n' +
      'export const a = async (): Promise<typeof b> => (await import("../node/b.ts")).b;\n' +
      'import { c } from "./c.ts";\nimport type { C } from "./c.ts";\nexport const d: C = c;\n',
    "lib/node/b.ts": "export const b = 1;\n",
    "lib/node/c.ts": "export type C = number;\nexport const c: C = 2;\n",
  });
  try {
    const edges = await readGraph(dir, await sourceFiles(dir));
    assert.deepEqual(edges.filter((e) => e.from === "lib/node/a.ts"), [
      { from: "lib/node/a.ts", to: "lib/node/b.ts", typeOnly: false, dynamic: true },
      { from: "lib/node/a.ts", to: "lib/node/c.ts", typeOnly: false, dynamic: false },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("architecture: a known cycle is tolerated only while it exists", () => {
  const edge = (from: string, to: string, typeOnly = false): Edge => ({
    from,
    to,
    typeOnly,
    dynamic: false,
  });
  const known: KnownCycle = {
    issue: "issue 12",
    cycle: "x ⇄ y",
    from: "lib/node/y.ts",
    to: "lib/node/x.ts",
    why: "test",
  };
  const cyclic = [edge("lib/node/x.ts", "lib/node/y.ts"), edge("lib/node/y.ts", "lib/node/x.ts")];
  assert.deepEqual(checkArchitecture(cyclic, [known]), { violations: [], cycles: [], stale: [] });
  // The known import does not excuse a second cycle through the same files.
  const more = [
    ...cyclic,
    edge("lib/node/x.ts", "lib/node/z.ts"),
    edge("lib/node/z.ts", "lib/node/x.ts"),
  ];
  assert.deepEqual(checkArchitecture(more, [known]).cycles, [
    "lib/node/x.ts → lib/node/z.ts → lib/node/x.ts",
  ]);
  // Once the cycle is broken elsewhere, the entry is reported stale.
  const broken = [edge("lib/node/y.ts", "lib/node/x.ts", true)];
  assert.deepEqual(checkArchitecture(broken, [known]).stale, [
    "x ⇄ y (issue 12) is gone: remove its entry from KNOWN_CYCLES",
  ]);
});

Deno.test("architecture: the checker reports planted layout violations", () => {
  const edge = (from: string, to: string, typeOnly = false, dynamic = false): Edge => ({
    from,
    to,
    typeOnly,
    dynamic,
  });
  const bad = [
    edge("lib/web/start_ui_server.ts", "routes/mod.ts"),
    edge("islands/Chat.tsx", "lib/client/mod.ts"),
    edge("components/Button.tsx", "node:fs"),
    edge("routes/index.tsx", "lib/client/client_core.ts"),
    edge("lib/e2e/x.ts", "node:fs"),
    edge("lib/node/x.ts", "lib/client/mod.ts"),
    edge("islands/Chat.tsx", "lib/ui/_private.ts", true),
    edge("lib/node/x.ts", "lib/e2e/mod.ts"),
    edge("lib/federation/x.ts", "lib/e2e/mod.ts"),
    edge("lib/federation/x.ts", "lib/e2e/mod.ts", false, true),
    edge("lib/protocol/x.ts", "lib/e2e/mod.ts"),
    edge("lib/node/x.ts", "lib/e2e/mod.ts", false, true),
    edge("lib/node/x.ts", "lib/e2e/group_checks.ts"),
  ];
  assert.deepEqual(bad.filter((e) => layoutViolation(e) === null), [], "every one is reported");
  const good = [
    edge("routes/index.tsx", "lib/web/mod.ts", true),
    edge("routes/api/command.ts", "lib/client/api.ts", true),
    edge("routes/index.tsx", "islands/Chat.tsx"),
    edge("routes/index.tsx", "components/Button.tsx"),
    edge("islands/Chat.tsx", "lib/client/mod.ts", true),
    edge("islands/Chat.tsx", "npm:/preact@10.29.8/hooks"),
    edge("components/Button.tsx", "lib/ui/mod.ts"),
    edge("components/Button.tsx", "npm:@preact/signals@2.11.4"),
    edge("components/Button.tsx", "lib/web/mod.ts", true),
    edge("lib/web/route_types.ts", "routes/mod.ts", true),
    edge("lib/node/x.ts", "lib/e2e/base.ts"),
    edge("lib/node/x.ts", "lib/e2e/mod.ts", true),
    edge("lib/node/x.ts", "lib/e2e/group_checks.ts", false, true),
    edge("lib/federation/x.ts", "lib/e2e/base.ts"),
    edge("lib/protocol/x.ts", "lib/e2e/base.ts"),
    edge("lib/client/x.ts", "lib/e2e/mod.ts"),
  ];
  assert.deepEqual(layoutViolations(good), []);
});
