/** Sizes as people type them ("512K", "10 MiB"), read the way config.conf reads them. */

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Reads a size: a whole number, optionally with K, M, G or T (1024-based;
 * "KB", "KiB" and "kb" mean the same), between `min` and `max` bytes.
 *
 * @throws {RangeError} saying what to type instead
 */
export function parseSize(text: string, range: { min: number; max: number }): number {
  const m = /^(\d{1,16})\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * UNITS[m[2].toLowerCase()] : NaN;
  if (!(Number.isSafeInteger(n) && n >= range.min && n <= range.max)) {
    throw new RangeError(
      `Cannot read size ${JSON.stringify(text)}: use a number of bytes from ${range.min} to ` +
        `${range.max}, optionally with K, M, G or T (1024-based)`,
    );
  }
  return n;
}
