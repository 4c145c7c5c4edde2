/** @jsxImportSource preact */
/** A QR code drawn from the server's one-path SVG (see `qrPath` in lib/web), with a quiet zone. */
import type { QrPath } from "../lib/ui/mod.ts";

/** Props of {@linkcode QrCode}. */
export interface QrCodeProps {
  qr: QrPath;
  /** What the code holds, for screen readers. */
  label: string;
  class?: string;
}

/** Black modules on white, four modules of margin, crisp edges. */
export function QrCode({ qr, label, class: className }: QrCodeProps) {
  const side = qr.size + 8;
  return (
    <svg
      viewBox={`-4 -4 ${side} ${side}`}
      role="img"
      aria-label={label}
      shape-rendering="crispEdges"
      class={className}
    >
      <rect x="-4" y="-4" width={side} height={side} fill="#fff" />
      <path d={qr.d} fill="#000" />
    </svg>
  );
}
