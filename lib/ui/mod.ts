/**
 * Browser-side helpers for the islands: the typed client of the UI API, the
 * event socket, the page store (signals), /commands and time formatting. No
 * `Deno.*` here: this code runs in the browser (and in server rendering).
 *
 * @module
 */
export * from "./api_types.ts";
export { UiApiClient } from "./api_client.ts";
export { EventSocket, type EventSocketOptions, type SocketState } from "./event_socket.ts";
export { type Notice, StoreContext, UiStore, type UiStoreOptions } from "./ui_store.ts";
export { useStore } from "./use_store.ts";
export { Island, type IslandProps } from "./island.tsx";
export { PAGE_STATE_ID, type PageState, scriptJson } from "./page_state.ts";
export {
  parseSlash,
  SLASH_COMMANDS,
  type SlashAction,
  type SlashCommandHelp,
} from "./slash_commands.ts";
export { dayKey, formatDay, formatTime } from "./time_format.ts";
export { formatEta, formatSize } from "./size_format.ts";
