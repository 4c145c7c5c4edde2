/**
 * The one INI reader of the project (config.conf): `[section]` headers,
 * `key = value` lines, whole-line comments starting with `;` or `#`, and
 * inline comments that start with `;` or `#` after whitespace (the seed's
 * `host = 192.168.0.98  # Your server IP`). A value may be wrapped in double
 * quotes to keep a ` #` or ` ;` in it. A `#` with no space before it is part
 * of the value (`data_dir = a#b`). Every entry keeps its line number, so the
 * caller's errors can name it.
 */

/** One `key = value` line. */
export interface IniEntry {
  value: string;
  line: number;
}

/** A section: its header's line and its entries in file order. */
export interface IniSection {
  line: number;
  entries: Map<string, IniEntry>;
}

/** Text that is not INI; `line` is 1-based. */
export class IniSyntaxError extends SyntaxError {
  readonly line: number;
  readonly section: string | null;
  readonly key: string | null;

  constructor(message: string, line: number, section: string | null, key: string | null = null) {
    super(message);
    this.name = "IniSyntaxError";
    this.line = line;
    this.section = section;
    this.key = key;
  }
}

function stripComment(text: string): string {
  const m = /(^|\s)[;#]/.exec(text);
  return (m ? text.slice(0, m.index) : text).trim();
}

function unquote(value: string, line: number, section: string): string {
  if (!value.startsWith('"')) return stripComment(value);
  const close = value.indexOf('"', 1);
  if (close < 0) throw new IniSyntaxError("unclosed quote", line, section);
  if (stripComment(value.slice(close + 1)) !== "") {
    throw new IniSyntaxError("text after a closing quote", line, section);
  }
  return value.slice(1, close);
}

/**
 * Parses INI text into sections. Keys outside a section, lines that are
 * neither a header nor `key = value`, and a key set twice in one section are
 * syntax errors naming the line.
 *
 * @throws {IniSyntaxError}
 */
export function parseIni(text: string): Map<string, IniSection> {
  const sections = new Map<string, IniSection>();
  let current: IniSection | null = null;
  let name: string | null = null;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i].trim();
    if (line === "" || line.startsWith(";") || line.startsWith("#")) continue;
    const header = /^\[([^\]]*)\](.*)$/.exec(line);
    if (header) {
      if (stripComment(header[2]) !== "") {
        throw new IniSyntaxError("text after a [section] header", n, name);
      }
      name = header[1].trim();
      current = sections.get(name) ?? { line: n, entries: new Map() };
      sections.set(name, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0) throw new IniSyntaxError('expected "key = value"', n, name);
    const key = line.slice(0, eq).trim();
    if (current === null || name === null) {
      throw new IniSyntaxError(`key ${key} is outside any [section]`, n, null, key);
    }
    const earlier = current.entries.get(key);
    if (earlier) {
      throw new IniSyntaxError(`set twice (first on line ${earlier.line})`, n, name, key);
    }
    current.entries.set(key, { value: unquote(line.slice(eq + 1).trim(), n, name), line: n });
  }
  return sections;
}
