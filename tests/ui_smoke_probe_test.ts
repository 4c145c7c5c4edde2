import { launchChromium } from "./_helpers/browser.ts";
Deno.test({ name: "probe", sanitizeOps: false, sanitizeResources: false, async fn() {
  const b = await launchChromium();
  const p = await b.newPage();
  await p.goto("data:text/html,<p>hi</p>");
  console.log(await p.textContent("p"));
  await b.close();
}});
