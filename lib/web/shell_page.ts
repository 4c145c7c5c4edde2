/**
 * The page shell: what every page URL answers, to anyone who passes the
 * guard's Host and Origin checks. It holds no data (no address, no names,
 * no state): the page's script signs in and fetches the content with its
 * session header, so a navigation needs no credential the browser would
 * attach by itself.
 */

/** The shell's HTML; the same bytes for every page path. */
export const SHELL_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>fedchat</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/app.css">
<script type="module" src="/static/app.js"></script>
</head>
<body>
<main id="main" class="shell" aria-busy="true">
<p class="shell-note">Loading… (this page needs JavaScript: it signs in with the address
fedchat printed when it started, and keeps its session to this browser)</p>
</main>
</body>
</html>
`;
