/**
 * The one WebSocket to `/api/events`: parses each event, and reconnects by
 * itself with exponential backoff (and jitter) when the process restarts.
 */
import type { ClientEvent } from "./api_types.ts";

/** Connection state shown in the header. */
export type SocketState = "connecting" | "open" | "closed";

/** Options of {@linkcode EventSocket}. */
export interface EventSocketOptions {
  /** `ws://host:port/api/events`. */
  url: string;
  onEvent: (event: ClientEvent) => void;
  /** Called on every (re)connection, so the page can reload what it missed. */
  onOpen: () => void;
  onState: (state: SocketState) => void;
  /** First retry delay; doubles up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/** A self-healing event stream. */
export class EventSocket {
  #options: Required<EventSocketOptions>;
  #socket: WebSocket | null = null;
  #delayMs: number;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;

  constructor(options: EventSocketOptions) {
    const { minDelayMs = 250, maxDelayMs = 5000 } = options;
    this.#options = { ...options, minDelayMs, maxDelayMs };
    this.#delayMs = minDelayMs;
  }

  /** Opens the socket (and keeps it open until {@linkcode stop}). */
  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  /** Closes the socket for good. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#socket?.close();
  }

  #connect(): void {
    const o = this.#options;
    o.onState("connecting");
    const ws = new WebSocket(o.url);
    this.#socket = ws;
    ws.onopen = () => {
      this.#delayMs = o.minDelayMs;
      o.onState("open");
      o.onOpen();
    };
    ws.onmessage = (e) => {
      if (typeof e.data !== "string") return;
      let event: ClientEvent;
      try {
        event = JSON.parse(e.data);
      } catch {
        return;
      }
      if (event && typeof event === "object" && typeof event.kind === "string") o.onEvent(event);
    };
    ws.onclose = () => {
      if (this.#socket !== ws) return;
      this.#socket = null;
      o.onState("closed");
      if (this.#stopped) return;
      const delay = this.#delayMs * (0.75 + Math.random() / 2);
      this.#delayMs = Math.min(this.#delayMs * 2, o.maxDelayMs);
      this.#timer = setTimeout(() => this.#connect(), delay);
    };
  }
}
