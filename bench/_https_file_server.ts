/**
 * The physical reference of bench/files.ts: serves one file over HTTPS
 * (Deno.serve with TLS) on loopback, streamed from disk. Args: CERT KEY FILE.
 * Prints the port, then serves until killed.
 */
// deno-lint-ignore-file no-console
const [cert, key, file] = Deno.args;
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  cert: await Deno.readTextFile(cert),
  key: await Deno.readTextFile(key),
  onListen: ({ port }) => console.log(`port ${port}`),
}, async () => {
  const f = await Deno.open(file, { read: true });
  const { size } = await f.stat();
  return new Response(f.readable, { headers: { "content-length": String(size) } });
});
await server.finished;
