// Piper's member API (../shared/replaced-apis/000_… and 001_…): add a member by email, change a
// member's role, and the list, get and remove a client of it needs around them. snake_case, raw
// UUIDs, a member addressed by its **user's** id. Served at /compat/piper.
import { RestError, graphqlDocument, rawId, ref, timestamp, uuid, type Json, type Profile, type Route, type Run, type Schema } from "../route.js";
import { encodeGlobalID } from "@pothos/plugin-relay";
import { changeRoleRoute, cursorPage, object, PAGE_QUERY, removeMemberRoute, type Page } from "./shared.js";

const nullableString: Schema = { type: ["string", "null"] };
const dateTime: Schema = { type: "string", format: "date-time" };
const nullableDateTime: Schema = { type: ["string", "null"], format: "date-time" };
const nullableUuid: Schema = { type: ["string", "null"], format: "uuid" };

const schemas: Record<string, Schema> = {
  RoleInfo: object({ id: uuid, name: { type: "string" }, is_system: { type: "boolean" } }, "Basic role information for member responses."),
  UserRead: object(
    {
      email: { type: "string" },
      first_name: nullableString,
      last_name: nullableString,
      id: uuid,
      is_active: { type: "boolean" },
      timezone: nullableString,
      created_at: nullableDateTime,
      updated_at: nullableDateTime,
      status: { type: "string", enum: ["active", "invited", "suspended"] },
      invited_at: nullableDateTime,
    },
    "Schema for reading user data (response). Until a member added by someone else accepts, only their email is shown (the other fields are null, `id` is the member's)",
  ),
  OrganizationRead: object(
    {
      name: { type: "string" },
      id: uuid,
      business_information: nullableString,
      timezone: { type: "string" },
      created_by_user_id: nullableUuid,
      owner_user_id: nullableUuid,
      created_at: dateTime,
      updated_at: dateTime,
    },
    "Schema for reading organization data (response).",
  ),
  OrganizationMemberRead: object(
    {
      id: uuid,
      user_id: uuid,
      organization_id: uuid,
      role_id: uuid,
      created_at: dateTime,
      role: ref("RoleInfo"),
      user: ref("UserRead"),
      organization: ref("OrganizationRead"),
    },
    "Schema for reading organization member data.",
  ),
  OrganizationMemberList: object(
    {
      data: { type: "array", items: ref("OrganizationMemberRead") },
      has_more: { type: "boolean" },
      next_cursor: { type: ["string", "null"], description: "Pass as `cursor` for the next page; null on the last" },
    },
    "A page of an organization's members, oldest membership first.",
  ),
};

const MEMBER_FIELDS = `
fragment PiperMember on Member {
  id version createdAt
  user { id email firstName lastName status timezone createdAt updatedAt invitedAt }
  role { id name isSystem }
  organization { id name businessInformation timezone createdBy { id } owner { id } createdAt updatedAt }
}`;

const LIST = graphqlDocument(`query PiperListMembers($organizationId: ID!, $first: Int!, $after: String) {
  organization(id: $organizationId) {
    members(first: $first, after: $after, orderBy: { field: JOINED_AT, direction: ASC }) {
      pageInfo { hasNextPage endCursor }
      edges { node { ...PiperMember } }
    }
  }
}${MEMBER_FIELDS}`);

// $full: the member as the routes answer it (GET), or only its id (before a change, whose answer
// the mutation gives). $pending: also look for a pending member by the id this API showed for
// it — asked only when no accepted member was found, so that the usual case costs one lookup.
const FIND = graphqlDocument(`query PiperFindMember($organizationId: ID!, $userId: ID!, $memberId: ID!, $full: Boolean!, $pending: Boolean!) {
  organization(id: $organizationId) {
    id
    members(filter: { userIds: [$userId] }, first: 1) { edges { node { id ...PiperMember @include(if: $full) } } }
  }
  pending: node(id: $memberId) @include(if: $pending) { ... on Member { id status organization { id } user { id } ...PiperMember @include(if: $full) } }
}${MEMBER_FIELDS}`);

