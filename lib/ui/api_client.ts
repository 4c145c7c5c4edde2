/** The browser's typed client for the UI server's HTTP API (same origin, cookie session). */
import type {
  ChatMessage,
  SafetyView,
  UiCommand,
  UiCommandResult,
  UiSnapshot,
} from "./api_types.ts";

/** Calls the UI API; `fetchFn` is injectable for tests. */
export class UiApiClient {
  #fetch: typeof fetch;

  constructor(fetchFn: typeof fetch = (input, init) => fetch(input, init)) {
    this.#fetch = fetchFn;
  }

  /** Everything a page paints. */
  async snapshot(): Promise<UiSnapshot> {
    return await this.#get("/api/state") as UiSnapshot;
  }

  /** The messages of one conversation, oldest first. */
  async history(address: string): Promise<ChatMessage[]> {
    return await this.#get(`/api/history/${encodeURIComponent(address)}`) as ChatMessage[];
  }

  /** The safety number and QR of a contact. */
  async safety(address: string): Promise<SafetyView> {
    return await this.#get(`/api/safety/${encodeURIComponent(address)}`) as SafetyView;
  }

  /** Uploads a file the user picked or dropped and offers it to `address`. */
  async upload(address: string, file: File): Promise<UiCommandResult> {
    const q = new URLSearchParams({ name: file.name, type: file.type });
    const res = await this.#fetch(`/api/upload/${encodeURIComponent(address)}?${q}`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: file,
      credentials: "same-origin",
    });
    const body = await res.json().catch(() => null) as UiCommandResult | null;
    return body ?? { kind: "error", error: `Cannot send file: HTTP ${res.status}` };
  }

  /** Runs a command; a refusal by the client core comes back as `{ kind: "error" }`. */
  async command(command: UiCommand): Promise<UiCommandResult> {
    const res = await this.#fetch("/api/command", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(command),
      credentials: "same-origin",
    });
    if (res.status === 401 || res.status === 403) {
      return { kind: "error", error: "Not signed in: open the URL with the token again" };
    }
    const body = await res.json().catch(() => null) as UiCommandResult | null;
    return body ?? { kind: "error", error: `Cannot run command: HTTP ${res.status}` };
  }

  async #get(path: string): Promise<unknown> {
    const res = await this.#fetch(path, { credentials: "same-origin" });
    if (!res.ok) {
      const body = await res.json().catch(() => null) as { error?: string } | null;
      throw new Error(body?.error ?? `Cannot load ${path}: HTTP ${res.status}`);
    }
    return await res.json();
  }
}
