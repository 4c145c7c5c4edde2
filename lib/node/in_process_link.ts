/**
 * The in-process client link: a client core in the node's own process talks
 * to the node through two ends that hand each other the same encoded bytes
 * (no socket, no channel: nothing to encrypt inside one process).
 */
import type { ClientLink } from "../protocol/mod.ts";

/**
 * One end of an in-process link; messages sent before a handler is set wait for it. A
 * message sent with `consumed` is handed back (consumed() called) once the handler it was
 * delivered to has returned.
 */
export class InProcessEnd implements ClientLink {
  peer!: InProcessEnd;
  open = true;
  /** `consumed` always comes (see handOver), unless the link closes first. */
  readonly handsBack = true;
  #handler: ClientLink["onMessage"] = null;
  #queue: Array<[Uint8Array, (() => void) | undefined]> = [];
  onClose: (reason: string) => void = () => {};

  get onMessage(): ClientLink["onMessage"] {
    return this.#handler;
  }

  set onMessage(handler: ClientLink["onMessage"]) {
    this.#handler = handler;
    while (handler && this.#handler === handler && this.#queue.length > 0) {
      const [bytes, consumed] = this.#queue.shift()!;
      handOver(handler, bytes, consumed);
    }
  }

  /** Hands bytes to this end (from its peer), in a later microtask. */
  deliver(bytes: Uint8Array, consumed?: () => void): void {
    queueMicrotask(() => {
      if (!this.open) return;
      if (!this.#handler) return void this.#queue.push([bytes, consumed]);
      handOver(this.#handler, bytes, consumed);
    });
  }

  send(bytes: Uint8Array, consumed?: () => void): void {
    if (this.open) this.peer.deliver(bytes, consumed);
  }

  close(reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.peer.open = false;
    this.onClose(reason);
    this.peer.onClose(reason);
  }
}

/**
 * Calls `handler` with lent bytes: `consumed` once it has returned, or, when it
 * called `keep`, once it calls what `keep` returned (at most once either way).
 * Not called when the handler throws: then the bytes are simply not reused.
 */
function handOver(
  handler: NonNullable<ClientLink["onMessage"]>,
  bytes: Uint8Array,
  consumed: (() => void) | undefined,
): void {
  if (!consumed) return handler(bytes);
  let kept = false;
  handler(bytes, () => {
    if (kept) throw new Error("Cannot keep lent bytes twice");
    kept = true;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      consumed();
    };
  });
  if (!kept) consumed();
}

/** Two ends joined to each other: what one sends, the other's handler takes. */
export function inProcessLink(): [InProcessEnd, InProcessEnd] {
  const a = new InProcessEnd();
  const b = new InProcessEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
