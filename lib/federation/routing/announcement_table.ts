/**
 * Decoded announcements by small integer id, with reference counts: the link-state database
 * keeps an id per origin (4 bytes in a typed column) instead of a pointer, and flood queues
 * and simulated links carry ids. A node has its own table; a simulation shares one between
 * all its routers, so each (origin, seq) is decoded once for the whole simulation and the
 * V8 heap holds one pointer per announcement instead of one per router and announcement.
 *
 * An id stays valid while someone holds a reference; the last {@linkcode unref} frees it for
 * reuse. Id 0 is never given: columns use it for "none".
 */
import type { SignedAnnouncement } from "./announcement.ts";
import type { OriginIndex } from "./origin_index.ts";

/** Reference-counted announcements by id. */
export class AnnouncementTable {
  readonly index: OriginIndex;
  #objects: (SignedAnnouncement | undefined)[] = [undefined];
  #origin = new Uint32Array(16);
  #seq = new Uint32Array(16);
  #size = new Uint32Array(16);
  #refs = new Uint32Array(16);
  #free: number[] = [];
  #live = 0;

  /** `index` gives origins their numbers ({@linkcode originAt}); share it with the databases. */
  constructor(index: OriginIndex) {
    this.index = index;
  }

  /** Stores `a` under a new id, held once by the caller. */
  add(a: SignedAnnouncement): number {
    const id = this.#free.pop() ?? this.#objects.length;
    if (id === this.#objects.length) this.#objects.push(a);
    else this.#objects[id] = a;
    this.#ensure(id);
    this.#origin[id] = this.index.intern(a.origin);
    this.#seq[id] = a.seq;
    this.#size[id] = a.bytes.length;
    this.#refs[id] = 1;
    this.#live++;
    return id;
  }

  /** One more holder of `id`. */
  ref(id: number): void {
    this.#refs[id]++;
  }

  /** One holder fewer; the last frees the id. */
  unref(id: number): void {
    if (id === 0 || this.#refs[id] === 0) return;
    if (--this.#refs[id] > 0) return;
    this.#objects[id] = undefined;
    this.#free.push(id);
    this.#live--;
  }

  /** The announcement of a held id. */
  get(id: number): SignedAnnouncement {
    return this.#objects[id]!;
  }

  /** The origin's number in {@linkcode index}. */
  originAt(id: number): number {
    return this.#origin[id];
  }

  seqAt(id: number): number {
    return this.#seq[id];
  }

  /** Length of the signed bytes. */
  sizeAt(id: number): number {
    return this.#size[id];
  }

  /** Ids held now (for tests and figures). */
  get live(): number {
    return this.#live;
  }

  #ensure(id: number): void {
    if (id < this.#refs.length) return;
    const size = Math.max(id + 1, Math.ceil(this.#refs.length * 1.5));
    const grow = (old: Uint32Array) => {
      const next = new Uint32Array(size);
      next.set(old);
      return next;
    };
    this.#origin = grow(this.#origin);
    this.#seq = grow(this.#seq);
    this.#size = grow(this.#size);
    this.#refs = grow(this.#refs);
  }
}
