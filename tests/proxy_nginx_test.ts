/**
 * A link through a TLS-terminating reverse proxy (Debian's nginx on a
 * loopback port, as Cloudflare would sit on 443): it works, the node-key
 * check still holds through it, and its records stay sealed (the TLS bindings
 * differ across the proxy).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createCertificate } from "../lib/tls.ts";
import { freePort, NodeProc, runCli, tempRoot, waitLink, waitUntil } from "./_helpers/node_proc.ts";

const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

async function startNginx(
  root: string,
  upstreamPort: number,
): Promise<{ port: number; stop: () => Promise<void> }> {
  const dir = join(root, "nginx");
  await Deno.mkdir(join(dir, "tmp"), { recursive: true });
  const tlsFiles = await createCertificate(["localhost"], Date.now());
  await Deno.writeTextFile(join(dir, "proxy.crt"), tlsFiles.cert);
  await Deno.writeTextFile(join(dir, "proxy.key"), tlsFiles.key);
  const port = freePort();
  await Deno.writeTextFile(
    join(dir, "nginx.conf"),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body; proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fcgi; uwsgi_temp_path ${dir}/tmp/uwsgi; scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${dir}/proxy.crt;
    ssl_certificate_key ${dir}/proxy.key;
    location / {
      proxy_pass https://127.0.0.1:${upstreamPort};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_ssl_verify off;
      proxy_read_timeout 1h;
    }
  }
}
`,
  );
  const child = new Deno.Command(NGINX!, {
    args: ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  await waitUntil("nginx listening", async () => {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return true;
    } catch {
      return false;
    }
  }, 10_000);
  return {
    port,
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.stderr.cancel();
      await child.status;
    },
  };
}

Deno.test({
  name: "proxy: a link through nginx terminating TLS works, and the node-key check holds",
  ignore: !NGINX,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await tempRoot("nginx");
    const nodes: NodeProc[] = [];
    let proxy: { port: number; stop: () => Promise<void> } | null = null;
    try {
      const a = await NodeProc.create({ id: "alice", root });
      const b = await NodeProc.create({ id: "bob", root, open: true });
      nodes.push(a, b);
      proxy = await startNginx(root, b.port);

      // A dials bob at the proxy's address, as it would dial a domain on 443.
      const bInvite = (await b.status()).invite.replace(`:${b.port}?`, `:${proxy.port}?`);
      const r = await runCli(["connect", bInvite, "--config", a.configPath]);
      assert.equal(r.code, 0, r.stdout);
      await waitLink(a, "bob", "up");
      assert.equal((await a.link("bob"))?.fingerprint, (await b.status()).fingerprint);
      // nginx holds two TLS sessions: the bindings differ and the records stay sealed
      // (lib/channel/handshake.ts, version 4), where a direct link runs plain.
      await waitLink(b, "alice", "up");
      assert.equal((await a.link("bob"))?.records, "sealed");
      assert.equal((await b.link("alice"))?.records, "sealed");

      // Through the same proxy, a key that does not match the pin is refused.
      const carol = await NodeProc.create({ id: "carol", root });
      nodes.push(carol);
      const aFp = (await a.status()).invite.split("fp=")[1];
      const wrong = bInvite.replace(/fp=.*$/, `fp=${aFp}`);
      const r2 = await runCli(["connect", wrong, "--config", carol.configPath]);
      assert.notEqual(r2.code, 0);
      assert.match((await carol.link("bob"))?.lastError ?? "", /does not match the invite/);

      // The proxied link survives traffic: restart bob and it comes back through nginx.
      await b.stop();
      await b.start();
      await waitLink(a, "bob", "up", 20_000);
    } finally {
      await proxy?.stop();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
