/**
 * Helpers for group tests over real node processes: remote client processes
 * (`main.ts client`, a second user on a node), and a uniform handle on any
 * user's client (the owner's, in its node's process, or a remote one).
 */
import { join, resolve } from "node:path";
import { adminCall } from "../../lib/node/mod.ts";
import type { GroupMemberView, GroupMessage, GroupView } from "../../lib/client/mod.ts";
import type { NodeProc } from "./node_proc.ts";
import { waitUntil } from "./node_proc.ts";

const REPO = resolve(new URL("../..", import.meta.url).pathname);

/** Anything with a user's client behind an admin socket. */
export interface User {
  address: string;
  admin(cmd: string, args?: Record<string, unknown>): Promise<unknown>;
}

/** The owner's client of a node started with `withClient`. */
export function owner(n: NodeProc): User {
  return { address: `${n.id}@${n.id}`, admin: (cmd, args = {}) => n.admin(cmd, args) };
}

/** A client process of a second user on a node (`main.ts client`), restartable. */
export class ClientProc implements User {
  readonly address: string;
  readonly dir: string;
  #node: NodeProc;
  #code: string | undefined;
  #fingerprint: string;
  #child: Deno.ChildProcess | null = null;
  #output = "";

  private constructor(node: NodeProc, address: string, dir: string, code: string, fp: string) {
    this.#node = node;
    this.address = address;
    this.dir = dir;
    this.#code = code;
    this.#fingerprint = fp;
  }

  /** Adds `name` on `node` with `users add` and starts its client in `root`. */
  static async create(node: NodeProc, name: string, root: string): Promise<ClientProc> {
    const info = await node.addUser(name);
    const c = new ClientProc(
      node,
      `${name}@${node.id}`,
      join(root, `${name}-${node.id}-client`),
      info.code,
      info.fingerprint,
    );
    await c.start();
    return c;
  }

  get output(): string {
    return this.#output;
  }

  /** Whether its process runs (false once stopped, or once it exited on its own). */
  get running(): boolean {
    return this.#child !== null;
  }

  async start(): Promise<void> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-write=.tmp",
        "main.ts",
        "client",
        "--node",
        `127.0.0.1:${this.#node.port}`,
        "--user",
        this.address,
        "--dir",
        this.dir,
        ...(this.#code ? ["--code", this.#code] : []),
        "--fingerprint",
        this.#fingerprint,
      ],
      cwd: REPO,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#code = undefined; // enrolled: later starts use the device key
    this.#child = child;
    child.status.then((st) => {
      if (this.#child !== child) return; // stopped by us
      this.#child = null;
      this.#output += `\n--- client exited with code ${st.code} on its own ---\n`;
    }).catch(() => {});
    const d = new TextDecoder();
    const pump = async (s: ReadableStream<Uint8Array>) => {
      for await (const c of s) this.#output += d.decode(c, { stream: true });
    };
    pump(child.stdout).catch(() => {});
    pump(child.stderr).catch(() => {});
    const from = this.#output.length;
    await waitUntil(
      `${this.address}'s client ready`,
      () => /ready/.test(this.#output.slice(from)),
      30_000,
    );
  }

  admin(cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
    return adminCall(this.dir, cmd, args);
  }

  /** Stops the process (SIGKILL with `hard`). */
  async stop(hard = false): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = null;
    try {
      child.kill(hard ? "SIGKILL" : "SIGTERM");
    } catch { /* gone */ }
    await child.status;
  }
}

/** A user's groups. */
export async function groupsOf(u: User): Promise<GroupView[]> {
  return await u.admin("groups") as GroupView[];
}

/** A user's view of group `g` (by id), or undefined. */
export async function groupOf(u: User, g: string): Promise<GroupView | undefined> {
  return (await groupsOf(u)).find((x) => x.id === g);
}

/** A group's history at a user. */
export async function historyOf(u: User, g: string): Promise<GroupMessage[]> {
  return await u.admin("group-history", { group: g, limit: 100_000 }) as GroupMessage[];
}

/** A group's members at a user. */
export async function membersOf(u: User, g: string): Promise<GroupMemberView[]> {
  return await u.admin("group-members", { group: g }) as GroupMemberView[];
}

/** Texts a user received in a group, in history order. */
export async function textsIn(u: User, g: string): Promise<string[]> {
  return (await historyOf(u, g)).filter((m) => m.kind === "text" && m.direction === "in").map(
    (m) => m.text,
  );
}

/**
 * Invites `who` (retrying while their key packages are not published yet or
 * the link is not up), waits for the invitation and has them accept.
 */
export async function inviteAndJoin(admin: User, g: string, who: User): Promise<void> {
  await waitUntil(`${who.address} invited`, async () => {
    try {
      await admin.admin("group-invite", { group: g, address: who.address });
      return true;
    } catch (e) {
      if (/already in the group/.test(String(e))) return true;
      // Their client has not published key packages yet, or their node is not reachable yet.
      if (/no key package|no answer|no route/.test(String(e))) return false;
      throw e;
    }
  }, 60_000);
  await waitUntil(
    "the home node took the invitation",
    async () => (await groupOf(admin, g))?.pending === null,
    60_000,
  );
  await waitUntil(
    `invitation at ${who.address}`,
    async () =>
      ((await who.admin("invitations")) as Array<{ group: string }>).some((i) => i.group === g),
    30_000,
  );
  await who.admin("group-accept", { group: g });
}

/** Waits until every user sees group `g` at the same epoch with the same members. */
export async function converged(users: readonly User[], g: string, timeoutMs = 60_000) {
  let last = "";
  await waitUntil("the group converges", async () => {
    const views = await Promise.all(users.map(async (u) => {
      const v = await groupOf(u, g);
      if (!v || v.state !== "active") return `${u.address}: ${v?.state ?? "none"}`;
      const members = (await membersOf(u, g)).map((m) => m.address).sort().join(",");
      return `${v.epoch}|${members}|${v.pending ?? ""}`;
    }));
    last = views.join("\n");
    return new Set(views).size === 1 && !views[0].includes(":");
  }, timeoutMs).catch((e) => {
    throw new Error(`${(e as Error).message}\n${last}`);
  });
  return last.split("\n")[0];
}
