// What several profiles share: object schemas, cursor pages, If-Match as expectedVersion, and the
// routes that change a member's role and remove a member, which differ only in how the member is found.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { RestError, graphqlDocument, uuid, type Document, type Json, type Route, type Run, type Schema } from "../route.js";

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

/** How a profile finds the member a route names (404 when it is not one the caller may see there). */
type FindMember = (run: Run, path: Record<string, string>) => Promise<{ id: string }>;

interface MemberRouteSpec {
  path: string;
  operationId: string;
  summary: string;
  description: string;
  params: Route["params"];
  /** The documents findMember runs. */
  finds: Document[];
  findMember: FindMember;
}

const REMOVE_MEMBER = graphqlDocument(`mutation RestRemoveMember($input: RemoveMemberInput!) { removeMember(input: $input) { removedMemberId } }`);

/** DELETE of a member: 204, as removeMember (the last owner: 409 LAST_OWNER), If-Match as expectedVersion. */
export const removeMemberRoute = (spec: MemberRouteSpec): Route => ({
  method: "DELETE",
  path: spec.path,
  operationId: spec.operationId,
  summary: spec.summary,
  description: spec.description,
  params: spec.params,
  headers: IF_MATCH,
  status: 204,
  fields: { expectedVersion: "If-Match" },
  errors: [400, 403, 404, 409, 412],
  documents: [...spec.finds, REMOVE_MEMBER],
  async handle({ path, headers }, run) {
    const version = expectedVersion(headers);
    const found = await spec.findMember(run, path);
    await run(REMOVE_MEMBER, { input: { memberId: found.id, ...version } });
    return { body: null };
  },
});

/** PATCH of a member's role ({ <roleField>: uuid }), as updateMemberRole: the document's `updateMemberRole.member` answered by `serialize`. */
export const changeRoleRoute = <T extends { version: number }>(
  spec: MemberRouteSpec & { method: "PATCH" | "PUT"; roleField: string; document: Document; response: Schema; serialize: (member: T) => Json; bodyDescription?: string },
): Route => ({
  method: spec.method,
  path: spec.path,
  operationId: spec.operationId,
  summary: spec.summary,
  description: spec.description,
  params: spec.params,
  body: { type: "object", ...(spec.bodyDescription ? { description: spec.bodyDescription } : {}), required: [spec.roleField], additionalProperties: false, properties: { [spec.roleField]: uuid } },
  headers: IF_MATCH,
  status: 200,
  response: spec.response,
  fields: { roleId: spec.roleField, expectedVersion: "If-Match" },
  errors: [400, 403, 404, 409, 412],
  documents: [...spec.finds, spec.document],
  async handle({ path, body, headers }, run) {
    const version = expectedVersion(headers);
    const found = await spec.findMember(run, path);
    const data = await run(spec.document, { input: { memberId: found.id, roleId: encodeGlobalID("Role", String(body[spec.roleField])), ...version } });
    const member = data.updateMemberRole.member as T;
    return { body: spec.serialize(member), headers: { etag: `"${member.version}"` } };
  },
});
