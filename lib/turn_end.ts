/**
 * Work for the end of this iteration of the event loop, where `setImmediate`
 * runs it, with one difference: what is queued while that work runs (or in
 * the microtasks it starts) runs in the same iteration, not in the next one.
 *
 * A `setImmediate` queued from another one runs only in the next iteration,
 * after that iteration's timers and reads. Three such steps stood between a
 * write and the bytes it sends: a client's commit (`setImmediate`), the
 * submission its `then` sends (the channel seals the iteration's record in a
 * `setImmediate`) and the socket write (another); each waited for the next
 * batch of input to be handled first, milliseconds at the maximum rate
 * (docs/PERF_NOTES.md, branch `pipeline`). Queued here, the commit, the
 * record and the write go out in the iteration that made them.
 *
 * Bounded: only work queued here runs here, each function once, and at most
 * {@linkcode MAX_ROUNDS} rounds of microtasks per iteration; more waits for
 * the next iteration, as with `setImmediate`.
 */
import { setImmediate } from "node:timers";

/** Rounds of work queued by the microtasks of earlier rounds, run in one iteration at most. */
export const MAX_ROUNDS = 8;

let queue: Array<() => void> = [];
/** An immediate is queued, or the queue is being run (then new work joins it). */
let scheduled = false;
let rounds = 0;

/** Runs `fn` at the end of this iteration (see the module's doc). A throw is reported, not lost. */
export function atTurnEnd(fn: () => void): void {
  queue.push(fn);
  if (scheduled) return;
  scheduled = true;
  setImmediate(first);
}

function first(): void {
  rounds = 0;
  run();
}

function run(): void {
  rounds++;
  while (queue.length > 0) {
    const fns = queue;
    queue = [];
    for (const fn of fns) {
      try {
        fn();
      } catch (e) {
        // Each caller handles its own failures; one that escapes must not stop the others.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
  // The microtasks the work started (a commit's promises resolved) may queue more: once they
  // ran, it runs in this iteration too.
  queueMicrotask(settle);
}

function settle(): void {
  if (queue.length === 0) scheduled = false;
  else if (rounds < MAX_ROUNDS) run();
  else setImmediate(first);
}
