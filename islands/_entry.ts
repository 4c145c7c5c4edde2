/**
 * The browser's composition root: builds the page store from the state the
 * server rendered with, opens the event socket, wires notifications, and
 * hydrates every island marker on the page.
 */
import { type ComponentType, h, hydrate } from "preact";
import {
  EventSocket,
  PAGE_STATE_ID,
  type PageState,
  StoreContext,
  UiApiClient,
  UiStore,
} from "../lib/ui/mod.ts";
import ChatWindows from "./ChatWindows.tsx";
import DirectoryList from "./DirectoryList.tsx";
import FederationPanel from "./FederationPanel.tsx";
import NodeCard from "./NodeCard.tsx";
import RequestDialog from "./RequestDialog.tsx";
import StatusBar from "./StatusBar.tsx";
import ThemeToggle from "./ThemeToggle.tsx";

const ISLANDS: Record<string, ComponentType<never>> = {
  ChatWindows,
  DirectoryList,
  FederationPanel,
  NodeCard,
  RequestDialog,
  StatusBar,
  ThemeToggle,
};

function notify(title: string, body: string): void {
  if (!document.hidden || !("Notification" in globalThis)) return;
  if (Notification.permission !== "granted") return;
  new Notification(title, { body, tag: title });
}

function main(): void {
  const el = document.getElementById(PAGE_STATE_ID);
  if (!el?.textContent) return;
  const state = JSON.parse(el.textContent) as PageState;
  const store = new UiStore({
    snapshot: state.snapshot,
    active: state.active,
    histories: state.histories,
    api: new UiApiClient(),
    isVisible: () => !document.hidden,
    notify,
  });
  for (const marker of document.querySelectorAll<HTMLElement>("[data-island]")) {
    const component = ISLANDS[marker.dataset.island ?? ""];
    if (!component) continue;
    const props = JSON.parse(marker.dataset.props ?? "{}");
    hydrate(h(StoreContext.Provider, { value: store }, h(component, props)), marker);
  }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new EventSocket({
    url: `${scheme}//${location.host}/api/events`,
    onEvent: (event) => store.apply(event),
    onOpen: () => void store.refresh().catch(() => {}),
    onState: (s) => (store.socket.value = s),
  });
  socket.start();
  document.addEventListener("visibilitychange", () => {
    const active = store.active.value;
    if (!document.hidden && active) void store.markReadIfSeen(active).catch(() => {});
  });
  // Test and debugging hook: lets a test wait for hydration.
  document.documentElement.dataset.hydrated = "true";
}

main();
