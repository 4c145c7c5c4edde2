/**
 * The UI server as the composition root starts it (the routes of
 * routes/mod.ts, the client core's message limit), for tests and benches
 * that give it a fake client.
 */
import type { ClientApi } from "../../lib/client/api.ts";
import { MAX_MESSAGE_CHARS } from "../../lib/client/mod.ts";
import type { Logger } from "../../lib/log.ts";
import { SILENT_LOGGER } from "../../lib/log.ts";
import { startUiServer, type UiServer, type UiServerLimits } from "../../lib/web/mod.ts";
import { MANIFEST } from "../../routes/mod.ts";

/** Options of {@linkcode startTestUi}. */
export interface TestUiOptions {
  client: ClientApi;
  /** 0 picks a free port (and a new token). */
  port?: number;
  tokenFile: string;
  limits?: Partial<UiServerLimits>;
  log?: Logger;
}

/** Starts a UI server for `client`. */
export function startTestUi(options: TestUiOptions): Promise<UiServer> {
  const { client, port = 0, tokenFile, limits, log = SILENT_LOGGER } = options;
  return startUiServer({
    client,
    manifest: MANIFEST,
    clientLimits: { maxMessageChars: MAX_MESSAGE_CHARS },
    port,
    tokenFile,
    limits,
    log,
  });
}
