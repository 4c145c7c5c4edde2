/**
 * WebSocket over TLS on node's `tls` module (Deno's own listener cannot set
 * TCP_NODELAY, cap frames or bound half-open connections): framing, the
 * upgrade, a capped listener and a dialer.
 *
 * The connection layer every caller goes through is also where hostile
 * input is contained: a guard turns any error in handling one connection's
 * input into that connection closing (1011), and writes respect
 * backpressure (`send()` returns whether the message was queued;
 * `writable` / `onDrain` say when to send more). See connection.ts,
 * write_limits.ts and admission.ts.
 *
 * @module
 */
export {
  type CloseInfo,
  type MessageHandler,
  PING_FLOOD_LIMIT,
  PONG_BURST,
  PONGS_PER_SECOND,
  WsConnection,
  type WsConnectionOptions,
} from "./connection.ts";
export {
  type Accepted,
  startWssServer,
  type WssServer,
  type WssServerOptions,
  type WssServerStats,
} from "./server.ts";
export { type DialOptions, dialWss, OutOfDescriptorsError } from "./client.ts";
export {
  encodeFrame,
  FRAME_ROOM_BYTES,
  FrameError,
  FrameParser,
  LEND_MIN_BYTES,
  OPCODE,
} from "./frame.ts";
export { type FinishedSource, TLS_BINDING_BYTES, tlsBinding } from "./tls_binding.ts";
export {
  DEFAULT_WRITE_LIMITS,
  flowAfterChange,
  type FlowVerdict,
  type WriteLimits,
  writeLimits,
} from "./write_limits.ts";
export {
  type AdmissionInput,
  type AdmissionLimits,
  admissionLimits,
  type AdmissionVerdict,
  admitConnection,
} from "./admission.ts";
export { type ConnectionCounts, ConnectionMonitor } from "./connection_monitor.ts";
export { addressKey, networkKey } from "./address_key.ts";
