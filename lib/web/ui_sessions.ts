/**
 * UI sessions: random secrets made by this process, kept only in its memory
 * (so they all die when it stops), handed out for a proof that the page
 * holds the token (see `sessionProof` in lib/ui), and revocable. Challenges
 * are stateless (a time, a random part and a MAC under a per-process key),
 * so asking for many costs nothing; a challenge answered correctly cannot
 * be answered again.
 */
import type { Clock } from "../clock.ts";
import { base64Url, sessionProof } from "../ui/mod.ts";

/** Options of {@linkcode UiSessions}. */
export interface UiSessionsOptions {
  clock: Clock;
  /** Sessions kept; a new one beyond this replaces the least recently used. */
  maxSessions?: number;
  /** How long a challenge can be answered. */
  challengeTtlMs?: number;
}

/** A session as the guard sees it. */
export interface UiSession {
  /** A public id for logs and for the sockets the session opened (not the secret). */
  id: string;
  createdAtMs: number;
  lastUsedMs: number;
}

interface Held extends UiSession {
  secret: string;
}

/** What a page sends to exchange a proof for a session. */
export interface SessionRequest {
  token: string;
  /** The Origin the guard checked (`http://127.0.0.1:PORT`). */
  origin: string;
  nonce: string;
  proof: string;
}

const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const NONCE_PATTERN = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$/;
const CLOCK_SKEW_MS = 5_000;

/** Constant-time string comparison (lengths are not secret). */
export function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function random(bytes: number): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** This process's sessions. */
export class UiSessions {
  #clock: Clock;
  #max: number;
  #ttlMs: number;
  #key: Promise<CryptoKey>;
  #sessions: Held[] = [];
  /** Answered challenges, until they expire. */
  #used = new Map<string, number>();

  constructor({ clock, maxSessions = 32, challengeTtlMs = 60_000 }: UiSessionsOptions) {
    this.#clock = clock;
    this.#max = maxSessions;
    this.#ttlMs = challengeTtlMs;
    this.#key = crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  }

  /** Sessions held now. */
  get size(): number {
    return this.#sessions.length;
  }

  /** A fresh challenge for a page to answer. */
  async challenge(): Promise<string> {
    const body = `${this.#clock.nowMs().toString(36)}.${random(16)}`;
    return `${body}.${await this.#mac(body)}`;
  }

  /**
   * Checks a page's answer to a challenge; makes a session when it is right.
   *
   * @returns the new session's secret and id, or null when the answer is refused
   */
  async exchange(r: SessionRequest): Promise<{ secret: string; id: string } | null> {
    const m = NONCE_PATTERN.exec(r.nonce);
    if (!m || typeof r.proof !== "string" || r.proof.length > 100) return null;
    const issuedMs = parseInt(m[1], 36);
    const now = this.#clock.nowMs();
    if (!(issuedMs <= now + CLOCK_SKEW_MS && now - issuedMs <= this.#ttlMs)) return null;
    if (!sameText(m[3], await this.#mac(`${m[1]}.${m[2]}`))) return null;
    if (this.#used.has(r.nonce)) return null;
    if (!sameText(r.proof, await sessionProof(r.token, r.origin, r.nonce))) return null;
    this.#forgetExpired(now);
    this.#used.set(r.nonce, issuedMs + this.#ttlMs);
    const held: Held = { id: random(9), secret: random(32), createdAtMs: now, lastUsedMs: now };
    this.#sessions.push(held);
    if (this.#sessions.length > this.#max) {
      this.#sessions.sort((a, b) => b.lastUsedMs - a.lastUsedMs);
      this.#sessions.length = this.#max;
    }
    return { secret: held.secret, id: held.id };
  }

  /** The session whose secret is `secret`, or null (every session is compared, in constant time). */
  verify(secret: string): UiSession | null {
    if (!SECRET_PATTERN.test(secret)) return null;
    let found: Held | null = null;
    for (const s of this.#sessions) if (sameText(s.secret, secret)) found = s;
    if (!found) return null;
    found.lastUsedMs = this.#clock.nowMs();
    const { id, createdAtMs, lastUsedMs } = found;
    return { id, createdAtMs, lastUsedMs };
  }

  /**
   * Ends every session except `keepId`.
   *
   * @returns the ids signed out
   */
  revokeAll(keepId: string | null = null): string[] {
    const gone = this.#sessions.filter((s) => s.id !== keepId).map((s) => s.id);
    this.#sessions = this.#sessions.filter((s) => s.id === keepId);
    return gone;
  }

  /** True when the session `id` exists. */
  has(id: string): boolean {
    return this.#sessions.some((s) => s.id === id);
  }

  async #mac(text: string): Promise<string> {
    const sig = await crypto.subtle.sign("HMAC", await this.#key, new TextEncoder().encode(text));
    return base64Url(new Uint8Array(sig).subarray(0, 16));
  }

  #forgetExpired(now: number): void {
    for (const [nonce, until] of this.#used) if (until < now) this.#used.delete(nonce);
  }
}