const ADD = graphqlDocument(`mutation PiperAddMember($input: AddMemberInput!) {
  addMember(input: $input) { member { ...PiperMember } }
}${MEMBER_FIELDS}`);

const UPDATE_ROLE = graphqlDocument(`mutation PiperUpdateMemberRole($input: UpdateMemberRoleInput!) {
  updateMemberRole(input: $input) { member { ...PiperMember } }
}${MEMBER_FIELDS}`);


type GraphQLMember = {
  id: string;
  version: number;
  createdAt: string;
  status?: string;
  user: { id: string; email: string; firstName: string | null; lastName: string | null; status: string; timezone: string | null; createdAt: string | null; updatedAt: string | null; invitedAt: string | null };
  role: { id: string; name: string; isSystem: boolean };
  organization: { id: string; name: string; businessInformation: string | null; timezone: string; createdBy: { id: string } | null; owner: { id: string } | null; createdAt: string; updatedAt: string };
};

/** A member as Piper's OrganizationMemberRead. */
function memberRead(member: GraphQLMember): Json {
  const { user, role, organization } = member;
  return {
    id: rawId(member.id),
    user_id: rawId(user.id),
    organization_id: rawId(organization.id),
    role_id: rawId(role.id),
    created_at: timestamp(member.createdAt),
    role: { id: rawId(role.id), name: role.name, is_system: role.isSystem },
    user: {
      email: user.email,
      first_name: user.firstName,
      last_name: user.lastName,
      id: rawId(user.id),
      is_active: user.status === "ACTIVE",
      timezone: user.timezone,
      created_at: timestamp(user.createdAt),
      updated_at: timestamp(user.updatedAt),
      status: user.status.toLowerCase(),
      invited_at: timestamp(user.invitedAt),
    },
    organization: {
      name: organization.name,
      id: rawId(organization.id),
      business_information: organization.businessInformation,
      timezone: organization.timezone,
      created_by_user_id: rawId(organization.createdBy?.id),
      owner_user_id: rawId(organization.owner?.id),
      created_at: timestamp(organization.createdAt),
      updated_at: timestamp(organization.updatedAt),
    },
  };
}

const orgParam = { org_id: { ...uuid, description: "The organization's id" } };
const memberParams = { ...orgParam, user_id: { ...uuid, description: "The member's user id (for a member who hasn't accepted yet: the `user.id` this API showed, which is the member's id)" } };
/** A member as the answer of a route: the body, and its version as the ETag for If-Match. */
const answer = (member: GraphQLMember) => ({ body: memberRead(member), headers: { etag: `"${member.version}"` } });
const organizationId = (path: Record<string, string>) => encodeGlobalID("Organization", path.org_id!);

/** The member of the organization whose user id this is: an accepted member, or one pending (known by the id this API showed for it). */
async function lookUp(run: Run, path: Record<string, string>, full: boolean): Promise<GraphQLMember> {
  const variables = { organizationId: organizationId(path), userId: encodeGlobalID("User", path.user_id!), memberId: encodeGlobalID("Member", path.user_id!), full };
  const data = await run(FIND, { ...variables, pending: false });
  if (!data.organization) throw new RestError(404, "NOT_FOUND", "Organization not found");
  const accepted = data.organization.members.edges[0]?.node as GraphQLMember | undefined;
  if (accepted) return accepted;
  const pending = (await run(FIND, { ...variables, pending: true })).pending as GraphQLMember | null;
  if (pending?.status === "PENDING" && pending.organization.id === data.organization.id && rawId(pending.user.id) === rawId(pending.id)) return pending;
  throw new RestError(404, "NOT_FOUND", "Member not found");
}
/** The member a route names, as answered (GET). */
const findMember = (run: Run, path: Record<string, string>) => lookUp(run, path, true);
/** Only its id, before a change. */
const findMemberId = (run: Run, path: Record<string, string>) => lookUp(run, path, false);

