/**
 * A node and its owner's client in one process, for benchmarks: the shape
 * users run (`deno task start`), where the client reaches its node through
 * the in-process link instead of TLS, WebSocket and the channel. The child is
 * bench/_client_proc.ts's, so the bench drives the client with the same
 * commands; the node answers admin calls (`link()`, `admin()`) as a
 * {@linkcode NodeProc} does. The owner's user name is the node id.
 */
import { adminCall } from "../lib/node/mod.ts";
import {
  type LinkRow,
  type NodeProcOptions,
  writeNodeConfig,
} from "../tests/_helpers/node_proc.ts";
import { ClientProc } from "./_client_proc.ts";

/** A running node with its owner's client in the same process. */
export class NodeClientProc {
  readonly id: string;
  readonly port: number;
  readonly dataDir: string;
  /** The combined process, driven like a client process. */
  readonly client: ClientProc;

  private constructor(id: string, port: number, dataDir: string, client: ClientProc) {
    this.id = id;
    this.port = port;
    this.dataDir = dataDir;
    this.client = client;
  }

  /** Writes the config as NodeProc does and starts the process; resolves once the client is up. */
  static async create(
    o: Pick<NodeProcOptions, "id" | "root" | "open" | "extra" | "logLevel">,
  ): Promise<NodeClientProc> {
    const { port, dataDir, configPath } = await writeNodeConfig(o);
    const client = await ClientProc.start({ name: o.id, inNode: { configPath } });
    return new NodeClientProc(o.id, port, dataDir, client);
  }

  /** The owner's address: the node id as user name. */
  get address(): string {
    return `${this.id}@${this.id}`;
  }

  get pid(): number {
    return this.client.pid;
  }

  /** Everything the process printed that is not an answer to the bench. */
  get output(): string {
    return this.client.output;
  }

  /** Asks the node (or its owner's client) for something over its admin channel. */
  admin(cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
    return adminCall(this.dataDir, cmd, args);
  }

  /** The state of the link to `peer`, or undefined. */
  async link(peer: string): Promise<LinkRow | undefined> {
    const status = await this.admin("status") as { links: LinkRow[] };
    return status.links.find((l) => l.peer === peer);
  }

  /** Stops the client and the node, and waits for the exit. */
  stop(): Promise<void> {
    return this.client.stop();
  }
}
