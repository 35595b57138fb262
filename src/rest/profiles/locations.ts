// The location-scoped member API (../shared/replaced-apis/004_…): PATCH /v1/members/{id} with the
// member's locations and their roles at each (by role key), primary contact, active state and
// settings, and the matching GET. camelCase. Served at /compat/locations.
//
// What the page's body holds that a membership here doesn't own is checked, not written: the
// names and email are the person's account's (they change them themselves), the organization is
// where the member is (members don't move), and no password is kept.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { RestError, graphqlDocument, rawId, ref, timestamp, uuid, type Json, type Profile, type Route, type Run, type Schema } from "../route.js";
import { expectedVersion, IF_MATCH, object } from "./shared.js";

const string: Schema = { type: "string" };
const nullableString: Schema = { type: ["string", "null"] };
const dateTime: Schema = { type: "string", format: "date-time" };
const roleKeys: Schema = { type: "array", items: { type: "string", maxLength: 100 }, maxItems: 20, description: "Role keys at that location (admin, member, or a custom role's key)" };

const schemas: Record<string, Schema> = {
  MemberLocation: object({ locationId: string, role: roleKeys }, "A location the member is assigned to, with their roles there."),
  MemberSettings: object({ profilePictureUrl: nullableString }, "Member-specific settings."),
  Member: object(
    {
      id: string,
      createdAt: dateTime,
      updatedAt: dateTime,
      firstName: nullableString,
      lastName: nullableString,
      email: string,
      organizationId: string,
      locations: { type: "array", items: ref("MemberLocation") },
      isPrimary: { type: "boolean" },
      isActive: { type: "boolean" },
      settings: ref("MemberSettings"),
    },
    "An organization member with their locations.",
  ),
};

const MEMBER_FIELDS = `
fragment LocationsMember on Member {
  id version createdAt updatedAt isPrimary isActive status
  user { firstName lastName email }
  organization { id }
  locations { location { id } roles { key } }
  settings { profilePictureUrl }
}`;

const FIND = graphqlDocument(`query LocationsFindMember($memberId: ID!) {
  node(id: $memberId) { ... on Member { ...LocationsMember organization { roles(first: 100) { edges { node { id key } } } } } }
}${MEMBER_FIELDS}`);

const SET_LOCATIONS = graphqlDocument(`mutation LocationsSetMemberLocations($input: SetMemberLocationsInput!) { setMemberLocations(input: $input) { member { ...LocationsMember } } }${MEMBER_FIELDS}`);
const UPDATE = graphqlDocument(`mutation LocationsUpdateMember($input: UpdateMemberInput!) { updateMember(input: $input) { member { ...LocationsMember } } }${MEMBER_FIELDS}`);
const SUSPEND = graphqlDocument(`mutation LocationsSuspendMember($input: SuspendMemberInput!) { suspendMember(input: $input) { member { ...LocationsMember } } }${MEMBER_FIELDS}`);
const REACTIVATE = graphqlDocument(`mutation LocationsReactivateMember($input: ReactivateMemberInput!) { reactivateMember(input: $input) { member { ...LocationsMember } } }${MEMBER_FIELDS}`);

type GraphQLMember = {
  id: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  isPrimary: boolean;
  isActive: boolean;
  status: string;
  user: { firstName: string | null; lastName: string | null; email: string };
  organization: { id: string; roles?: { edges: { node: { id: string; key: string } }[] } };
  locations: { location: { id: string }; roles: { key: string }[] }[];
  settings: { profilePictureUrl: string | null };
};

const locationsOf = (member: GraphQLMember) =>
  member.locations.map((assignment) => ({ locationId: rawId(assignment.location.id)!, role: assignment.roles.map((role) => role.key).sort() })).sort((a, b) => a.locationId.localeCompare(b.locationId));

function memberJson(member: GraphQLMember): Json {
  return {
    id: rawId(member.id),
    createdAt: timestamp(member.createdAt),
    updatedAt: timestamp(member.updatedAt),
    firstName: member.user.firstName,
    lastName: member.user.lastName,
    email: member.user.email,
    organizationId: rawId(member.organization.id),
    locations: locationsOf(member),
    isPrimary: member.isPrimary,
    isActive: member.isActive,
    settings: { profilePictureUrl: member.settings.profilePictureUrl },
  };
}

const answer = (member: GraphQLMember) => ({ body: memberJson(member), headers: { etag: `"${member.version}"` } });
const idParam = { id: { ...uuid, description: "The unique identifier of the member" } };

async function findMember(run: Run, id: string): Promise<GraphQLMember> {
  const member = (await run(FIND, { memberId: encodeGlobalID("Member", id) })).node as GraphQLMember | null;
  if (!member?.organization) throw new RestError(404, "NOT_FOUND", "Member not found");
  return member;
}

interface Assignment {
  locationId: string;
  role: string[];
}

