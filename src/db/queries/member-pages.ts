// Organization.members, the hottest list, loaded through lean SQL: one statement returns the
// requested page of every organization on the page (a LATERAL join per organization, with
// each member's user and role as plain columns), and one grouped statement counts them when
// totalCount is asked for. plugin-prisma's nested loading builds the same result from JSON
// aggregates, which costs the database and the process several times more (see README,
// "Performance").
import { createHash } from "node:crypto";
import DataLoader from "dataloader";
import type { Member, Role, User } from "../../generated/prisma/client.js";
import type { Database } from "../client.js";
import { invalid } from "../../core/errors.js";
import { UUID_PATTERN, unstorableText } from "../../core/text.js";
import { byShape, pageFrom, shapedCacheKey } from "./by-shape.js";
import { columnsOf, rowOf, selectList } from "./columns.js";

export type MemberOrderField = "JOINED_AT" | "EMAIL" | "FIRST_NAME" | "LAST_NAME";

export interface MemberFilterInput {
  roleIds?: readonly string[] | null;
  /** Members assigned to any of these locations. */
  locationIds?: readonly string[] | null;
  status?: "ACTIVE" | "SUSPENDED" | "PENDING" | null;
  search?: string | null;
  /** Accepted memberships of these users only (not PENDING: those are known by their address). */
  userIds?: readonly string[] | null;
}

export interface MemberPageArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
  filter?: MemberFilterInput | null;
  orderBy?: { field: MemberOrderField; direction?: "asc" | "desc" | null } | null;
}

/** A member with its user and role preloaded (lean SQL and plugin-prisma's `include` both give it). */
export type MemberRow = Member & { user: User; role: Role };

/** Whether this member came with its user and role (then Member.user and Member.role need no query). */
export function isPreloaded(member: Member): member is MemberRow {
  return "user" in member && "role" in member && Boolean((member as Partial<MemberRow>).user && (member as Partial<MemberRow>).role);
}

