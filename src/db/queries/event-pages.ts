// Organization.events: pages of the change feed in revision order, one statement per argument
// shape for every organization on the page (a LATERAL join per organization over the unique index
// on ("organizationId", revision)), which also reads the oldest revision still kept, so that a
// cursor from before the retention window is refused (CURSOR_EXPIRED) instead of answered with a
// silent gap. Cursors name the organization and the revision: base64 "ev:<organizationId>:<revision>".
import { createHash } from "node:crypto";
import DataLoader from "dataloader";
import { AppError, invalid } from "../../core/errors.js";
import { UUID_PATTERN } from "../../core/text.js";
import type { EventAction } from "../../core/events.js";
import type { MembershipEvent, PrismaClient } from "../../generated/prisma/client.js";
import { byShape, shapedCacheKey } from "./by-shape.js";
import { columnsOf, selectList } from "./columns.js";

export interface EventPageArgs {
  /** The revision the page starts after (0: from the beginning). */
  after: number;
  size: number;
  /** Only these actions (null: all). */
  actions: EventAction[] | null;
}

export interface EventKey {
  organizationId: string;
  args: EventPageArgs;
  shape: string;
}

export interface EventPage {
  edges: { cursor: string; node: MembershipEvent }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  /** The oldest revision still kept (null: none is), for expiredAfter(). */
  oldestKept: number | null;
}

export const eventCursor = (organizationId: string, revision: number) => Buffer.from(`ev:${organizationId}:${revision}`).toString("base64url");

/** The revision an `after` cursor names, checked to be one of this organization's (BAD_USER_INPUT otherwise). */
export function revisionAfter(cursor: string | null | undefined, organizationId: string, field = "after"): number {
  if (cursor === null || cursor === undefined) return 0;
  const [tag, owner, revision, ...rest] = Buffer.from(cursor, "base64url").toString("utf8").split(":");
  if (tag !== "ev" || rest.length > 0 || !owner || !UUID_PATTERN.test(owner) || !revision || !/^\d{1,9}$/.test(revision)) {
    throw invalid(field, `${field} is not a cursor of the change feed`);
  }
  if (owner.toLowerCase() !== organizationId.toLowerCase()) throw invalid(field, `${field} is a cursor of another organization's change feed`);
  return Number(revision);
}

export function eventPageKey(organizationId: string, args: EventPageArgs): EventKey {
  return { organizationId, args, shape: createHash("sha1").update(JSON.stringify([args.after, args.size, args.actions])).digest("hex") };
}

export const cursorExpired = (after: number, oldest: number) =>
  new AppError(
    "CURSOR_EXPIRED",
    `Events after revision ${after} are no longer kept (the oldest kept is ${oldest}); read Organization.revision and the current state, then follow the feed from there`,
    { field: "after", oldestRevision: oldest },
  );

/**
 * Whether events after `after` have been pruned: some revision in (after, oldest kept) is gone,
 * or none is kept although the organization has moved past `after`.
 */
export function expiredAfter(after: number, oldestKept: number | null, latest: number): boolean {
  if (after >= latest) return false;
  return oldestKept === null ? true : after + 1 < oldestKept;
}

const COLUMNS = columnsOf("MembershipEvent");

type Row = MembershipEvent & { target: string; oldest: number | null };

export function createEventPageLoader(prisma: PrismaClient): DataLoader<EventKey, EventPage, string> {
  const load = async (organizationIds: string[], sample: EventKey): Promise<Map<string, EventPage>> => {
    const { after, size, actions } = sample.args;
    const params: unknown[] = [organizationIds, after, size + 1];
    const filter = actions ? ` AND e.action = ANY($${params.push(actions)}::text[])` : "";
    const rows = (await prisma.$queryRawUnsafe(
      `SELECT target.id::text AS target, kept.oldest, page.* FROM unnest($1::uuid[]) AS target(id)
         CROSS JOIN LATERAL (SELECT min(k.revision) AS oldest FROM "MembershipEvent" k WHERE k."organizationId" = target.id) kept
         LEFT JOIN LATERAL (
           SELECT ${selectList("e", COLUMNS).join(", ")} FROM "MembershipEvent" e
            WHERE e."organizationId" = target.id AND e.revision > $2${filter}
            ORDER BY e.revision LIMIT $3) page ON true`,
      ...params,
    )) as Row[];
    const grouped = new Map<string, { oldest: number | null; events: MembershipEvent[] }>();
    for (const { target, oldest, ...event } of rows) {
      let entry = grouped.get(target);
      if (!entry) grouped.set(target, (entry = { oldest: oldest === null ? null : Number(oldest), events: [] }));
      if (event.id !== null) entry.events.push(event);
    }
    const pages = new Map<string, EventPage>();
    for (const [organizationId, { oldest, events }] of grouped) {
      const edges = events.slice(0, size).map((node) => ({ node, cursor: eventCursor(organizationId, node.revision) }));
      pages.set(organizationId, {
        edges,
        pageInfo: { hasNextPage: events.length > size, hasPreviousPage: after > 0, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
        oldestKept: oldest,
      });
    }
    return pages;
  };
  const missing = (key: EventKey): EventPage => ({
    edges: [],
    pageInfo: { hasNextPage: false, hasPreviousPage: key.args.after > 0, startCursor: null, endCursor: null },
    oldestKept: null,
  });
  return new DataLoader(byShape(load, missing), { cacheKeyFn: shapedCacheKey });
}
