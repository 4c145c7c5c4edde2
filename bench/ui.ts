/**
 * The chat screen's cost in headless Chromium: the initial JavaScript it
 * loads (gzipped size) and the time from navigation start to first
 * contentful paint, median of several cold loads. Prints a JSON line last.
 *
 * Playwright probes /proc, which Deno grants only with --allow-all, so when
 * started with fewer permissions (as `deno task bench` does) this file
 * re-runs itself with --allow-all and passes its output through.
 */
import { launchChromium } from "../tests/_helpers/browser.ts";
import { FakeNetwork } from "../tests/_helpers/fake_client.ts";
import { startTestUi } from "../tests/_helpers/ui_server.ts";

const RUNS = 7;
const CHILD = "FEDCHAT_BENCH_UI_CHILD";

if (Deno.env.get(CHILD) !== "1") {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL(import.meta.url).pathname],
    env: { [CHILD]: "1", NO_COLOR: "1" },
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  Deno.exit(code);
}

async function gzipSize(text: string): Promise<number> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

const net = new FakeNetwork();
const alice = net.client("alice@alice");
const bob = net.client("bob@bob");
await alice.request("bob@bob", "hi");
await new Promise((r) => setTimeout(r, 0));
await bob.accept("alice@alice");
await new Promise((r) => setTimeout(r, 0));
for (let i = 0; i < 50; i++) {
  await (i % 2
    ? bob.send("alice@alice", `message ${i} from bob`)
    : alice.send("bob@bob", `message ${i} from alice`));
}
await Deno.mkdir(".tmp", { recursive: true });
const tmp = await Deno.makeTempDir({ dir: ".tmp", prefix: "bench-ui-" });
const ui = await startTestUi({ client: alice, tokenFile: `${tmp}/t` });
const browser = await launchChromium();
try {
  const fcps: number[] = [];
  const scripts = new Map<string, string>();
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on("response", async (res) => {
      if (res.request().resourceType() === "script") scripts.set(res.url(), await res.text());
    });
    // Sign in first, so the measured load is the chat screen itself, not the token redirect.
    await page.goto(ui.url);
    await page.waitForSelector("html[data-hydrated]");
    const p2 = await context.newPage();
    await p2.goto(`http://127.0.0.1:${ui.port}/?chat=bob@bob`);
    const fcp = await p2.evaluate(() =>
      new Promise<number>((resolve) => {
        const find = () =>
          performance.getEntriesByType("paint").find((e) => e.name === "first-contentful-paint");
        const e = find();
        if (e) return resolve(e.startTime);
        new PerformanceObserver(() => {
          const f = find();
          if (f) resolve(f.startTime);
        }).observe({ type: "paint", buffered: true });
      })
    );
    fcps.push(fcp);
    await context.close();
  }
  let jsBytes = 0;
  let jsGzipBytes = 0;
  for (const text of scripts.values()) {
    jsBytes += new TextEncoder().encode(text).length;
    jsGzipBytes += await gzipSize(text);
  }
  fcps.sort((a, b) => a - b);
  const result = {
    bench: "ui",
    chatScreenJsBytes: jsBytes,
    chatScreenJsGzipBytes: jsGzipBytes,
    firstContentfulPaintMsMedian: Math.round(fcps[Math.floor(fcps.length / 2)] * 10) / 10,
    firstContentfulPaintMsMax: Math.round(fcps[fcps.length - 1] * 10) / 10,
    runs: RUNS,
    targets: { jsGzipBytes: 100 * 1024, firstContentfulPaintMs: 500 },
  };
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(result) + "\n"));
} finally {
  await browser.close();
  await ui.close();
}
