// Wacht's organization members (../shared/replaced-apis/002_…): change a membership's role, and
// the list, get and remove around it. snake_case, ids as strings, a member addressed by its
// membership id, the user with their emails and phones, the role with its permissions. Served at
// /compat/wacht.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { RestError, graphqlDocument, rawId, ref, timestamp, uuid, type Json, type Profile, type Route, type Run, type Schema } from "../route.js";
import { changeRoleRoute, cursorPage, object, PAGE_QUERY, removeMemberRoute, type Page } from "./shared.js";

const string: Schema = { type: "string" };
const nullableString: Schema = { type: ["string", "null"] };
const dateTime: Schema = { type: "string", format: "date-time" };
const nullableDateTime: Schema = { type: ["string", "null"], format: "date-time" };

const schemas: Record<string, Schema> = {
  UserEmailAddress: object({ id: string, email: string, is_primary: { type: "boolean" }, is_verified: { type: "boolean" }, verified_at: nullableDateTime }, "One of the user's email addresses."),
  UserPhoneNumber: object({ id: string, phone_number: string, is_primary: { type: "boolean" }, is_verified: { type: "boolean" }, verified_at: nullableDateTime }, "One of the user's phone numbers."),
  SocialConnection: object(
    { provider: string, enabled: { type: "boolean" }, client_id: nullableString, scopes: { type: "array", items: string }, redirect_uri: nullableString },
    "A social sign-in connection. This service keeps none: the list is always empty.",
  ),
  User: object(
    {
      id: string,
      email: string,
      username: nullableString,
      first_name: nullableString,
      last_name: nullableString,
      created_at: nullableDateTime,
      updated_at: nullableDateTime,
      is_active: { type: "boolean" },
      emails: { type: "array", items: ref("UserEmailAddress") },
      phones: { type: "array", items: ref("UserPhoneNumber") },
      social_connections: { type: "array", items: ref("SocialConnection"), maxItems: 0 },
    },
    "The member's user. Until a member added by someone else accepts, only the address they were added with is shown (`id` is the membership's).",
  ),
  Role: object(
    { id: string, name: string, description: nullableString, permissions: { type: "array", items: string }, is_default: { type: "boolean" }, created_at: dateTime },
    "The member's role, with this service's permission names (members:update, …).",
  ),
  OrganizationMember: object(
    { id: string, user_id: string, organization_id: string, role_id: string, joined_at: dateTime, user: ref("User"), role: ref("Role") },
    "An organization membership.",
  ),
  OrganizationMemberList: object(
    { data: { type: "array", items: ref("OrganizationMember") }, has_more: { type: "boolean" }, next_cursor: { type: ["string", "null"], description: "Pass as `cursor` for the next page; null on the last" } },
    "A page of an organization's members, oldest membership first.",
  ),
};

const MEMBER_FIELDS = `
fragment WachtMember on Member {
  id version joinedAt
  organization { id }
  user { id email username firstName lastName createdAt updatedAt status emails { id email isPrimary isVerified verifiedAt } phones { id phoneNumber isPrimary isVerified verifiedAt } }
  role { id name description permissions isDefault createdAt }
}`;

const LIST = graphqlDocument(`query WachtListMembers($organizationId: ID!, $first: Int!, $after: String) {
  organization(id: $organizationId) {
    members(first: $first, after: $after, orderBy: { field: JOINED_AT, direction: ASC }) { pageInfo { hasNextPage endCursor } edges { node { ...WachtMember } } }
  }
}${MEMBER_FIELDS}`);

// $full: the membership as the routes answer it (GET), or only what a change needs to check first.
const FIND = graphqlDocument(`query WachtFindMember($memberId: ID!, $full: Boolean!) {
  node(id: $memberId) { ... on Member { id organization { id } ...WachtMember @include(if: $full) } }
}${MEMBER_FIELDS}`);

const UPDATE_ROLE = graphqlDocument(`mutation WachtUpdateMemberRole($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { member { ...WachtMember } } }${MEMBER_FIELDS}`);


type Stamp = string | null;
type GraphQLMember = {
  id: string;
  version: number;
  joinedAt: string;
  organization: { id: string };
  user: {
    id: string;
    email: string;
    username: string | null;
    firstName: string | null;
    lastName: string | null;
    createdAt: Stamp;
    updatedAt: Stamp;
    status: string;
    emails: { id: string; email: string; isPrimary: boolean; isVerified: boolean; verifiedAt: Stamp }[];
    phones: { id: string; phoneNumber: string; isPrimary: boolean; isVerified: boolean; verifiedAt: Stamp }[];
  };
  role: { id: string; name: string; description: string | null; permissions: string[]; isDefault: boolean; createdAt: string };
};

