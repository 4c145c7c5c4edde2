/**
 * WebSocket over TLS on node's `tls` module (Deno's own listener cannot set
 * TCP_NODELAY, cap frames or bound half-open connections): framing, the
 * upgrade, a capped listener and a dialer.
 *
 * @module
 */
export { type CloseInfo, WsConnection, type WsConnectionOptions } from "./connection.ts";
export { type Accepted, startWssServer, type WssServer, type WssServerOptions } from "./server.ts";
export { type DialOptions, dialWss } from "./client.ts";
export { encodeFrame, FrameError, FrameParser, OPCODE } from "./frame.ts";
