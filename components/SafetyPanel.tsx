/** @jsxImportSource preact */
/** A contact's safety number: digits and QR code to compare in person or on a call. */
import type { SafetyView, UiStore } from "../lib/ui/mod.ts";
import { QrCode } from "./QrCode.tsx";

/** Props of {@linkcode SafetyPanel}. */
export interface SafetyPanelProps {
  store: UiStore;
  safety: SafetyView;
}

/** The digits, a hint, a close button and the code. */
export function SafetyPanel({ store, safety }: SafetyPanelProps) {
  return (
    <aside class="safety" aria-label={`Safety number with ${safety.address}`}>
      <div>
        <h3>Safety number</h3>
        <p class="digits mono">{safety.digits}</p>
        <p class="hint">
          Compare these digits (or scan the code) with {safety.address}, in person or on a call.
        </p>
        <button type="button" onClick={() => (store.safety.value = null)}>Close</button>
      </div>
      <QrCode qr={safety.qr} label="Safety number QR code" class="qr-small" />
    </aside>
  );
}
