/**
 * The browser's composition root. The document is the server's data-free
 * shell: this signs in (the printed URL's token, if present, is kept in this
 * tab and taken out of the address bar), fetches the page's content with the
 * session, puts it in the body, builds the page store from the state it was
 * drawn from, hydrates every island marker, opens the event socket, and
 * moves the store's clock on.
 */
import { type ComponentType, h, hydrate } from "preact";
import {
  EventSocket,
  type PageContent,
  SignedOutError,
  StoreContext,
  UiApiClient,
  UiAuth,
  UiStore,
} from "../lib/ui/mod.ts";
import ChatWindows from "./ChatWindows.tsx";
import DirectoryList from "./DirectoryList.tsx";
import FederationPanel from "./FederationPanel.tsx";
import GroupWindows from "./GroupWindows.tsx";
import MailboxPanel from "./MailboxPanel.tsx";
import NodeCard from "./NodeCard.tsx";
import RequestDialog from "./RequestDialog.tsx";
import StatusBar from "./StatusBar.tsx";
import ThemeToggle from "./ThemeToggle.tsx";

const ISLANDS: Record<string, ComponentType<never>> = {
  ChatWindows,
  DirectoryList,
  FederationPanel,
  GroupWindows,
  MailboxPanel,
  NodeCard,
  RequestDialog,
  StatusBar,
  ThemeToggle,
};

const CLOCK_TICK_MS = 60_000;

function notify(title: string, body: string): void {
  if (!document.hidden || !("Notification" in globalThis)) return;
  if (Notification.permission !== "granted") return;
  new Notification(title, { body, tag: title });
}

/** Replaces the shell's content with a plain message (no markup from anywhere). */
function showMessage(title: string, text: string): void {
  const main = document.getElementById("main") ?? document.body;
  const h2 = document.createElement("h2");
  h2.textContent = title;
  const p = document.createElement("p");
  p.textContent = text;
  main.replaceChildren(h2, p);
  main.removeAttribute("aria-busy");
}

function showSignedOut(): void {
  document.documentElement.dataset.signedOut = "true";
  showMessage(
    "Signed out",
    "Open the address fedchat printed when it started (the line “open http://127.0.0.1:…”), " +
      "or run `fedchat ui-url` for the current one.",
  );
}

async function main(): Promise<void> {
  let onSignedOut = showSignedOut;
  const auth = new UiAuth({
    sessionStore: localStorage,
    tokenStore: sessionStorage,
    origin: location.origin,
    onSignedOut: () => onSignedOut(),
  });
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (token !== null) {
    auth.setToken(token);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  const api = new UiApiClient({ auth });
  let content: PageContent;
  try {
    // A token in the address is a fresh sign-in: it replaces whatever session this origin had.
    if (token !== null) await auth.renew();
    content = await api.page(location.pathname + location.search);
  } catch (err) {
    if (err instanceof SignedOutError) return;
    showMessage("Cannot load this page", err instanceof Error ? err.message : String(err));
    return;
  }
  document.title = content.title;
  document.body.className = content.bare ? "bare" : "";
  // Markup rendered by our own server from escaped values; scripts in it would not run (CSP).
  document.body.innerHTML = content.html;
  const state = content.state;
  const store = new UiStore({
    snapshot: state.snapshot,
    active: state.active,
    histories: state.histories,
    activeGroup: state.activeGroup,
    nowMs: state.nowMs,
    api,
    isVisible: () => !document.hidden,
    notify,
  });
  onSignedOut = () => {
    document.documentElement.dataset.signedOut = "true";
    store.signedOut.value = true;
  };
  for (const marker of document.querySelectorAll<HTMLElement>("[data-island]")) {
    const component = ISLANDS[marker.dataset.island ?? ""];
    if (!component) continue;
    const props = JSON.parse(marker.dataset.props ?? "{}");
    hydrate(h(StoreContext.Provider, { value: store }, h(component, props)), marker);
  }
  setInterval(() => (store.nowMs.value = Date.now()), CLOCK_TICK_MS);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new EventSocket({
    url: `${scheme}//${location.host}/api/events`,
    protocols: () => auth.protocols(),
    beforeReconnect: async () => {
      try {
        await auth.ensure();
        return true;
      } catch (err) {
        if (err instanceof SignedOutError) return false;
        throw err;
      }
    },
    onEvent: (event) => store.apply(event),
    onOpen: () => void store.refresh().catch(() => {}),
    onState: (s) => (store.socket.value = s),
  });
  socket.start();
  document.addEventListener("visibilitychange", () => {
    const active = store.active.value;
    if (!document.hidden && active) void store.markReadIfSeen(active).catch(() => {});
    const group = store.groups.active.value;
    if (!document.hidden && group) void store.groups.markReadIfSeen(group).catch(() => {});
  });
  // Test and debugging hook: lets a test wait for hydration.
  document.documentElement.dataset.hydrated = "true";
}

void main();