function membership(member: GraphQLMember): Json {
  const { user, role } = member;
  return {
    id: rawId(member.id),
    user_id: rawId(user.id),
    organization_id: rawId(member.organization.id),
    role_id: rawId(role.id),
    joined_at: timestamp(member.joinedAt),
    user: {
      id: rawId(user.id),
      email: user.email,
      username: user.username,
      first_name: user.firstName,
      last_name: user.lastName,
      created_at: timestamp(user.createdAt),
      updated_at: timestamp(user.updatedAt),
      is_active: user.status === "ACTIVE",
      emails: user.emails.map((email) => ({ id: rawId(email.id), email: email.email, is_primary: email.isPrimary, is_verified: email.isVerified, verified_at: timestamp(email.verifiedAt) })),
      phones: user.phones.map((phone) => ({ id: rawId(phone.id), phone_number: phone.phoneNumber, is_primary: phone.isPrimary, is_verified: phone.isVerified, verified_at: timestamp(phone.verifiedAt) })),
      social_connections: [],
    },
    role: { id: rawId(role.id), name: role.name, description: role.description, permissions: role.permissions, is_default: role.isDefault, created_at: timestamp(role.createdAt) },
  };
}

const answer = (member: GraphQLMember) => ({ body: membership(member), headers: { etag: `"${member.version}"` } });
const orgParam = { organization_id: { ...uuid, description: "The organization's id" } };
const memberParams = { ...orgParam, membership_id: { ...uuid, description: "The membership's id" } };

/** The membership, if it is one of this organization's (another organization's answers as one that doesn't exist). */
async function lookUp(run: Run, path: Record<string, string>, full: boolean): Promise<GraphQLMember> {
  const data = await run(FIND, { memberId: encodeGlobalID("Member", path.membership_id!), full });
  const member = data.node as GraphQLMember | null;
  if (!member?.organization || rawId(member.organization.id) !== path.organization_id!.toLowerCase()) throw new RestError(404, "NOT_FOUND", "Member not found");
  return member;
}
const findMember = (run: Run, path: Record<string, string>) => lookUp(run, path, true);
const findMemberId = (run: Run, path: Record<string, string>) => lookUp(run, path, false);

const routes: Route[] = [
  {
    method: "GET",
    path: "/organizations/{organization_id}/members",
    operationId: "listOrganizationMembers",
    summary: "List organization members",
    description: "The organization's members, oldest membership first, `limit` at a time (default 50, at most 100).",
    params: orgParam,
    query: PAGE_QUERY,
    status: 200,
    response: ref("OrganizationMemberList"),
    errors: [400, 403, 404],
    documents: [LIST],
    async handle({ path, query }, run) {
      const data = await run(LIST, { organizationId: encodeGlobalID("Organization", path.organization_id!), first: query.limit ?? 50, after: query.cursor ?? null });
      if (!data.organization) throw new RestError(404, "NOT_FOUND", "Organization not found");
      return { body: cursorPage(data.organization.members as Page<GraphQLMember>, membership) };
    },
  },
  {
    method: "GET",
    path: "/organizations/{organization_id}/members/{membership_id}",
    operationId: "getOrganizationMember",
    summary: "Get an organization member",
    description: "One membership, with an ETag for If-Match.",
    params: memberParams,
    status: 200,
    response: ref("OrganizationMember"),
    errors: [400, 404],
    documents: [FIND],
    handle: async ({ path }, run) => answer(await findMember(run, path)),
  },
  changeRoleRoute<GraphQLMember>({
    method: "PATCH",
    path: "/organizations/{organization_id}/members/{membership_id}",
    operationId: "updateOrganizationMember",
    summary: "Update a member’s role in an organization",
    description: "Member updated successfully. Needs members:update; a role above your own, or the owner role, is refused as over GraphQL.",
    params: memberParams,
    roleField: "role_id",
    document: UPDATE_ROLE,
    response: ref("OrganizationMember"),
    serialize: membership,
    finds: [FIND],
    findMember: findMemberId,
  }),
  removeMemberRoute({
    path: "/organizations/{organization_id}/members/{membership_id}",
    operationId: "removeOrganizationMember",
    summary: "Remove a member from an organization",
    description: "Needs members:delete; the last owner can't be removed (409 LAST_OWNER).",
    params: memberParams,
    finds: [FIND],
    findMember: findMemberId,
  }),
];

export const wacht: Profile = {
  name: "wacht",
  title: "Membership Graph — Wacht-compatible organization members API",
  description:
    "Wacht's organization member endpoints (`/organizations/{organization_id}/members/{membership_id}`), with their snake_case JSON, served by Membership Graph. Every call runs through the GraphQL API with your token: the same permissions, rate limits and audit.",
  schemas,
  routes,
};
