/**
 * The page's sign-in. The printed URL's token is kept in this tab's
 * `sessionStorage` only (scoped to this origin, port included) and never sent:
 * it answers the server's challenge (see {@linkcode sessionProof}) for a
 * session secret, which lives in `localStorage` (so pop-outs and new tabs of
 * this origin share it) and dies when the fedchat process stops. Every API
 * call and the event socket carry the session; when it is refused (the
 * process restarted), the token answers a new challenge, once at a time.
 */
import {
  EVENTS_PROTOCOL,
  SESSION_HEADER,
  SESSION_PROTOCOL_PREFIX,
  sessionProof,
} from "./session_proof.ts";

/** The part of `Storage` the page uses. */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Options of {@linkcode UiAuth}. */
export interface UiAuthOptions {
  /** Where the session secret is kept (`localStorage`). */
  sessionStore: KeyValueStore;
  /** Where the token is kept (`sessionStorage`). */
  tokenStore: KeyValueStore;
  /** `location.origin`. */
  origin: string;
  fetchFn?: typeof fetch;
  /** Called when the token is refused: the page must be opened with the printed URL again. */
  onSignedOut?: () => void;
}

/** The token is missing or no longer accepted. */
export class SignedOutError extends Error {
  constructor() {
    super("Signed out: open the address fedchat printed (the line `open http://…`) again");
    this.name = "SignedOutError";
  }
}

const SESSION_KEY = "fedchat.session";
const TOKEN_KEY = "fedchat.token";

/** Holds the page's credentials and renews its session. */
export class UiAuth {
  #o: UiAuthOptions;
  #fetch: typeof fetch;
  #renewing: Promise<void> | null = null;

  constructor(options: UiAuthOptions) {
    this.#o = options;
    this.#fetch = options.fetchFn ?? ((input, init) => fetch(input, init));
  }

  /** Keeps the token from the printed URL (or from a sign-out of other browsers). */
  setToken(token: string): void {
    this.#o.tokenStore.setItem(TOKEN_KEY, token);
  }

  /** Headers that authenticate an API request. */
  headers(): Record<string, string> {
    const session = this.#o.sessionStore.getItem(SESSION_KEY);
    return session ? { [SESSION_HEADER]: session } : {};
  }

  /** Subprotocols for the event socket: ours, and one carrying the session. */
  protocols(): string[] {
    const session = this.#o.sessionStore.getItem(SESSION_KEY);
    return session ? [EVENTS_PROTOCOL, SESSION_PROTOCOL_PREFIX + session] : [EVENTS_PROTOCOL];
  }

  /**
   * Makes sure the session is accepted, renewing it with the token if not.
   *
   * @throws {SignedOutError} when there is no usable token
   * @throws {TypeError} when the server cannot be reached (try again later)
   */
  async ensure(): Promise<void> {
    const res = await this.#fetch("/api/session", { headers: this.headers() });
    const body = await res.json().catch(() => null) as { signedIn?: boolean } | null;
    if (res.ok && body?.signedIn === true) return;
    await this.renew();
  }

  /**
   * Answers a fresh challenge with the token for a new session (one renewal
   * at a time, shared by every caller).
   *
   * @throws {SignedOutError} when there is no token or it is refused
   */
  renew(): Promise<void> {
    this.#renewing ??= this.#renew().finally(() => (this.#renewing = null));
    return this.#renewing;
  }

  async #renew(): Promise<void> {
    const had = this.#o.sessionStore.getItem(SESSION_KEY);
    const token = this.#o.tokenStore.getItem(TOKEN_KEY);
    if (!token) return this.#signedOut(had);
    const res = await this.#fetch("/api/session", { headers: this.headers() });
    const challenge = await res.json().catch(() => null) as { nonce?: unknown } | null;
    if (!res.ok || typeof challenge?.nonce !== "string") {
      throw new TypeError(`Cannot sign in: HTTP ${res.status}`);
    }
    const proof = await sessionProof(token, this.#o.origin, challenge.nonce);
    const answer = await this.#fetch("/api/session", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ nonce: challenge.nonce, proof }),
    });
    const body = await answer.json().catch(() => null) as { session?: unknown } | null;
    if (answer.status === 401 || answer.status === 403) return this.#signedOut(had);
    if (!answer.ok || typeof body?.session !== "string") {
      throw new TypeError(`Cannot sign in: HTTP ${answer.status}`);
    }
    this.#o.sessionStore.setItem(SESSION_KEY, body.session);
  }

  #signedOut(had: string | null): never {
    this.#o.tokenStore.removeItem(TOKEN_KEY);
    // Another tab of this origin may have signed in meanwhile: keep its session.
    if (this.#o.sessionStore.getItem(SESSION_KEY) === had) {
      this.#o.sessionStore.removeItem(SESSION_KEY);
    }
    this.#o.onSignedOut?.();
    throw new SignedOutError();
  }
}
