import assert from "node:assert/strict";
import { createLogger } from "./log.ts";
import { installProcessGuard } from "./process_guard.ts";

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ sink: (l) => void lines.push(l) }) };
}

Deno.test("installProcessGuard() logs an uncaught error and a rejection loudly and cancels them", () => {
  const { lines, log } = capture();
  const target = new EventTarget();
  const guard = installProcessGuard({ log, target });
  const error = new ErrorEvent("error", { error: new RangeError("boom"), cancelable: true });
  assert.equal(target.dispatchEvent(error), false, "default prevented: the process stays");
  const promise = Promise.reject(new TypeError("later"));
  promise.catch(() => {});
  const rejection = new PromiseRejectionEvent("unhandledrejection", {
    promise,
    reason: new TypeError("later"),
    cancelable: true,
  });
  assert.equal(target.dispatchEvent(rejection), false);
  assert.equal(guard.caught, 2);
  assert.match(lines[0], /ERROR BUG: uncaught error, kept serving error=RangeError why=boom/);
  assert.match(lines[1], /ERROR BUG: unhandled promise rejection, kept serving error=TypeError/);
  guard.uninstall();
  const after = new ErrorEvent("error", { error: new Error("x"), cancelable: true });
  assert.equal(target.dispatchEvent(after), true, "uninstalled: nothing cancels it");
});

Deno.test({
  name: "a process with the guard keeps serving after a socket handler and a timer throw",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const script = `
      import net from "node:net";
      import { createLogger } from "${new URL("./log.ts", import.meta.url).href}";
      import { installProcessGuard } from "${new URL("./process_guard.ts", import.meta.url).href}";
      const guard = installProcessGuard({ log: createLogger() });
      const server = net.createServer((s) => s.on("data", () => { throw new Error("data bug"); }));
      await new Promise((r) => server.listen(0, "127.0.0.1", r));
      const c = net.connect(server.address().port, "127.0.0.1");
      c.on("connect", () => c.write("x"));
      setTimeout(() => { throw new Error("timer bug"); }, 10);
      Promise.reject(new Error("promise bug"));
      for (let i = 0; i < 500 && guard.caught < 3; i++) await new Promise((r) => setTimeout(r, 10));
      console.log(guard.caught === 3 ? "still serving" : "missed some: " + guard.caught);
      c.destroy();
      server.close();
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const w = out.stdin.getWriter();
    await w.write(new TextEncoder().encode(script));
    await w.close();
    const { code, stdout, stderr } = await out.output();
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, err);
    assert.match(new TextDecoder().decode(stdout), /still serving/);
    for (const why of ["data bug", "timer bug", "promise bug"]) assert.match(err, new RegExp(why));
  },
});
