// What several profiles share: object schemas, cursor pages, If-Match as expectedVersion.
import { RestError, type Json, type Schema } from "../route.js";

/** An object schema whose every property is required and no other is allowed (answers always carry each field, null when there's no value). */
export const object = (properties: Record<string, Schema>, description: string): Schema => ({
  type: "object",
  description,
  required: Object.keys(properties),
  additionalProperties: false,
  properties,
});

/** `limit` and `cursor`: a list's page, as the GraphQL API pages (by cursor, not offset). */
export const PAGE_QUERY: Record<string, Schema & { description: string }> = {
  limit: { type: "integer", minimum: 1, maximum: 100, description: "Members per page (default 50)" },
  cursor: { type: "string", maxLength: 500, description: "The `next_cursor` of the previous page" },
};

export interface Page<T> {
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: { node: T }[];
}

/** A GraphQL connection as `{ data, has_more, next_cursor }`. */
export const cursorPage = <T>(page: Page<T>, serialize: (node: T) => Json): Json => ({
  data: page.edges.map((edge) => serialize(edge.node)),
  has_more: page.pageInfo.hasNextPage,
  next_cursor: page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null,
});

export const IF_MATCH = { "If-Match": { description: "The ETag of a GET: the change is refused with 412 (STALE_VERSION) if the member changed since", schema: { type: "string" } } };

/** If-Match: "<version>" (from a GET's ETag) as the mutation's expectedVersion. */
export function expectedVersion(headers: Headers): { expectedVersion?: number } {
  const value = headers.get("if-match");
  if (value === null || value.trim() === "*") return {};
  const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(value);
  if (!match) throw new RestError(400, "BAD_USER_INPUT", 'If-Match must be an ETag this API sent (e.g. "3")', "If-Match");
  return { expectedVersion: Number(match[1]) };
}
