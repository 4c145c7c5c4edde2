/**
 * Who takes the cores from the JS threads of a messaging run (run by hand, as
 * root, with `perf`): each time a process's JS thread is switched out while
 * still runnable (preempted), which thread took its core (another process of
 * the message's way, a V8 worker or tokio thread of its own or of another
 * process, a kernel thread) and how long until the JS thread ran again; and
 * where it was preempted (just after a socket `send`, inside another system
 * call, or in JS). bench/tail_trace.ts says how much of a slow message's time
 * its processes waited for a core; this says for whom.
 *
 *   N=10000 deno task bench messaging --hops=1 &   # then, in its 1k phase (13 s in):
 *   perf record -q -o .tmp/sched.data -e sched:sched_switch -g -a -- sleep 10
 *   perf script -i .tmp/sched.data -F comm,pid,tid,cpu,time,trace,ip,sym > .tmp/sched.txt
 *   deno run --allow-read bench/sched_switch.ts .tmp/sched.txt PID=role ...
 *
 * The PIDs are the node and client processes (the bench prints them in its JSON
 * line). Figures only.
 */
// deno-lint-ignore-file no-console

const [file, ...roleArgs] = Deno.args;
if (!file || roleArgs.length === 0) {
  throw new Error("Usage: sched_switch.ts PERF_SCRIPT_OUTPUT PID=role ...");
}
const roles = new Map(roleArgs.map((a) => {
  const [pid, role] = a.split("=");
  return [Number(pid), role ?? pid] as const;
}));

const HEADER =
  /^\s*(.*?)\s+(\d+)\/(\d+)\s+\[\d+\] ([\d.]+): prev_comm=.*? prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)/;
interface Switch {
  t: number;
  prev: number;
  state: string;
  next: number;
  nextComm: string;
  stack: string[];
}
const switches: Switch[] = [];
/** Thread id → process id, from every switch's current task. */
const processOf = new Map<number, number>();
for (const line of Deno.readTextFileSync(file).split("\n")) {
  const m = HEADER.exec(line);
  if (m) {
    processOf.set(Number(m[3]), Number(m[2]));
    switches.push({
      t: Number(m[4]) * 1000,
      prev: Number(m[5]),
      state: m[6],
      next: Number(m[8]),
      nextComm: m[7],
      stack: [],
    });
  } else if (switches.length && line.trim()) {
    switches.at(-1)!.stack.push(line.trim().split(/\s+/)[1] ?? "");
  }
}

function who(tid: number, comm: string): string {
  const pid = processOf.get(tid);
  const role = pid === undefined ? undefined : roles.get(pid);
  if (role) return tid === pid ? `${role} (JS thread)` : `${role} (${comm})`;
  if (/^(deno|V8 |tokio)/.test(comm)) return `another deno (${comm})`;
  return comm.replace(/\d+/g, "");
}
function site(stack: string[]): string {
  const top = stack.slice(0, 8);
  if (top.some((s) => /send/.test(s))) return "just after a send";
  if (top.some((s) => /^__x64_sys_|^do_syscall_64$/.test(s))) return "in another system call";
  return "in JS or GC";
}

const out = new Map<number, { t: number; by: string; at: string }>();
const byWho = new Map<string, { n: number; ms: number }>();
const byAt = new Map<string, number>();
for (const s of switches) {
  if (roles.has(s.prev)) {
    if (s.state.startsWith("R")) {
      out.set(s.prev, { t: s.t, by: who(s.next, s.nextComm), at: site(s.stack) });
    } else out.delete(s.prev);
  }
  const o = roles.has(s.next) ? out.get(s.next) : undefined;
  if (!o) continue;
  out.delete(s.next);
  const ms = s.t - o.t, role = roles.get(s.next)!;
  const k = `${role} <- ${o.by}`;
  const w = byWho.get(k) ?? { n: 0, ms: 0 };
  w.n++;
  w.ms += ms;
  byWho.set(k, w);
  byAt.set(`${role}, ${o.at}`, (byAt.get(`${role}, ${o.at}`) ?? 0) + ms);
}
console.log("JS thread preempted <- who took its core: times, ms until it ran again");
for (const [k, w] of [...byWho].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) {
  console.log(`  ${k.padEnd(48)} ${String(w.n).padStart(5)} ${w.ms.toFixed(1).padStart(8)} ms`);
}
console.log("where it was preempted (ms runnable but off a core):");
for (const [k, ms] of [...byAt].sort()) {
  console.log(`  ${k.padEnd(40)} ${ms.toFixed(1).padStart(8)} ms`);
}
