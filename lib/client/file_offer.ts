/**
 * What a file offer may ask of the receiver. An offer is a contact's claim
 * (docs/PROTOCOL.md §13): its size, chunk size and so its chunk count are
 * checked here, before anything is allocated or stored, and the bitmap of
 * received chunks is made only when the user accepts, bounded by
 * {@linkcode MAX_FILE_OFFER_CHUNKS}. Without this, an offer of 2^40 bytes in
 * 1 KiB chunks made the receiver allocate and store a 128 MiB bitmap before
 * anyone had said yes.
 */
import * as e2e from "../e2e/mod.ts";

/** Largest file an offer may announce: 256 GiB. */
export const MAX_FILE_OFFER_BYTES = 256 * 1024 ** 3;
/** Most chunks an offer may announce: 2^20, so a bitmap is at most 128 KiB. */
export const MAX_FILE_OFFER_CHUNKS = 2 ** 20;

/** The bounds of {@linkcode checkFileOffer}. */
export interface FileOfferLimits {
  maxBytes: number;
  maxChunks: number;
}

/** The defaults, from the constants above. */
export const DEFAULT_FILE_OFFER_LIMITS: FileOfferLimits = Object.freeze({
  maxBytes: MAX_FILE_OFFER_BYTES,
  maxChunks: MAX_FILE_OFFER_CHUNKS,
});

/** The verdict on an offer: its chunk count, or why it is refused (a sentence for both sides). */
export type FileOfferCheck =
  | { kind: "ok"; chunks: number }
  | { kind: "refused"; why: string };

/** Checks an offer's size and chunk size (from its manifest); pure, allocates nothing. */
export function checkFileOffer(
  { size, chunkBytes, limits = DEFAULT_FILE_OFFER_LIMITS }: {
    size: number;
    chunkBytes: number;
    limits?: FileOfferLimits;
  },
): FileOfferCheck {
  if (!Number.isSafeInteger(size) || size < 0) {
    return { kind: "refused", why: "the offered size is not a size" };
  }
  if (
    !Number.isSafeInteger(chunkBytes) || chunkBytes < e2e.MIN_FILE_CHUNK_BYTES ||
    chunkBytes > e2e.MAX_FILE_CHUNK_BYTES
  ) {
    return { kind: "refused", why: "the offered chunk size is out of range" };
  }
  if (size > limits.maxBytes) {
    return {
      kind: "refused",
      why: `the file is larger than the receiver accepts (${limits.maxBytes} bytes)`,
    };
  }
  const chunks = e2e.chunkCount(size, chunkBytes);
  if (chunks > limits.maxChunks) {
    return {
      kind: "refused",
      why: `the file has more chunks than the receiver accepts (${limits.maxChunks})`,
    };
  }
  return { kind: "ok", chunks };
}

/** Offers from one sender left unanswered, at most; a further one is refused (its sender told). */
export const MAX_WAITING_OFFERS_PER_SENDER = 32;
/** Offers from all senders left unanswered, at most. */
export const MAX_WAITING_OFFERS = 512;
/**
 * Files from one sender being received at once, past which none is taken
 * without asking (a push is refused, an auto-accept left to the user).
 */
export const MAX_UNASKED_RECEIVING_PER_SENDER = 8;
/** Files being received at once, from all senders, past which none is taken without asking. */
export const MAX_UNASKED_RECEIVING = 64;

/**
 * A receiving transfer with no chunk for this long (while this client runs)
 * fails, and its sender is told: a stalled sender held one of its 8 places
 * (and the user's list) until the user cancelled.
 */
export const STALLED_RECEIVING_MS = 24 * 3600_000;
/**
 * Ended transfers (complete, declined, cancelled, failed) are kept this long
 * and at most {@linkcode ENDED_TRANSFERS_KEPT} of them (the newest): each offer
 * a contact makes, even one cancelled at once, left a row for ever.
 */
export const ENDED_TRANSFERS_KEEP_MS = 90 * 24 * 3600_000;
export const ENDED_TRANSFERS_KEPT = 1000;
/** How often the client looks for expired offers, stalled transfers and old rows. */
export const TRANSFER_SWEEP_MS = 60_000;

/**
 * What senders may make the receiver keep at once (client-side constants: no
 * node config reaches them). Without these, one contact's offers each followed by
 * `file-push` made as many transfers, each receiving, with no bound.
 */
export interface FileSenderLimits {
  waitingPerSender: number;
  waiting: number;
  receivingPerSender: number;
  receiving: number;
}

/** The defaults, from the constants above. */
export const DEFAULT_FILE_SENDER_LIMITS: FileSenderLimits = Object.freeze({
  waitingPerSender: MAX_WAITING_OFFERS_PER_SENDER,
  waiting: MAX_WAITING_OFFERS,
  receivingPerSender: MAX_UNASKED_RECEIVING_PER_SENDER,
  receiving: MAX_UNASKED_RECEIVING,
});
