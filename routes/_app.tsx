/** @jsxImportSource preact */
/** The document shell around every page: head, header with navigation, islands for status. */
import { Island, PAGE_STATE_ID, scriptJson, useStore } from "../lib/ui/mod.ts";
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
  const unread = store.contacts.value.reduce((n, c) => n + c.unread, 0);
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

export default function App({ title, path, state, bare, children }: AppProps) {
  const self = state.snapshot.self;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{`${title} · ${self.address} · fedchat`}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="/static/app.css" />
        <script type="module" src="/static/app.js" />
      </head>
      <body class={bare ? "bare" : undefined}>
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
        <script
          type="application/json"
          id={PAGE_STATE_ID}
          dangerouslySetInnerHTML={{ __html: scriptJson(state) }}
        />
      </body>
    </html>
  );
}
