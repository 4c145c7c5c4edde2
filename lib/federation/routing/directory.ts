/** The directory: listed users of every reachable node, with presence. */
import type { Address, NodeId } from "../../ids.ts";
import type { AnnouncedUser, Presence, SignedAnnouncement } from "./announcement.ts";

/** One listed user. */
export interface DirectoryEntry {
  readonly address: Address;
  readonly presence: Presence;
  readonly node: NodeId;
}

/** Builds the directory, sorted by address. */
export function buildDirectory(
  { self, ownUsers, reachable, announcementOf }: {
    self: NodeId;
    /** The node's own listed users (empty when the node is unlisted). */
    ownUsers: readonly AnnouncedUser[];
    reachable: Iterable<NodeId>;
    announcementOf(node: NodeId): SignedAnnouncement | undefined;
  },
): DirectoryEntry[] {
  const entries: DirectoryEntry[] = [];
  const add = (node: NodeId, users: readonly AnnouncedUser[]) => {
    for (const user of users) {
      entries.push({ address: `${user.name}@${node}` as Address, presence: user.presence, node });
    }
  };
  add(self, ownUsers);
  for (const node of reachable) {
    const announcement = announcementOf(node);
    if (announcement?.listed) add(node, announcement.users);
  }
  return entries.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}
