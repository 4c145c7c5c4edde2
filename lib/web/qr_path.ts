/** QR codes as one SVG path, drawn by the server so the browser bundle carries no encoder. */
import qrcode from "qrcode-generator";
import type { QrPath } from "../ui/mod.ts";

/** Longest text encoded; longer is refused. */
const MAX_QR_CHARS = 1000;

/**
 * Encodes `text` (UTF-8, error correction M) as a path over a `size` grid.
 *
 * @throws {RangeError} when the text is too long for a QR code
 */
export function qrPath(text: string): QrPath {
  if (text.length > MAX_QR_CHARS) throw new RangeError("Cannot draw QR code: text too long");
  const qr = qrcode(0, "M");
  qr.addData(unescape(encodeURIComponent(text)), "Byte");
  qr.make();
  const size = qr.getModuleCount();
  let d = "";
  for (let row = 0; row < size; row++) {
    let col = 0;
    while (col < size) {
      if (!qr.isDark(row, col)) {
        col++;
        continue;
      }
      const start = col;
      while (col < size && qr.isDark(row, col)) col++;
      d += `M${start} ${row}h${col - start}v1h-${col - start}z`;
    }
  }
  return { size, d };
}