interface MemberPage {
  /** Set when the key asked for it: counted in the same statement as the page. */
  totalCount: number | null;
  edges: { cursor: string; node: MemberRow }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

const MEMBER_COLUMNS = columnsOf("Member");
const USER_COLUMNS = columnsOf("User");
const ROLE_COLUMNS = columnsOf("Role");

const SELECT_LIST = [...selectList("m", MEMBER_COLUMNS), ...selectList("u", USER_COLUMNS, "u_"), ...selectList("r", ROLE_COLUMNS, "r_")].join(", ");

// A member who hasn't accepted (PENDING) sorts and matches by the address they were added with,
// and has no name: the organization sees nothing else of them (stand-in-user.ts). Sorting or
// searching by the account's own email or name would let a caller bisect its way to them.
const PENDING = `m.status = 'PENDING'`;
const EMAIL_SEEN = `CASE WHEN ${PENDING} THEN m."pendingEmail" ELSE u.email END`;
const nameSeen = (column: string) => `CASE WHEN ${PENDING} THEN NULL ELSE u."${column}" END`;

/** The sort keys of each order, as SQL expressions with their cast for cursor values; the id breaks ties. */
const SORT_KEYS: Record<MemberOrderField, { sql: string; cast: string }[]> = {
  JOINED_AT: [{ sql: `m."joinedAt"`, cast: "timestamp(3)" }],
  EMAIL: [{ sql: EMAIL_SEEN, cast: "text" }],
  // Members without the name sort after those with one (and first when descending).
  FIRST_NAME: [{ sql: `(${nameSeen("firstName")} IS NULL)`, cast: "boolean" }, { sql: `COALESCE(${nameSeen("firstName")}, '')`, cast: "text" }],
  LAST_NAME: [{ sql: `(${nameSeen("lastName")} IS NULL)`, cast: "boolean" }, { sql: `COALESCE(${nameSeen("lastName")}, '')`, cast: "text" }],
};

/**
 * Joins the fields of a member's search text, "Member".search, which the database keeps (the
 * migration member_search_column): the user's email, first and last name, or the pendingEmail
 * while PENDING. A term without this character matches that text exactly when it matches one of
 * the fields, as the search always has; for a term with it, filterSql() checks the fields too.
 */
const SEARCH_SEPARATOR = "\u001f";

/** Whether filterSql() reads the member's user (`u`): only for a term the search text alone can't answer. */
function searchReadsUser(filter: MemberFilterInput | null | undefined): boolean {
  return Boolean(filter?.search?.trim().includes(SEARCH_SEPARATOR));
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** WHERE conditions for a filter (beyond the organization). */
function filterSql(filter: MemberFilterInput | null | undefined, params: Params): string[] {
  const conditions: string[] = [];
  if (!filter) return conditions;
  if (filter.roleIds) conditions.push(`m."roleId" = ANY(${params.add(filter.roleIds)}::uuid[])`);
  if (filter.locationIds) {
    conditions.push(
      `EXISTS (SELECT 1 FROM "MemberLocationRole" mlr WHERE mlr."memberId" = m.id AND mlr."locationId" = ANY(${params.add(filter.locationIds)}::uuid[]))`,
    );
  }
  if (filter.status) conditions.push(`m.status = ${params.add(filter.status)}::"MemberStatus"`);
  if (filter.userIds) conditions.push(`m."userId" = ANY(${params.add(filter.userIds)}::uuid[]) AND NOT ${PENDING}`);
  const search = filter.search?.trim();
  if (search) {
    const pattern = params.add(`%${escapeLike(search)}%`);
    // One scan of the index on ("organizationId", search) answers the page and the exact count.
    conditions.push(`m.search ILIKE ${pattern}`);
    if (search.includes(SEARCH_SEPARATOR)) {
      // Such a term could match across two fields of the text: the fields themselves decide.
      conditions.push(
        `(((u.email ILIKE ${pattern} OR u."firstName" ILIKE ${pattern} OR u."lastName" ILIKE ${pattern}) AND NOT ${PENDING}) OR (${PENDING} AND m."pendingEmail" ILIKE ${pattern}))`,
      );
    }
  }
  return conditions;
}

/**
 * The organizations to list, as a relation `target(id)`. A single organization is a plain
 * parameter, so the planner sees which one it is and uses its statistics (a 100,000-member
 * organization and a 50-member one deserve different plans); several come from unnest().
 */
function targetsSql(organizationIds: string[], params: Params): string {
  return organizationIds.length === 1
    ? `(SELECT ${params.add(organizationIds[0])}::uuid AS id) AS target`
    : `unnest(${params.add(organizationIds)}::uuid[]) AS target(id)`;
}

function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString("base64url");
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Whether a cursor value is one PostgreSQL takes as this cast (what sortValue() writes for it). */
function fitsCast(value: unknown, cast: string): boolean {
  switch (cast) {
    case "timestamp(3)": {
      // As toISOString() writes it, a real date (no 2024-02-30), and no year 0 (PostgreSQL has none).
      const time = typeof value === "string" && ISO_TIMESTAMP.test(value) ? Date.parse(value) : Number.NaN;
      return Number.isFinite(time) && new Date(time).toISOString() === value && !value.startsWith("0000");
    }
    case "uuid":
      return typeof value === "string" && UUID_PATTERN.test(value);
    case "boolean":
      return typeof value === "boolean";
    case "text":
      return typeof value === "string" && unstorableText(value) === null;
    default:
      return false;
  }
}

/** The sort-key values of a cursor of this order, each checked against its key's type, so a forged one never reaches SQL. */
function decodeCursor(cursor: string, keys: readonly { cast: string }[], field: string): unknown[] {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    values = null;
  }
  if (Array.isArray(values) && values.length === keys.length && values.every((value, i) => fitsCast(value, keys[i]!.cast))) return values;
  throw invalid(field, `${field} is not a cursor of this list (cursors depend on orderBy)`);
}

function sortValue(row: Record<string, unknown>, index: number): unknown {
  const value = row[`k${index}`];
  return value instanceof Date ? value.toISOString() : value;
}

/** Rebuilds a member with its user and role; rows of one role share one role object. */
function toMember(row: Record<string, unknown>, roles: Map<string, Role>): MemberRow {
  let role = roles.get(row.r_id as string);
  if (!role) {
    role = rowOf<Role>(row, ROLE_COLUMNS, "r_");
    roles.set(role.id, role);
  }
  return { ...rowOf<Member>(row, MEMBER_COLUMNS), user: rowOf<User>(row, USER_COLUMNS, "u_"), role };
}

export function validatePageArgs(args: MemberPageArgs, maxPageSize: number, defaultPageSize: number) {
  if (args.first != null && args.last != null) throw invalid("first", "Pass first or last, not both");
  if (args.after != null && args.before != null) throw invalid("after", "Pass after or before, not both");
  if (args.first != null && args.before != null) throw invalid("before", "before goes with last, not first");
  if (args.last != null && args.after != null) throw invalid("after", "after goes with first, not last");
  for (const name of ["first", "last"] as const) {
    const value = args[name];
    if (value != null && (value < 0 || value > maxPageSize)) {
      throw invalid(name, `${name} must be between 0 and ${maxPageSize}`);
    }
  }
  const backward = args.last != null || args.before != null;
  return { backward, size: args.first ?? args.last ?? defaultPageSize };
}

export interface PageKey {
  organizationId: string;
  args: MemberPageArgs;
  /** Count the members matching the filter in the same statement. */
  withCount: boolean;
  /** Identical for keys whose arguments are the same, so they share one statement. */
  shape: string;
}

export function pageKey(organizationId: string, args: MemberPageArgs, withCount = false): PageKey {
  const shape = createHash("sha1").update(JSON.stringify([args.first, args.last, args.after, args.before, args.filter, args.orderBy, withCount])).digest("hex");
  return { organizationId, args, withCount, shape };
}

/** A count of an organization's members matching a filter: pagination doesn't change it. */
export function countKey(organizationId: string, filter: MemberFilterInput | null | undefined): PageKey {
  const args = { filter: filter ?? null };
  return { organizationId, args, withCount: true, shape: createHash("sha1").update(JSON.stringify(["count", args.filter])).digest("hex") };
}

export interface MemberPageLoaders {
  pages: DataLoader<PageKey, MemberPage, string>;
  /** Keyed by countKey(): Organization.memberCount and members' totalCount share it. */
  counts: DataLoader<PageKey, number, string>;
}

export function createMemberPageLoaders(query: Database["query"], limits: { maxPageSize: number; defaultPageSize: number }): MemberPageLoaders {
  const loadPages = async (organizationIds: string[], args: MemberPageArgs, withCount: boolean): Promise<Map<string, MemberPage>> => {
    const { backward, size } = validatePageArgs(args, limits.maxPageSize, limits.defaultPageSize);
    const params = new Params();
    const targets = targetsSql(organizationIds, params);
    const filters = filterSql(args.filter, params);
    const conditions = [...filters];
    const keys = [...SORT_KEYS[args.orderBy?.field ?? "JOINED_AT"], { sql: "m.id", cast: "uuid" }];
    const descending = (args.orderBy?.direction ?? "asc") === "desc";
    // Walking backward reads the list in reverse and flips the page afterwards.
    const reverse = descending !== backward;
    const cursor = args.after ?? args.before;
    if (cursor) {
      const values = decodeCursor(cursor, keys, args.after ? "after" : "before");
      const placeholders = values.map((value, i) => `${params.add(value)}::${keys[i]!.cast}`);
      conditions.push(`(${keys.map((k) => k.sql).join(", ")}) ${reverse ? "<" : ">"} (${placeholders.join(", ")})`);
    }
    const limit = params.add(size + 1);
    // The count (when asked for) is one aggregate per organization beside its page: it reads the
    // index on "organizationId" (or, searching, on it with the search text), never the rows of
    // other pages, and users only for the rare term the search text can't answer alone.
    const count = withCount
      ? `CROSS JOIN LATERAL (SELECT count(*)::int AS total FROM "Member" m${searchReadsUser(args.filter) ? ` JOIN "User" u ON u.id = m."userId"` : ""}
           WHERE m."organizationId" = target.id${filters.map((c) => ` AND ${c}`).join("")}) c`
      : "";
    const sql = `SELECT target.id AS "targetId", ${withCount ? "c.total" : "NULL::int AS total"}, x.*
        FROM ${targets} ${count}
        LEFT JOIN LATERAL (
        SELECT ${SELECT_LIST}, ${keys.map((k, i) => `${k.sql} AS k${i}`).join(", ")}
          FROM "Member" m JOIN "User" u ON u.id = m."userId" JOIN "Role" r ON r.id = m."roleId"
         WHERE m."organizationId" = target.id${conditions.map((c) => ` AND ${c}`).join("")}
         ORDER BY ${keys.map((k) => `${k.sql} ${reverse ? "DESC" : "ASC"}`).join(", ")}
         LIMIT ${limit}) x ON true`;
    const rows = await query(sql, params.values);
    const grouped = new Map<string, Record<string, unknown>[]>();
    const totals = new Map<string, number>();
    for (const row of rows) {
      const target = row.targetId as string;
      if (row.total !== null && row.total !== undefined) totals.set(target, Number(row.total));
      if (row.id === null) continue; // an organization with no (more) matching members
      const list = grouped.get(target);
      if (list) list.push(row);
      else grouped.set(target, [row]);
    }
    const roles = new Map<string, Role>();
    const pages = new Map<string, MemberPage>();
    for (const organizationId of organizationIds) {
      const page = pageFrom(grouped.get(organizationId) ?? [], size, backward, args, (row) => {
        const node = toMember(row, roles);
        // The cursor is encoded only when a client asks for it.
        return {
          node,
          get cursor() {
            return encodeCursor(keys.map((_, i) => sortValue(row, i)));
          },
        };
      });
      pages.set(organizationId, { totalCount: withCount ? (totals.get(organizationId) ?? 0) : null, ...page });
    }
    return pages;
  };

  const loadCounts = async (organizationIds: string[], args: MemberPageArgs): Promise<Map<string, number>> => {
    const params = new Params();
    const orgs = params.add(organizationIds);
    const conditions = filterSql(args.filter, params);
    const joinUser = searchReadsUser(args.filter) ? `JOIN "User" u ON u.id = m."userId"` : "";
    const rows = await query<{ organizationId: string; n: number }>(
      `SELECT m."organizationId", count(*)::int AS n FROM "Member" m ${joinUser}
        WHERE m."organizationId" = ANY(${orgs}::uuid[])${conditions.map((c) => ` AND ${c}`).join("")}
        GROUP BY m."organizationId"`,
      params.values,
    );
    return new Map(rows.map((row) => [row.organizationId, Number(row.n)]));
  };

  return {
    pages: new DataLoader(byShape((ids, key: PageKey) => loadPages(ids, key.args, key.withCount), () => ({ totalCount: null, edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } })), { cacheKeyFn: shapedCacheKey }),
    counts: new DataLoader(byShape((ids, key: PageKey) => loadCounts(ids, key.args), () => 0), { cacheKeyFn: shapedCacheKey }),
  };
}
