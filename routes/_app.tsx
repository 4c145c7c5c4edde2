/** @jsxImportSource preact */
/**
 * The frame around every page's content (the document itself is the data-free
 * shell of lib/web): header with navigation, islands for status and requests.
 */
import { Island, useStore } from "../lib/ui/mod.ts";
import type { AppProps } from "../lib/web/mod.ts";
import RequestDialog from "../islands/RequestDialog.tsx";
import StatusBar from "../islands/StatusBar.tsx";
import ThemeToggle from "../islands/ThemeToggle.tsx";

const NAV = [
  { href: "/", label: "Chats" },
  { href: "/directory", label: "Directory" },
  { href: "/federation", label: "Federation" },
  { href: "/node", label: "Node" },
];

function Nav({ path }: { path: string }) {
  const store = useStore();
  const unread = store.contacts.value.reduce((n, c) => n + c.unread, 0) +
    store.groups.list.value.reduce((n, g) => n + g.unread, 0);
  const pending = store.links.value.filter((l) => l.state === "pending").length;
  return (
    <nav class="main-nav" aria-label="Screens">
      {NAV.map((n) => (
        <a href={n.href} aria-current={n.href === path ? "page" : undefined}>
          {n.label}
          {n.href === "/" && unread > 0 && (
            <span class="unread" aria-label={`${unread} unread`}>{unread}</span>
          )}
          {n.href === "/federation" && pending > 0 && (
            <span class="unread" aria-label={`${pending} waiting`}>{pending}</span>
          )}
        </a>
      ))}
    </nav>
  );
}

/** The page frame inside the body: header with navigation and status, the page, the request dialog. */
export default function App({ path, state, bare, children }: AppProps) {
  const self = state.snapshot.self;
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <span class="brand" aria-label="fedchat">fedchat</span>
        <span class="me mono" title="Your address">{self.address}</span>
        {!bare && <Nav path={path} />}
        <span class="spacer" />
        <Island name="StatusBar" component={StatusBar} props={{}} />
        <Island name="ThemeToggle" component={ThemeToggle} props={{}} />
      </header>
      <main id="main">{children}</main>
      <Island name="RequestDialog" component={RequestDialog} props={{ chatPage: path === "/" }} />
    </>
  );
}
