/**
 * The event WebSocket (`/api/events`): one per page, fed by
 * `ClientApi.subscribe`. The browser sends nothing; any frame over a few
 * bytes closes the socket, and a socket that stops reading is dropped (the
 * page reconnects and reloads its state).
 */
import type { ClientApi, ClientEvent } from "../client/api.ts";
import type { Logger } from "../log.ts";

const MAX_INCOMING_BYTES = 256;
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** Live event sockets of one UI server. */
export class EventStream {
  #client: ClientApi;
  #log: Logger;
  #sockets = new Set<WebSocket>();

  constructor(client: ClientApi, log: Logger) {
    this.#client = client;
    this.#log = log;
  }

  /** Upgrades `request`, or answers 400 when it is not a WebSocket upgrade. */
  upgrade(request: Request): Response {
    if ((request.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
      return new Response(null, { status: 400 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 60 });
    let unsubscribe: (() => void) | null = null;
    socket.onopen = () => {
      this.#sockets.add(socket);
      unsubscribe = this.#client.subscribe((event: ClientEvent) => {
        if (socket.readyState !== WebSocket.OPEN) return;
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          this.#log.warn("event socket too slow, closing", { buffered: socket.bufferedAmount });
          socket.close(1008, "too slow");
          return;
        }
        socket.send(JSON.stringify(event));
      });
      this.#log.debug("event socket open", { sockets: this.#sockets.size });
    };
    socket.onmessage = (e) => {
      const size = typeof e.data === "string" ? e.data.length : (e.data as ArrayBuffer).byteLength;
      if (size > MAX_INCOMING_BYTES) socket.close(1009, "too big");
    };
    socket.onclose = () => {
      this.#sockets.delete(socket);
      unsubscribe?.();
      unsubscribe = null;
    };
    socket.onerror = () => {};
    return response;
  }

  /** Closes every socket (the server is stopping). */
  closeAll(): void {
    for (const s of this.#sockets) {
      try {
        s.close(1001, "server stopping");
      } catch {
        // Already closing: nothing left to do for this socket.
      }
    }
    this.#sockets.clear();
  }
}
