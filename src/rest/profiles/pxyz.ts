// The pxyz auth service's organization memberships (../shared/replaced-apis/003_…): update one
// (role, private and public metadata), and list, get and delete in the same style. camelCase, a
// membership addressed by its id alone (what the caller may not see is not found). Served at
// /compat/pxyz.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { RestError, graphqlDocument, rawId, ref, timestamp, uuid, type Json, type Profile, type Route, type Run, type Schema } from "../route.js";
import { expectedVersion, IF_MATCH, object, PAGE_QUERY, removeMemberRoute, type Page } from "./shared.js";

const string: Schema = { type: "string" };
const nullableString: Schema = { type: ["string", "null"] };
const dateTime: Schema = { type: "string", format: "date-time" };
const nullableDateTime: Schema = { type: ["string", "null"], format: "date-time" };
const metadata: Schema = { type: "object", description: "A JSON object (this service keeps metadata as objects)" };

const schemas: Record<string, Schema> = {
  RoleCount: object({ users: { type: "integer" }, members: { type: "integer" } }, "How many members hold the role (users and members count the same here)."),
  Role: object(
    {
      id: string,
      name: string,
      description: nullableString,
      permissions: { type: "array", items: string },
      tenantId: { type: "null", description: "This service has no tenants: always null" },
      _count: ref("RoleCount"),
      createdAt: dateTime,
      updatedAt: dateTime,
    },
    "The membership's role.",
  ),
  User: object(
    { id: string, name: nullableString, identifier: string, imageUri: nullableString, createdAt: nullableDateTime, updatedAt: nullableDateTime },
    "The member's user; `identifier` is their primary email. Until a member added by someone else accepts, only that address is shown (`id` is the membership's).",
  ),
  OrganizationMembership: object(
    {
      id: string,
      organizationId: string,
      userId: string,
      roleId: string,
      role: ref("Role"),
      user: ref("User"),
      publicMeta: metadata,
      privateMeta: { type: ["object", "null"], description: "null unless you may read members' private metadata (members:read_private)" },
      createdAt: dateTime,
      updatedAt: dateTime,
    },
    "An organization membership.",
  ),
  OrganizationMembershipList: object(
    { data: { type: "array", items: ref("OrganizationMembership") }, hasMore: { type: "boolean" }, nextCursor: { type: ["string", "null"], description: "Pass as `cursor` for the next page; null on the last" } },
    "A page of an organization's memberships, oldest first.",
  ),
};

const MEMBER_FIELDS = `
fragment PxyzMember on Member {
  id version createdAt updatedAt publicMetadata
  privateMetadata @include(if: $private)
  organization { id viewerPermissions }
  user { id name email imageUrl createdAt updatedAt }
  role { id name description permissions memberCount createdAt updatedAt }
}`;

// Private metadata needs members:read_private, and asking for it without that fails the whole
// answer: each document takes $private, and is run again with it when the caller turns out to hold it.
const LIST = graphqlDocument(`query PxyzListMemberships($organizationId: ID!, $first: Int!, $after: String, $private: Boolean!) {
  organization(id: $organizationId) {
    viewerPermissions
    members(first: $first, after: $after, orderBy: { field: JOINED_AT, direction: ASC }) { pageInfo { hasNextPage endCursor } edges { node { ...PxyzMember } } }
  }
}${MEMBER_FIELDS}`);

const FIND = graphqlDocument(`query PxyzFindMembership($memberId: ID!, $private: Boolean!) { node(id: $memberId) { ... on Member { ...PxyzMember } } }${MEMBER_FIELDS}`);

// The role and the metadata in one request: mutations run in order, and one refused stops the
// ones after it, so a refused role change leaves the metadata as it was (and the request is
// authenticated and rate-limited once). An input left out still needs a value of its type.
const UPDATE = graphqlDocument(`mutation PxyzUpdateMembership($role: UpdateMemberRoleInput!, $meta: UpdateMemberInput!, $changeRole: Boolean!, $changeMeta: Boolean!, $private: Boolean!) {
  role: updateMemberRole(input: $role) @include(if: $changeRole) { member { ...PxyzMember } }
  meta: updateMember(input: $meta) @include(if: $changeMeta) { member { ...PxyzMember } }
}${MEMBER_FIELDS}`);


type Stamp = string | null;
type GraphQLMember = {
  id: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  publicMetadata: Record<string, Json>;
  privateMetadata?: Record<string, Json>;
  organization: { id: string; viewerPermissions: string[] };
  user: { id: string; name: string | null; email: string; imageUrl: string | null; createdAt: Stamp; updatedAt: Stamp };
  role: { id: string; name: string; description: string | null; permissions: string[]; memberCount: number | null; createdAt: string; updatedAt: string };
};

const READ_PRIVATE = "members:read_private";

function membership(member: GraphQLMember): Json {
  const { user, role } = member;
  const count = role.memberCount ?? 0;
  return {
    id: rawId(member.id),
    organizationId: rawId(member.organization.id),
    userId: rawId(user.id),
    roleId: rawId(role.id),
    role: {
      id: rawId(role.id),
      name: role.name,
      description: role.description,
      permissions: role.permissions,
      tenantId: null,
      _count: { users: count, members: count },
      createdAt: timestamp(role.createdAt),
      updatedAt: timestamp(role.updatedAt),
    },
    user: { id: rawId(user.id), name: user.name, identifier: user.email, imageUri: user.imageUrl, createdAt: timestamp(user.createdAt), updatedAt: timestamp(user.updatedAt) },
    publicMeta: member.publicMetadata,
    privateMeta: member.privateMetadata ?? null,
    createdAt: timestamp(member.createdAt),
    updatedAt: timestamp(member.updatedAt),
  };
}

