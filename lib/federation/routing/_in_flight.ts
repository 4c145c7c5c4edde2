/**
 * Storage for the announcement ids and ages of simulated link messages in flight, carved out
 * of large reused chunks: at 10,000 nodes tens of millions are in flight during a flood
 * wave, and an ArrayBuffer per message would make the garbage collector run for the memory
 * outside its heap. Private to the simulation.
 */

/** One chunk; a message holds a view into it until delivered. */
export interface InFlightChunk {
  readonly ids: Uint32Array;
  readonly ages: Uint32Array;
  used: number;
  /** Messages not yet delivered. */
  live: number;
}

const CHUNK_ENTRIES = 1 << 16;
// Chunks kept for reuse once a wave has passed; more are given back to the allocator.
const MAX_POOLED = 256;

/** Bump allocation from chunks, each reused once every message in it was delivered. */
export class InFlightSlab {
  #current: InFlightChunk = makeChunk(CHUNK_ENTRIES);
  #pool: InFlightChunk[] = [];

  /** Room for `count` ids and ages; copy into the views, and {@linkcode release} the chunk. */
  alloc(count: number): { chunk: InFlightChunk; ids: Uint32Array; ages: Uint32Array } {
    let chunk = this.#current;
    if (chunk.used + count > chunk.ids.length) {
      if (count > CHUNK_ENTRIES) {
        chunk = makeChunk(count);
      } else {
        this.#retire(chunk);
        chunk = this.#current = this.#pool.pop() ?? makeChunk(CHUNK_ENTRIES);
      }
    }
    const at = chunk.used;
    chunk.used += count;
    chunk.live++;
    return {
      chunk,
      ids: chunk.ids.subarray(at, at + count),
      ages: chunk.ages.subarray(at, at + count),
    };
  }

  /** One message in `chunk` was delivered (or dropped). */
  release(chunk: InFlightChunk): void {
    if (--chunk.live === 0 && chunk !== this.#current) this.#retire(chunk);
  }

  #retire(chunk: InFlightChunk): void {
    if (chunk.live > 0 || chunk.ids.length !== CHUNK_ENTRIES) return;
    chunk.used = 0;
    if (this.#pool.length < MAX_POOLED) this.#pool.push(chunk);
  }
}

function makeChunk(entries: number): InFlightChunk {
  return { ids: new Uint32Array(entries), ages: new Uint32Array(entries), used: 0, live: 0 };
}