const routes: Route[] = [
  {
    method: "GET",
    path: "/v1/organizations/{org_id}/members",
    operationId: "listOrganizationMembers",
    summary: "List Organization Members",
    description: "The organization's members, oldest membership first, `limit` at a time (default 50, at most 100). Requires members:read permission.",
    params: orgParam,
    query: PAGE_QUERY,
    status: 200,
    response: ref("OrganizationMemberList"),
    errors: [400, 403, 404],
    documents: [LIST],
    async handle({ path, query }, run) {
      const data = await run(LIST, { organizationId: organizationId(path), first: query.limit ?? 50, after: query.cursor ?? null });
      if (!data.organization) throw new RestError(404, "NOT_FOUND", "Organization not found");
      return { body: cursorPage(data.organization.members as Page<GraphQLMember>, memberRead) };
    },
  },
  {
    method: "POST",
    path: "/v1/organizations/{org_id}/members",
    operationId: "addOrganizationMember",
    summary: "Add Organization Member",
    description:
      "Adds a member by email with a role. Someone who holds no account yet, or who hasn't accepted, is a pending member until they accept. Requires members:create permission. An Idempotency-Key header makes a retry return the first answer instead of failing.",
    params: orgParam,
    body: {
      type: "object",
      description: "Schema for adding a member to an organization.",
      required: ["email", "role_id"],
      additionalProperties: false,
      properties: { email: { type: "string", maxLength: 320 }, role_id: { ...uuid, description: "Role ID to assign to the member" } },
    },
    headers: { "Idempotency-Key": { description: "Retries with the same key (and body) within 24 hours get the first answer", schema: { type: "string", maxLength: 200 } } },
    status: 201,
    response: ref("OrganizationMemberRead"),
    fields: { roleId: "role_id", email: "email", idempotencyKey: "Idempotency-Key" },
    errors: [400, 403, 404, 409],
    documents: [ADD],
    async handle({ path, body, headers }, run) {
      const key = headers.get("idempotency-key");
      const data = await run(ADD, {
        input: { organizationId: organizationId(path), email: body.email, roleId: encodeGlobalID("Role", String(body.role_id)), ...(key !== null ? { idempotencyKey: key } : {}) },
      });
      return answer(data.addMember.member as GraphQLMember);
    },
  },
  {
    method: "GET",
    path: "/v1/organizations/{org_id}/members/{user_id}",
    operationId: "getOrganizationMember",
    summary: "Get Organization Member",
    description: "One member, by their user id. Its ETag goes in If-Match of a PATCH or DELETE. Requires members:read permission.",
    params: memberParams,
    status: 200,
    response: ref("OrganizationMemberRead"),
    errors: [400, 404],
    documents: [FIND],
    async handle({ path }, run) {
      return answer(await findMember(run, path));
    },
  },
  changeRoleRoute<GraphQLMember>({
    method: "PATCH",
    path: "/v1/organizations/{org_id}/members/{user_id}",
    operationId: "updateOrganizationMember",
    summary: "Update Organization Member",
    description: "Update a member’s role in the organization. Requires members:update permission; a role above your own, or the owner role, is refused as over GraphQL.",
    bodyDescription: "Schema for updating a member's role.",
    params: memberParams,
    roleField: "role_id",
    document: UPDATE_ROLE,
    response: ref("OrganizationMemberRead"),
    serialize: memberRead,
    finds: [FIND],
    findMember: findMemberId,
  }),
  removeMemberRoute({
    path: "/v1/organizations/{org_id}/members/{user_id}",
    operationId: "removeOrganizationMember",
    summary: "Remove Organization Member",
    description: "Removes the member. Requires members:delete permission; the last owner can't be removed (409 LAST_OWNER).",
    params: memberParams,
    finds: [FIND],
    findMember: findMemberId,
  }),
];

export const piper: Profile = {
  name: "piper",
  title: "Membership Graph — Piper-compatible members API",
  description:
    "Piper's organization member endpoints (`/v1/organizations/{org_id}/members…`), with their paths, bodies and snake_case JSON, served by Membership Graph. Every call runs through the GraphQL API with your token: the same permissions, rate limits and audit.",
  schemas,
  routes,
};
