// Organization.auditEvents, loaded like Organization.members (member-pages.ts): one statement
// returns the requested page of every organization on the page (a LATERAL join per organization,
// over the index on ("organizationId", "createdAt", id)), and one grouped statement counts them
// when totalCount is asked for. The answers are plugin-prisma's cursor connection's, as the field
// gave them when it ran one query per organization: the same order (createdAt, then id), pageInfo
// and cursors (base64 "GPC:S:<id>", checked by cursors.requireIdCursors before they get here).
import { createHash } from "node:crypto";
import { decodeBase64, decodeCursorChunk, encodeBase64, encodeCursorChunk } from "@pothos/core";
import DataLoader from "dataloader";
import { byShape, pageFrom, shapedCacheKey } from "./by-shape.js";
import { columnsOf, selectList } from "./columns.js";
import type { AuditEvent, PrismaClient } from "../../generated/prisma/client.js";
import { validatePageArgs } from "./member-pages.js";

export interface AuditPageArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
  /** Only this action. */
  action?: string | null;
  direction: "asc" | "desc";
}

export interface AuditPage {
  edges: { cursor: string; node: AuditEvent }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  /** What totalCount counts: the organization's events with this action filter, on all pages. */
  countKey: AuditKey;
}

export interface AuditKey {
  organizationId: string;
  args: AuditPageArgs;
  /** Identical for keys whose arguments are the same, so they share one statement. */
  shape: string;
}

const hash = (value: unknown) => createHash("sha1").update(JSON.stringify(value)).digest("hex");

export function auditPageKey(organizationId: string, args: AuditPageArgs): AuditKey {
  return { organizationId, args, shape: hash([args.first, args.last, args.after, args.before, args.action, args.direction]) };
}

/** The count key of a page: pagination and order don't change what is counted. */
function auditCountKey(organizationId: string, action: string | null | undefined): AuditKey {
  return { organizationId, args: { action: action ?? null, direction: "desc" }, shape: hash(["count", action ?? null]) };
}

const COLUMNS = columnsOf("AuditEvent");

/** plugin-prisma's cursor for `cursor: "id"`. */
const encodeCursor = (id: string) => encodeBase64(`GPC:${encodeCursorChunk(id)}`);
/** The event id in a cursor requireIdCursors has accepted. */
const cursorId = (cursor: string) => decodeCursorChunk(decodeBase64(cursor).slice(4)) as string;

export interface AuditPageLoaders {
  pages: DataLoader<AuditKey, AuditPage, string>;
  /** Keyed by a page's countKey. */
  counts: DataLoader<AuditKey, number, string>;
}

export function createAuditPageLoaders(prisma: PrismaClient, limits: { maxPageSize: number; defaultPageSize: number }): AuditPageLoaders {
  const loadPages = async (organizationIds: string[], args: AuditPageArgs): Promise<Map<string, AuditPage>> => {
    const { backward, size } = validatePageArgs(args, limits.maxPageSize, limits.defaultPageSize);
    const params: unknown[] = [organizationIds];
    const add = (value: unknown) => `$${params.push(value)}`;
    // Walking backward reads the list in reverse and flips the page afterwards.
    const descending = (args.direction === "desc") !== backward;
    const conditions: string[] = [];
    if (args.action) conditions.push(`a.action = ${add(args.action)}`);
    const cursor = args.after ?? args.before;
    // Strictly past the event the cursor names; an id that names no event gives an empty page. (A
    // cursor of an event not on this list, another organization's or another filter's, positions
    // by that event too; plugin-prisma's `skip: 1` also dropped this list's first row there.)
    if (cursor) conditions.push(`(a."createdAt", a.id) ${descending ? "<" : ">"} (SELECT c."createdAt", c.id FROM "AuditEvent" c WHERE c.id = ${add(cursorId(cursor))}::uuid)`);
    const order = descending ? "DESC" : "ASC";
    const rows = (await prisma.$queryRawUnsafe(
      `SELECT e.* FROM unnest($1::uuid[]) AS target(id)
        CROSS JOIN LATERAL (
        SELECT ${selectList("a", COLUMNS).join(", ")} FROM "AuditEvent" a
         WHERE a."organizationId" = target.id${conditions.map((condition) => ` AND ${condition}`).join("")}
         ORDER BY a."createdAt" ${order}, a.id ${order}
         LIMIT ${add(size + 1)}) e`,
      ...params,
    )) as AuditEvent[];
    const grouped = new Map<string, AuditEvent[]>();
    for (const row of rows) {
      const list = grouped.get(row.organizationId!);
      if (list) list.push(row);
      else grouped.set(row.organizationId!, [row]);
    }
    const pages = new Map<string, AuditPage>();
    for (const organizationId of organizationIds) {
      // The cursor is encoded only when a client asks for it.
      const page = pageFrom(grouped.get(organizationId) ?? [], size, backward, args, (node) => ({
        node,
        get cursor() {
          return encodeCursor(node.id);
        },
      }));
      pages.set(organizationId, { ...page, countKey: auditCountKey(organizationId, args.action) });
    }
    return pages;
  };

  const loadCounts = async (organizationIds: string[], args: AuditPageArgs): Promise<Map<string, number>> => {
    const rows = (await prisma.$queryRawUnsafe(
      `SELECT "organizationId", count(*)::int AS n FROM "AuditEvent"
        WHERE "organizationId" = ANY($1::uuid[])${args.action ? ` AND action = $2` : ""}
        GROUP BY "organizationId"`,
      ...(args.action ? [organizationIds, args.action] : [organizationIds]),
    )) as { organizationId: string; n: number }[];
    return new Map(rows.map((row) => [row.organizationId, Number(row.n)]));
  };

  const emptyPage = (key: AuditKey): AuditPage => ({
    edges: [],
    pageInfo: { hasNextPage: key.args.before != null, hasPreviousPage: key.args.after != null, startCursor: null, endCursor: null },
    countKey: auditCountKey(key.organizationId, key.args.action),
  });
  return {
    pages: new DataLoader(byShape((ids, key: AuditKey) => loadPages(ids, key.args), emptyPage), { cacheKeyFn: shapedCacheKey }),
    counts: new DataLoader(byShape((ids, key: AuditKey) => loadCounts(ids, key.args), () => 0), { cacheKeyFn: shapedCacheKey }),
  };
}
