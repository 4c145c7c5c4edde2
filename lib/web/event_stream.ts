/**
 * The event WebSocket (`/api/events`): one per page, fed by
 * `ClientApi.subscribe`. The page sends nothing; a frame over a few bytes
 * closes the socket, and a page that stops reading is dropped (it reconnects
 * and reloads its state). Each socket belongs to the session that opened
 * it, so signing a session out closes its sockets too.
 */
import type { ClientApi, ClientEvent } from "../client/api.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { ConnIo } from "./conn_io.ts";
import { UiWebSocket } from "./ui_web_socket.ts";

const MAX_INCOMING_BYTES = 256;
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** Options of {@linkcode EventStream}. */
export interface EventStreamOptions {
  client: ClientApi;
  log: Logger;
  clock: Clock;
  idleTimeoutMs: number;
}

/** Live event sockets of one UI server. */
export class EventStream {
  #o: EventStreamOptions;
  #sockets = new Map<UiWebSocket, string>();

  constructor(options: EventStreamOptions) {
    this.#o = options;
  }

  /** Open sockets now. */
  get size(): number {
    return this.#sockets.size;
  }

  /** Runs the event socket on an upgraded connection, for the session `sessionId`. */
  attach(io: ConnIo, sessionId: string): void {
    const socket = new UiWebSocket(io, {
      maxIncomingBytes: MAX_INCOMING_BYTES,
      maxBufferedBytes: MAX_BUFFERED_BYTES,
      idleTimeoutMs: this.#o.idleTimeoutMs,
      clock: this.#o.clock,
    });
    this.#sockets.set(socket, sessionId);
    const unsubscribe = this.#o.client.subscribe((event: ClientEvent) => {
      if (!socket.send(JSON.stringify(event)) && socket.bufferedBytes > 0) {
        this.#o.log.warn("event socket too slow, closing", { buffered: socket.bufferedBytes });
      }
    });
    socket.onClose = () => {
      this.#sockets.delete(socket);
      unsubscribe();
    };
    this.#o.log.debug("event socket open", { sockets: this.#sockets.size });
  }

  /** Closes the sockets of sessions for which `signedOut(id)` is true. */
  closeSessions(signedOut: (sessionId: string) => boolean): void {
    for (const [socket, id] of this.#sockets) if (signedOut(id)) socket.close(1008, "signed out");
  }

  /** Closes every socket (the server is stopping). */
  closeAll(): void {
    for (const socket of this.#sockets.keys()) socket.close(1001, "server stopping");
  }
}
