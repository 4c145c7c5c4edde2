/**
 * The UI token: 32 random bytes (base64url) printed in the URL at start and
 * kept in a file readable by its owner only. It is reused across restarts
 * only when the UI's port is fixed (an open page on that origin can then
 * sign in again); with port 0 every start makes a new one, since the old
 * origin is gone anyway. Signing every browser out replaces it.
 */
import { base64Url } from "../ui/mod.ts";

const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A fresh random token: 32 bytes, base64url. */
export function newToken(): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES)));
}

/** True when `text` has the shape of a token made by {@linkcode newToken}. */
export function isToken(text: string): boolean {
  return TOKEN_PATTERN.test(text);
}

/** Options of {@linkcode UiToken.open}. */
export interface UiTokenOptions {
  /** File holding the token, mode 0600. */
  path: string;
  /** Keep the token the file holds (when well-formed and private), else write a new one. */
  reuse: boolean;
}

/** The current token and its file. */
export class UiToken {
  #path: string;
  #value: string;

  private constructor(path: string, value: string) {
    this.#path = path;
    this.#value = value;
  }

  /** Reads (see {@linkcode UiTokenOptions.reuse}) or writes the token file. */
  static async open({ path, reuse }: UiTokenOptions): Promise<UiToken> {
    if (reuse) {
      try {
        const info = await Deno.stat(path);
        const text = (await Deno.readTextFile(path)).trim();
        if (info.isFile && info.mode !== null && (info.mode & 0o077) === 0 && isToken(text)) {
          return new UiToken(path, text);
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    const token = new UiToken(path, "");
    await token.rotate();
    return token;
  }

  /** The token now. */
  get value(): string {
    return this.#value;
  }

  /** Replaces the token (in memory and in its file); the old one stops working at once. */
  async rotate(): Promise<string> {
    const next = newToken();
    this.#value = next;
    await Deno.writeTextFile(this.#path, next + "\n", { mode: 0o600 });
    await Deno.chmod(this.#path, 0o600);
    return next;
  }
}
