/** Waiting for the next message during a handshake, with a deadline. */
import type { WsConnection } from "../wss/mod.ts";
import { ProtocolError } from "./errors.ts";
import type { SecureChannel } from "./secure_channel.ts";

/** Resolves with the next WebSocket message, or rejects on close or timeout. */
export function nextMessage(ws: WsConnection, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new ProtocolError("handshake timed out")), timeoutMs);
    ws.onMessage = (data) => {
      clearTimeout(timer);
      ws.onMessage = null; // later messages wait for the next handler
      resolve(data);
    };
    ws.onClose = (info) => {
      clearTimeout(timer);
      reject(
        new ProtocolError(`connection closed during the handshake: ${info.reason || info.code}`),
      );
    };
  });
}

/**
 * Resolves with the next decrypted channel message; later ones wait in the
 * channel until a handler is set.
 */
export function nextChannelMessage(channel: SecureChannel, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new ProtocolError("no answer on the channel")),
      timeoutMs,
    );
    channel.onMessage = (data) => {
      clearTimeout(timer);
      channel.onMessage = null;
      resolve(data);
    };
    channel.onClose = (reason) => {
      clearTimeout(timer);
      reject(new ProtocolError(`channel closed: ${reason}`));
    };
  });
}