const answer = (member: GraphQLMember) => ({ body: membership(member), headers: { etag: `"${member.version}"` } });
const idParam = { id: { ...uuid, description: "The membership's id" } };

/** The membership (with its private metadata when the caller may read it), or 404. */
async function findMember(run: Run, id: string): Promise<GraphQLMember> {
  const memberId = encodeGlobalID("Member", id);
  const read = async (withPrivate: boolean) => (await run(FIND, { memberId, private: withPrivate })).node as GraphQLMember | null;
  const member = await read(false);
  if (!member?.organization) throw new RestError(404, "NOT_FOUND", "Organization membership not found");
  return member.organization.viewerPermissions.includes(READ_PRIVATE) ? ((await read(true)) ?? member) : member;
}

const routes: Route[] = [
  {
    method: "GET",
    path: "/api/v0/auth/organization-members",
    operationId: "listOrganizationMemberships",
    summary: "Get all organizationMemberships",
    description: "An organization's memberships, oldest first, `limit` at a time (default 50, at most 100).",
    params: {},
    query: { organizationId: { ...uuid, description: "The organization" }, ...PAGE_QUERY },
    requiredQuery: ["organizationId"],
    status: 200,
    response: ref("OrganizationMembershipList"),
    errors: [400, 403, 404],
    documents: [LIST],
    async handle({ query }, run) {
      const variables = { organizationId: encodeGlobalID("Organization", String(query.organizationId)), first: query.limit ?? 50, after: query.cursor ?? null };
      let data = await run(LIST, { ...variables, private: false });
      if (!data.organization) throw new RestError(404, "NOT_FOUND", "Organization not found");
      if ((data.organization.viewerPermissions as string[]).includes(READ_PRIVATE)) data = await run(LIST, { ...variables, private: true });
      const page = data.organization.members as Page<GraphQLMember>;
      return { body: { data: page.edges.map((edge) => membership(edge.node)), hasMore: page.pageInfo.hasNextPage, nextCursor: page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null } };
    },
  },
  {
    method: "GET",
    path: "/api/v0/auth/organization-members/{id}",
    operationId: "getOrganizationMembership",
    summary: "Get an organizationMembership",
    description: "One membership, with an ETag for If-Match.",
    params: idParam,
    status: 200,
    response: ref("OrganizationMembership"),
    errors: [400, 404],
    documents: [FIND],
    handle: async ({ path }, run) => answer(await findMember(run, path.id!)),
  },
  {
    method: "PUT",
    path: "/api/v0/auth/organization-members/{id}",
    operationId: "updateOrganizationMembership",
    summary: "Update an organizationMembership",
    description:
      "Changes the role (members:update; a role above your own, or the owner role, is refused as over GraphQL) and replaces the public and private metadata given (private: members:read_private too). The role change comes first: if it is refused, nothing changes; if the metadata is then refused, the role change stays. A PUT that changes nothing changes nothing (no new version, no event).",
    params: idParam,
    body: {
      type: "object",
      additionalProperties: false,
      properties: { roleId: uuid, privateMeta: metadata, publicMeta: metadata },
    },
    headers: IF_MATCH,
    status: 200,
    response: ref("OrganizationMembership"),
    fields: { roleId: "roleId", privateMetadata: "privateMeta", publicMetadata: "publicMeta", expectedVersion: "If-Match" },
    errors: [400, 403, 404, 409, 412],
    documents: [FIND, UPDATE],
    async handle({ path, body, headers }, run) {
      const version = expectedVersion(headers);
      const found = await findMember(run, path.id!);
      const changeRole = body.roleId !== undefined && rawId(found.role.id)!.toLowerCase() !== String(body.roleId).toLowerCase();
      const meta = { ...(body.publicMeta !== undefined ? { publicMetadata: body.publicMeta } : {}), ...(body.privateMeta !== undefined ? { privateMetadata: body.privateMeta } : {}) };
      const changeMeta = Object.keys(meta).length > 0;
      if (!changeRole && !changeMeta) {
        if (version.expectedVersion !== undefined && version.expectedVersion !== found.version) throw new RestError(412, "STALE_VERSION", "The membership changed since that version", "If-Match");
        return answer(found);
      }
      const data = await run(UPDATE, {
        // If-Match is checked by the first change the request makes.
        role: { memberId: found.id, roleId: changeRole ? encodeGlobalID("Role", String(body.roleId)) : found.role.id, ...version },
        meta: { memberId: found.id, ...meta, ...(changeRole ? {} : version) },
        changeRole,
        changeMeta,
        private: found.organization.viewerPermissions.includes(READ_PRIVATE),
      });
      return answer((data.meta ?? data.role).member as GraphQLMember);
    },
  },
  removeMemberRoute({
    path: "/api/v0/auth/organization-members/{id}",
    operationId: "deleteOrganizationMembership",
    summary: "Delete an organizationMembership",
    description: "Needs members:delete; the last owner can't be removed (409 LAST_OWNER).",
    params: idParam,
    finds: [FIND],
    findMember: (run, path) => findMember(run, path.id!),
  }),
];

export const pxyz: Profile = {
  name: "pxyz",
  title: "Membership Graph — pxyz-compatible organization memberships API",
  description:
    "The pxyz auth service's organization membership endpoints (`/api/v0/auth/organization-members…`), with their camelCase JSON, served by Membership Graph. Every call runs through the GraphQL API with your token: the same permissions, rate limits and audit.",
  schemas,
  routes,
};
