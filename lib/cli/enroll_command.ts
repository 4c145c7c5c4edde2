/** The command `users add` prints for the new user to run their client. */
import { commandToRun } from "./command_line.ts";
import { formatHostPort } from "./host_port.ts";

/** What `users-add` answers: the new account's one-time code and how to reach its node. */
export interface Enrollment {
  name: string;
  node: string;
  code: string;
  host: string;
  port: number;
  fingerprint: string;
}

/**
 * The command line that starts the new user's client against this node,
 * enrolling it with the one-time code and pinning the node's fingerprint.
 */
export function enrollCommand(e: Enrollment): string {
  return commandToRun([
    "client",
    "--node",
    formatHostPort(e.host, e.port),
    "--user",
    `${e.name}@${e.node}`,
    "--code",
    e.code,
    "--fingerprint",
    e.fingerprint,
  ]);
}
