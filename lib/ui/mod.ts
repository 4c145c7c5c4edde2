/**
 * Browser-side helpers for the islands: the typed client of the UI API, the
 * page's sign-in, the event socket, the page store (signals), /commands,
 * the rule for sending, and time formatting. No `Deno.*` here: this code
 * runs in the browser (and in server rendering).
 *
 * @module
 */
export * from "./api_types.ts";
export * from "./group_types.ts";
export { GroupStore, type GroupStoreOptions } from "./group_store.ts";
export { UiApiClient, type UiApiClientOptions } from "./api_client.ts";
export { type KeyValueStore, SignedOutError, UiAuth, type UiAuthOptions } from "./ui_auth.ts";
export {
  base64Url,
  EVENTS_PROTOCOL,
  SESSION_HEADER,
  SESSION_PROTOCOL_PREFIX,
  sessionProof,
} from "./session_proof.ts";
export { EventSocket, type EventSocketOptions, type SocketState } from "./event_socket.ts";
export { type Notice, StoreContext, UiStore, type UiStoreOptions } from "./ui_store.ts";
export { useStore } from "./use_store.ts";
export { Island, type IslandProps } from "./island.tsx";
export { canSend, type SendCheck } from "./can_send.ts";
export { popOutChat, popOutGroup } from "./pop_out.ts";
export {
  parseSlash,
  SLASH_COMMANDS,
  type SlashAction,
  type SlashCommandHelp,
} from "./slash_commands.ts";
export { dayKey, formatDay, formatTime } from "./time_format.ts";
export { formatEta, formatSize } from "./size_format.ts";
export { parseSize } from "./size_parse.ts";
export { stateLabel } from "./message_state.ts";
