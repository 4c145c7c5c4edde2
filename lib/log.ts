// deno-lint-ignore-file no-console -- the one place that writes to the console
/**
 * The one place that writes to the console. Lines are `LEVEL component: message`
 * with `key=value` fields; never keys, plaintext, tokens or whole payloads.
 * Messages and field values pass through {@linkcode visible}, so text from a
 * peer cannot move the cursor, clear the screen or forge a log line.
 */
import { visible, visibleMultiline } from "./safe_text.ts";

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Structured fields: ids, sizes, counts, durations. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** A logger, injected everywhere so tests can capture or silence it. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines are prefixed with `component`. */
  child(component: string): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level written; default `info`. */
  level?: LogLevel;
  /** Where a line goes; default stderr. */
  sink?: (line: string) => void;
  /** Component prefix. */
  component?: string;
}

function formatFields(fields: LogFields | undefined): string {
  if (!fields) return "";
  let out = "";
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const text = visible(String(v));
    out += ` ${visible(k)}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
  }
  return out;
}

/** Makes a logger writing text lines to stderr (or `sink`). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const { level = "info", sink = (line: string) => console.error(line), component = "" } = options;
  const write = (lvl: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[lvl] < RANK[level]) return;
    const prefix = component ? `${component}: ` : "";
    sink(
      `${new Date().toISOString()} ${lvl.toUpperCase()} ${prefix}${visible(message)}${
        formatFields(fields)
      }`,
    );
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (c) => createLogger({ level, sink, component: component ? `${component}/${c}` : c }),
  };
}

/** A logger that drops everything (tests). */
export const SILENT_LOGGER: Logger = createLogger({ level: "error", sink: () => {} });

/**
 * Writes a line for the user to stdout (CLI output, not logs). Remote text in
 * it is made visible (see {@linkcode visibleMultiline}); JSON stays valid.
 */
export function printLine(text: string): void {
  console.log(visibleMultiline(text));
}

/**
 * Shows a progress line: redrawn in place on a terminal, one line per call
 * otherwise (so a log or a pipe reads well).
 */
export function printProgress(text: string, final = false): void {
  if (Deno.stdout.isTerminal()) {
    Deno.stdout.writeSync(
      new TextEncoder().encode(`\r\x1b[2K${visible(text)}${final ? "\n" : ""}`),
    );
  } else console.log(visible(text));
}
