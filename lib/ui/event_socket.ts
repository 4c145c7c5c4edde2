/**
 * The one WebSocket to `/api/events`: parses each event, and reconnects by
 * itself with exponential backoff (and jitter) when the process restarts.
 * Browsers cannot set headers on a WebSocket, so the session rides in a
 * subprotocol; before each reconnection the session is checked (and renewed).
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
  /** Subprotocols to offer (they carry the session). */
  protocols?: () => string[];
  /**
   * Runs before every reconnection; throwing waits and tries again, and
   * resolving `false` stops for good (signed out).
   */
  beforeReconnect?: () => Promise<boolean>;
  /** First retry delay; doubles up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/** A self-healing event stream. */
export class EventSocket {
  #options: Required<Omit<EventSocketOptions, "protocols" | "beforeReconnect">>;
  #protocols: () => string[];
  #beforeReconnect: () => Promise<boolean>;
  #socket: WebSocket | null = null;
  #delayMs: number;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;

  constructor(options: EventSocketOptions) {
    const { minDelayMs = 250, maxDelayMs = 5000 } = options;
    this.#options = { ...options, minDelayMs, maxDelayMs };
    this.#protocols = options.protocols ?? (() => []);
    this.#beforeReconnect = options.beforeReconnect ?? (() => Promise.resolve(true));
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
    const ws = new WebSocket(o.url, this.#protocols());
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
      this.#retryLater();
    };
  }

  #retryLater(): void {
    const delay = this.#delayMs * (0.75 + Math.random() / 2);
    this.#delayMs = Math.min(this.#delayMs * 2, this.#options.maxDelayMs);
    this.#timer = setTimeout(() => void this.#reconnect(), delay);
  }

  async #reconnect(): Promise<void> {
    if (this.#stopped) return;
    let go: boolean;
    try {
      go = await this.#beforeReconnect();
    } catch {
      if (!this.#stopped) this.#retryLater();
      return;
    }
    if (!go) {
      this.#stopped = true;
      return;
    }
    if (!this.#stopped) this.#connect();
  }
}
