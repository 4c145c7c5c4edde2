/**
 * Headless Chromium for UI tests and benches: Debian's /usr/bin/chromium
 * driven by playwright-core, with its temp files kept under .tmp/, and
 * screenshots saved under .tmp/screenshots/.
 */
import { join, resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";

const REPO = resolve(new URL("../..", import.meta.url).pathname);

/** Where the tests save screenshots (not committed). */
export const SCREENSHOTS = join(REPO, ".tmp", "screenshots");

/**
 * Bundles lib/e2e for the browser into `out` (under .tmp/) with `deno bundle`;
 * returns the JavaScript.
 */
export async function bundleE2e(out: URL): Promise<string> {
  await Deno.mkdir(join(REPO, ".tmp"), { recursive: true });
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform",
      "browser",
      "--format",
      "esm",
      "-o",
      out.pathname,
      "lib/e2e/mod.ts",
    ],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  return await Deno.readTextFile(out);
}

/** Bytes as lowercase hex, to pass them through `page.evaluate`. */
export const toHex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
/** The bytes of lowercase hex. */
export const fromHex = (h: string): Uint8Array =>
  Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));

/** Starts headless Chromium; its profile and Playwright's temp files go under .tmp/. */
export async function launchChromium(): Promise<Browser> {
  const tmp = join(REPO, ".tmp", "chromium");
  await Deno.mkdir(tmp, { recursive: true });
  // Playwright makes its temp profile in os.tmpdir(): keep it inside the writable .tmp/.
  Deno.env.set("TMPDIR", tmp);
  const { chromium } = await import("playwright-core");
  return await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-gpu",
    ],
    env: { ...Deno.env.toObject(), HOME: tmp, TMPDIR: tmp },
  });
}

/** A fresh browser context (its own cookies), like a second person's browser. */
export async function newContext(
  browser: Browser,
  options: { colorScheme?: "light" | "dark" } = {},
): Promise<BrowserContext> {
  return await browser.newContext({
    viewport: { width: 1100, height: 720 },
    colorScheme: options.colorScheme ?? "light",
    timezoneId: "UTC",
    locale: "en-GB",
  });
}

/** Opens the UI's token URL and waits until the islands have hydrated. */
export async function openUi(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForSelector("html[data-hydrated]");
  return page;
}

/** Saves a full-page screenshot as .tmp/screenshots/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Options of {@linkcode browserTest}. */
export interface BrowserTestOptions {
  /** The test's name. */
  name: string;
  /** `import.meta.url` of the test file, which is also the driver. */
  file: string;
  /** What the driver does in its own process (with --allow-all). */
  drive: () => Promise<void>;
  /** Runs in the test process before the driver starts (e.g. building a bundle). */
  before?: () => Promise<unknown>;
}

const DRIVER_OK = "BROWSER_DRIVER_OK";

/**
 * Registers a browser test. Playwright probes /proc and HOME, which Deno
 * grants only with --allow-all, so the test re-runs its own file as a driver
 * process with --allow-all (temp files under .tmp/) and checks its verdict.
 * The same serves any test that must read /proc (a process's descriptors).
 * Call it at the top level of a test file; several per file are told apart
 * by name.
 */
export function browserTest({ name, file, drive, before }: BrowserTestOptions): void {
  const driverId = `${new URL(file).pathname}#${name}`;
  const isDriver = Deno.env.get("FEDCHAT_BROWSER_DRIVER") === driverId;
  if (Deno.env.get("FEDCHAT_BROWSER_DRIVER") && !isDriver) return;
  if (isDriver) {
    drive().then(
      () => {
        // deno-lint-ignore no-console -- the driver reports its verdict to the parent test
        console.log(DRIVER_OK);
        Deno.exit(0);
      },
      (e) => {
        // deno-lint-ignore no-console -- the driver reports its failure to the parent test
        console.error(e);
        Deno.exit(1);
      },
    );
    return;
  }
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      await before?.();
      const tmp = join(REPO, ".tmp", "chromium");
      await Deno.mkdir(tmp, { recursive: true });
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", new URL(file).pathname],
        cwd: REPO,
        env: { NO_COLOR: "1", TMPDIR: tmp, FEDCHAT_BROWSER_DRIVER: driverId },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      if (!out.success || !stdout.includes(DRIVER_OK)) {
        throw new Error(`browser driver failed:\n${stdout}\n${stderr}`);
      }
    },
  });
}
