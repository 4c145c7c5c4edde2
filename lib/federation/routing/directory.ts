/**
 * The directory: listed users of every reachable node, with presence, read a page at a
 * time. Order is by node id, then user name, so a page walks the nodes in order and decodes
 * only the announcements it reads; a query that matches little stops after a bounded scan
 * and says where to go on.
 */
import type { Address, NodeId } from "../../ids.ts";
import type { AnnouncedUser, Presence, SignedAnnouncement } from "./announcement.ts";

/** One listed user. */
export interface DirectoryEntry {
  readonly address: Address;
  readonly presence: Presence;
  readonly node: NodeId;
}

/** Largest page {@linkcode buildDirectoryPage} returns, whatever is asked. */
export const MAX_DIRECTORY_PAGE = 500;
/** Most entries `Router.directory()` returns. */
export const MAX_DIRECTORY_ENTRIES = 2000;
/**
 * Most users of one other node in `Router.directory()`: nodes come in id order,
 * so without it one node listing 4,096 users under an id that sorts first filled
 * the whole list clients get and hid every other node's users.
 */
export const MAX_DIRECTORY_PER_NODE = 256;
/** Most users one page call looks at before it stops and hands back a cursor. */
export const MAX_DIRECTORY_SCAN = 20_000;

/** A page request. */
export interface DirectoryQuery {
  /** Start after this address (a previous page's `next`). */
  after?: string;
  /** Entries wanted, at most {@linkcode MAX_DIRECTORY_PAGE}. */
  limit: number;
  /** Only addresses containing this text, case-insensitive. */
  query?: string;
}

/** A page: its entries, and where the next one starts if there is more. */
export interface DirectoryPage {
  readonly entries: DirectoryEntry[];
  readonly next?: string;
}

/**
 * Reads one page (pure: reads the announcements it is handed).
 * @throws {RangeError} a limit that is not a positive whole number
 */
export function buildDirectoryPage(
  { self, ownUsers, reachable, announcementOf, request, maxLimit = MAX_DIRECTORY_PAGE, perNode }: {
    self: NodeId;
    /** The node's own listed users (empty when the node is unlisted). */
    ownUsers: readonly AnnouncedUser[];
    /** Reachable nodes, sorted, without `self`. */
    reachable: readonly NodeId[];
    announcementOf(node: NodeId): SignedAnnouncement | undefined;
    request: DirectoryQuery;
    /** Hard cap on `limit`. */
    maxLimit?: number;
    /** Users of each other node, at most (default: all); the rest are skipped. */
    perNode?: number;
  },
): DirectoryPage {
  const { after, query } = request;
  if (!Number.isInteger(request.limit) || request.limit < 1) {
    throw new RangeError(`Cannot read directory: limit ${request.limit} is not a positive number`);
  }
  const limit = Math.min(request.limit, maxLimit);
  const needle = query?.toLowerCase() ?? "";
  let afterNode: string | undefined;
  let afterName: string | undefined;
  if (after !== undefined) {
    const at = after.lastIndexOf("@");
    afterNode = at < 0 ? after : after.slice(at + 1);
    afterName = at < 0 ? undefined : after.slice(0, at);
  }
  const nodes = insertSorted(reachable, self);
  let start = afterNode === undefined ? 0 : lowerBound(nodes, afterNode);
  const entries: DirectoryEntry[] = [];
  let scanned = 0;
  let lastScanned = "";
  for (; start < nodes.length; start++) {
    const node = nodes[start];
    const all = node === self ? ownUsers : listedUsers(announcementOf(node));
    const users = node === self || perNode === undefined ? all : all.slice(0, perNode);
    for (const user of users) {
      if (node === afterNode && afterName !== undefined && user.name <= afterName) continue;
      if (scanned === MAX_DIRECTORY_SCAN) return { entries, next: lastScanned };
      const address = `${user.name}@${node}` as Address;
      scanned++;
      lastScanned = address;
      if (needle !== "" && !address.toLowerCase().includes(needle)) continue;
      entries.push({ address, presence: user.presence, node });
      if (entries.length === limit) return { entries, next: address };
    }
  }
  return { entries };
}

function listedUsers(a: SignedAnnouncement | undefined): readonly AnnouncedUser[] {
  return a?.listed ? a.users : [];
}

function insertSorted(list: readonly NodeId[], id: NodeId): NodeId[] {
  const at = lowerBound(list, id);
  return list[at] === id ? [...list] : [...list.slice(0, at), id, ...list.slice(at)];
}

function lowerBound(list: readonly string[], id: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
