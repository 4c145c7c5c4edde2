/**
 * The browser's typed client for the UI server's HTTP API (same origin).
 * Every call carries the session of {@linkcode UiAuth}; a call refused for
 * its session (401: the process restarted) renews the session and is sent
 * once more.
 */
import type { GroupDetail } from "./group_types.ts";
import type {
  ChatMessage,
  PageContent,
  SafetyView,
  UiCommand,
  UiCommandResult,
  UiSnapshot,
} from "./api_types.ts";
import { SignedOutError, type UiAuth } from "./ui_auth.ts";

/** Options of {@linkcode UiApiClient}. */
export interface UiApiClientOptions {
  auth: UiAuth;
  fetchFn?: typeof fetch;
}

/** Calls the UI API. */
export class UiApiClient {
  #auth: UiAuth;
  #fetch: typeof fetch;

  constructor(options: UiApiClientOptions) {
    this.#auth = options.auth;
    this.#fetch = options.fetchFn ?? ((input, init) => fetch(input, init));
  }

  /** A page's content and the state it was drawn from (`path` is pathname and query). */
  async page(path: string): Promise<PageContent> {
    return await this.#get(`/api/page?${new URLSearchParams({ path })}`) as PageContent;
  }

  /** Everything a page paints. */
  async snapshot(): Promise<UiSnapshot> {
    return await this.#get("/api/state") as UiSnapshot;
  }

  /** The messages of one conversation, oldest first. */
  async history(address: string): Promise<ChatMessage[]> {
    return await this.#get(`/api/history/${encodeURIComponent(address)}`) as ChatMessage[];
  }

  /** A group's history and members. */
  async group(id: string): Promise<GroupDetail> {
    return await this.#get(`/api/groups/${encodeURIComponent(id)}`) as GroupDetail;
  }

  /** The safety number and QR of a contact. */
  async safety(address: string): Promise<SafetyView> {
    return await this.#get(`/api/safety/${encodeURIComponent(address)}`) as SafetyView;
  }

  /** Uploads a file the user picked or dropped and offers it to `address`. */
  async upload(address: string, file: File): Promise<UiCommandResult> {
    const q = new URLSearchParams({ name: file.name, type: file.type });
    const res = await this.#send(`/api/upload/${encodeURIComponent(address)}?${q}`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: file,
    });
    const body = await res.json().catch(() => null) as UiCommandResult | null;
    return body ?? { kind: "error", error: `Cannot send file: HTTP ${res.status}` };
  }

  /** Runs a command; a refusal by the client core comes back as `{ kind: "error" }`. */
  async command(command: UiCommand): Promise<UiCommandResult> {
    const res = await this.#send("/api/command", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(command),
    });
    const body = await res.json().catch(() => null) as UiCommandResult | null;
    return body ?? { kind: "error", error: `Cannot run command: HTTP ${res.status}` };
  }

  /**
   * Signs out every other session and replaces the token (the printed URL
   * stops working); this page keeps its session and learns the new token.
   *
   * @returns how many sessions were signed out
   */
  async signOutOthers(): Promise<number> {
    const res = await this.#send("/api/session/revoke", { method: "POST" });
    const body = await res.json().catch(() => null) as
      | { token?: unknown; signedOut?: unknown }
      | null;
    if (!res.ok || typeof body?.token !== "string") {
      throw new Error(`Cannot sign out other browsers: HTTP ${res.status}`);
    }
    this.#auth.setToken(body.token);
    return typeof body.signedOut === "number" ? body.signedOut : 0;
  }

  async #get(path: string): Promise<unknown> {
    const res = await this.#send(path, {});
    if (!res.ok) {
      const body = await res.json().catch(() => null) as { error?: string } | null;
      throw new Error(body?.error ?? `Cannot load ${path}: HTTP ${res.status}`);
    }
    return await res.json();
  }

  /** Sends with the session; on 401 renews it and sends once more (bodies are Files or strings). */
  async #send(path: string, init: RequestInit): Promise<Response> {
    const attempt = () =>
      this.#fetch(path, {
        ...init,
        credentials: "omit",
        headers: {
          ...(init.headers as Record<string, string> | undefined),
          ...this.#auth.headers(),
        },
      });
    const res = await attempt();
    if (res.status !== 401) return res;
    await res.body?.cancel();
    try {
      await this.#auth.renew();
    } catch (err) {
      if (err instanceof SignedOutError) throw err;
      return res;
    }
    return await attempt();
  }
}
