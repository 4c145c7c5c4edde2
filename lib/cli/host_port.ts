/** `HOST:PORT` as the `client --node` flag takes it and `users add` prints it. */
import { CliError } from "./cli_error.ts";

/** `host:port`, with an IPv6 host in brackets: `[::1]:9000`. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Parses `HOST:PORT` or `[IPV6]:PORT`.
 *
 * @throws {CliError} when it is not HOST:PORT with a port from 1 to 65535
 */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) {
    throw new CliError(
      `Cannot start client: --node ${JSON.stringify(text)} is not HOST:PORT (IPv6: [::1]:9000)`,
    );
  }
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}