const routes: Route[] = [
  {
    method: "GET",
    path: "/v1/members/{id}",
    operationId: "getMember",
    summary: "Get Member",
    description: "An organization member with their locations and roles there, and an ETag for If-Match.",
    params: idParam,
    status: 200,
    response: ref("Member"),
    errors: [400, 404],
    documents: [FIND],
    handle: async ({ path }, run) => answer(await findMember(run, path.id!)),
  },
  {
    method: "PATCH",
    path: "/v1/members/{id}",
    operationId: "updateMember",
    summary: "Update Member",
    description:
      "Updates an existing organization member: their locations with the roles at each (setMemberLocations: members:update, and roles you may grant), whether they are the primary contact and their settings (updateMember), and whether they are active (suspendMember / reactivateMember). The names, email and organization must be the member's own (they are the person's account's, and members don't move); a password is refused (none is kept here). The changes are applied one after the other: if one is refused, those before it stay.",
    params: idParam,
    body: {
      type: "object",
      required: ["firstName", "lastName", "email", "organizationId", "locations", "isPrimary", "settings"],
      additionalProperties: false,
      properties: {
        firstName: { type: ["string", "null"], description: "Member's first name" },
        lastName: { type: ["string", "null"], description: "Member's last name" },
        email: { type: "string", description: "Member's email address" },
        organizationId: { ...uuid, description: "ID of the organization this member belongs to" },
        locations: {
          type: "array",
          maxItems: 100,
          description: "List of locations the member is assigned to, along with their role at each location",
          items: { type: "object", required: ["locationId", "role"], additionalProperties: false, properties: { locationId: uuid, role: roleKeys } },
        },
        isPrimary: { type: "boolean", description: "Indicates whether the member is the primary organization holder or main contact for the organization" },
        isActive: { type: "boolean", description: "Indicates whether the member is currently active within the organization" },
        settings: {
          type: "object",
          additionalProperties: false,
          description: "Member-specific settings such as profile picture and default location",
          properties: { password: { type: "string" }, profilePictureUrl: { type: ["string", "null"], maxLength: 2000 } },
        },
      },
    },
    headers: IF_MATCH,
    status: 200,
    response: ref("Member"),
    fields: { roleIds: "role", "settings.profilePictureUrl": "settings.profilePictureUrl", profilePictureUrl: "settings.profilePictureUrl", expectedVersion: "If-Match" },
    errors: [400, 403, 404, 409, 412],
    documents: [FIND, SET_LOCATIONS, UPDATE, SUSPEND, REACTIVATE],
    async handle({ path, body, headers }, run) {
      let version = expectedVersion(headers);
      let member = await findMember(run, path.id!);
      const { user } = member;
      const same = (field: string, given: unknown, current: unknown) => {
        if (given !== current) throw new RestError(400, "BAD_USER_INPUT", `${field} is the member's own and can't be changed here (it is ${JSON.stringify(current)})`, field);
      };
      same("firstName", body.firstName, user.firstName);
      same("lastName", body.lastName, user.lastName);
      if (String(body.email).toLowerCase() !== user.email.toLowerCase()) same("email", body.email, user.email);
      same("organizationId", String(body.organizationId).toLowerCase(), rawId(member.organization.id));
      const settings = body.settings as { password?: string; profilePictureUrl?: string | null };
      if (settings.password !== undefined) throw new RestError(400, "BAD_USER_INPUT", "No password is kept here: people sign in with their identity provider or a token", "settings.password");
      const roleIdOf = new Map((member.organization.roles?.edges ?? []).map((edge) => [edge.node.key, edge.node.id]));
      const wanted = (body.locations as Assignment[]).map((assignment, i) => ({
        locationId: encodeGlobalID("Location", assignment.locationId),
        roleIds: assignment.role.map((key, j) => {
          const id = roleIdOf.get(key);
          if (!id) throw new RestError(400, "BAD_USER_INPUT", `"${key}" is not a role of this organization`, `locations.${i}.role.${j}`);
          return id;
        }),
      }));
      /** One change, with If-Match carried on to the version the previous one made. */
      const apply = async (document: typeof UPDATE, field: string, input: Record<string, unknown>) => {
        const data = await run(document, { input: { memberId: member.id, ...input, ...version } });
        member = { ...(data[field].member as GraphQLMember), organization: member.organization };
        if (version.expectedVersion !== undefined) version = { expectedVersion: member.version };
      };
      const given = (body.locations as Assignment[]).map((assignment) => ({ locationId: assignment.locationId, role: [...new Set(assignment.role)].sort() })).sort((a, b) => a.locationId.localeCompare(b.locationId));
      if (JSON.stringify(given) !== JSON.stringify(locationsOf(member))) await apply(SET_LOCATIONS, "setMemberLocations", { locations: wanted });
      const picture = settings.profilePictureUrl === undefined ? member.settings.profilePictureUrl : settings.profilePictureUrl;
      if (body.isPrimary !== member.isPrimary || picture !== member.settings.profilePictureUrl) {
        await apply(UPDATE, "updateMember", { isPrimary: body.isPrimary, settings: { profilePictureUrl: picture } });
      }
      if (body.isActive === false && member.status === "ACTIVE") await apply(SUSPEND, "suspendMember", {});
      if (body.isActive === true && member.status === "SUSPENDED") await apply(REACTIVATE, "reactivateMember", {});
      return answer(member);
    },
  },
];

export const locations: Profile = {
  name: "locations",
  title: "Membership Graph — location-scoped members API",
  description:
    "A location-scoped member API (`/v1/members/{id}`): members with their locations and roles at each, in camelCase, served by Membership Graph. Every call runs through the GraphQL API with your token: the same permissions, rate limits and audit.",
  schemas,
  routes,
};
