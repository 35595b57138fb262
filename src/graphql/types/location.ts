// Location: a branch, site or store of an organization, its members, and members' assignments
// to locations with roles there. Also the member's settings (profile picture, default location).
import { encodeGlobalID } from "@pothos/plugin-relay";
import { activeMember, locationRules } from "../../core/rules.js";
import { createLocation, deleteLocation, setMemberLocations, updateLocation } from "../../domain/locations.js";
import { found } from "../../core/errors.js";
import { builder, PAGE_SIZES } from "../builder.js";
import { requireIdCursors } from "../cursors.js";
import { IDEMPOTENCY_KEY_DESCRIPTION, idempotently, REPLAYED_DESCRIPTION } from "../idempotency.js";
import { inOrganization } from "../loaders.js";
import { permissionOn, ruleOn } from "../mutation-scopes.js";
import { EXPECTED_VERSION_DESCRIPTION } from "../common.js";
import { visibleNodes } from "../node-loading.js";
import { MemberNode } from "./member.js";
import { MemberFilter, MemberOrder, memberPageTotalCount, OrganizationNode, resolveMemberPage } from "./organization.js";
import { RoleNode } from "./role.js";

export const LocationNode = builder.prismaNode("Location", {
  id: { field: "id" },
  nullable: true,
  description: "A branch, site or store of an organization",
  // Seen by members holding locations:read, organization-wide or through a role at this location.
  authScopes: (location) => ({
    locationPermission: { organizationId: location.organizationId, locationId: location.id, permission: "locations:read" },
  }),
  ...visibleNodes("Location", (context) => ({ organization: context.policy.organizationsWhere(null) })),
  fields: (t) => ({
    name: t.exposeString("name"),
    timezone: t.expose("timezone", { type: "TimeZone", nullable: true }),
    address: t.exposeString("address", { nullable: true }),
    version: t.exposeInt("version", { description: "Incremented by every change; see expectedVersion" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    members: t.connection(
      {
        type: MemberNode,
        description: "Members assigned to this location. Needs members:read",
        authScopes: (location) => ({ orgPermission: { organizationId: location.organizationId, permission: "members:read" } }),
        args: {
          filter: t.arg({ type: MemberFilter, required: false }),
          orderBy: t.arg({ type: MemberOrder, required: false }),
        },
        resolve: (location, args, context, info) => resolveMemberPage(context, info, location.organizationId, args, [location.id]),
      },
      {
        fields: (c) => ({
          totalCount: c.int({
            description: "Members matching the filter, on all pages",
            resolve: (connection, _args, context) => memberPageTotalCount(connection, context),
          }),
        }),
      },
    ),
  }),
});

builder.prismaObjectField("Location", "organization", (t) =>
  t.field({
    type: OrganizationNode,
    resolve: async (location, _args, context) =>
      found(await context.loaders.organizationById.load(location.organizationId), "Organization"),
  }),
);

builder.prismaObjectField("Organization", "locations", (t) =>
  t.relatedConnection("locations", {
    description: "The organization's locations, by name. Needs locations:read",
    cursor: "id",
    ...PAGE_SIZES,
    totalCount: true,
    authScopes: (organization) => ({ orgPermission: { organizationId: organization.id, permission: "locations:read" } }),
    query: (args) => {
      requireIdCursors(args);
      return { orderBy: [{ name: "asc" }, { id: "asc" }] };
    },
  }),
);

// ---- A member's locations and settings ---------------------------------------------------------

const MemberLocation = builder
  .objectRef<{ locationId: string; roleIds: string[]; organizationId: string }>("MemberLocation")
  .implement({
    description: "One location a member is assigned to, with the roles they hold there",
    fields: (t) => ({
      location: t.field({
        type: LocationNode,
        resolve: async (entry, _args, context) =>
          found(await context.loaders.locationById.load(entry.locationId), "Location"),
      }),
      roles: t.field({
        type: [RoleNode],
        description: "Roles held at this location, in addition to the organization role",
        resolve: async (entry, _args, context) => {
          const roles = await context.loaders.roleById.loadMany(entry.roleIds);
          return roles.flatMap((role) => (role && !(role instanceof Error) ? [inOrganization(role, entry.organizationId)] : []));
        },
      }),
    }),
  });

builder.prismaObjectField("Member", "locations", (t) =>
  t.field({
    type: [MemberLocation],
    description: "The member's locations with their roles at each (at most 100, so not paginated)",
    resolve: async (member, _args, context) =>
      (await context.loaders.memberLocations.load(member.id)).map((entry) => ({ ...entry, organizationId: member.organizationId })),
  }),
);

const MemberSettings = builder
  .objectRef<{ profilePictureUrl: string | null; defaultLocationId: string | null }>("MemberSettings")
  .implement({
    fields: (t) => ({
      profilePictureUrl: t.exposeString("profilePictureUrl", { nullable: true, description: "An https URL" }),
      defaultLocation: t.field({
        type: LocationNode,
        nullable: true,
        description: "One of the member's locations",
        resolve: (settings, _args, context) => (settings.defaultLocationId ? context.loaders.locationById.load(settings.defaultLocationId) : null),
      }),
    }),
  });

builder.prismaObjectField("Member", "settings", (t) =>
  t.field({
    type: MemberSettings,
    resolve: (member) => ({ profilePictureUrl: member.profilePictureUrl ?? null, defaultLocationId: member.defaultLocationId ?? null }),
  }),
);

builder.prismaObjectField("Member", "isActive", (t) =>
  t.boolean({ description: "status is ACTIVE (the replaced APIs' flag)", resolve: (member) => member.status === "ACTIVE" }),
);

// ---- Mutations --------------------------------------------------------------------------------

const locationPayload = (name: string, replayable = false) =>
  builder.objectRef<{ locationId: string; replayed?: boolean }>(name).implement({
    fields: (t) => ({
      location: t.prismaField({
        type: "Location",
        resolve: async (query, payload, _args, context) =>
          found(await context.prisma.location.findUnique({ ...query, where: { id: payload.locationId } }), "Location"),
      }),
      ...(replayable ? { replayed: t.boolean({ description: REPLAYED_DESCRIPTION, resolve: (payload) => payload.replayed === true }) } : {}),
    }),
  });

const CreateLocationInput = builder.inputType("CreateLocationInput", {
  fields: (t) => ({
    organizationId: t.globalID({ for: OrganizationNode, required: true }),
    name: t.string({ required: true, description: "Unique in the organization; at most 100 characters" }),
    timezone: t.field({ type: "TimeZone", required: false }),
    address: t.string({ required: false, description: "At most 500 characters" }),
    idempotencyKey: t.string({ required: false, description: IDEMPOTENCY_KEY_DESCRIPTION }),
  }),
});

builder.mutationField("createLocation", (t) =>
  t.field({
    type: locationPayload("CreateLocationPayload", true),
    description: "Creates a location. Needs locations:create (organization-wide).",
    args: { input: t.arg({ type: CreateLocationInput, required: true }) },
    authScopes: (_root, { input }, context) => permissionOn(context, "Organization", input.organizationId, "locations:create"),
    resolve: async (_root, { input }, context) => {
      const outcome = await idempotently(context, "createLocation", input, (claim) =>
        createLocation(
          context.prisma,
          context.actor(),
          {
            organizationId: input.organizationId.id,
            name: input.name,
            timezone: input.timezone,
            address: input.address,
          },
          claim,
        ),
      );
      return { locationId: outcome.id, replayed: outcome.replayed };
    },
  }),
);

const UpdateLocationInput = builder.inputType("UpdateLocationInput", {
  fields: (t) => ({
    locationId: t.globalID({ for: LocationNode, required: true }),
    name: t.string({ required: false }),
    timezone: t.field({ type: "TimeZone", required: false, description: "null clears it" }),
    address: t.string({ required: false, description: "null clears it" }),
    expectedVersion: t.int({ required: false, description: EXPECTED_VERSION_DESCRIPTION }),
  }),
});

builder.mutationField("updateLocation", (t) =>
  t.field({
    type: locationPayload("UpdateLocationPayload"),
    description: "Edits a location. Needs locations:update, organization-wide or through a role at this location.",
    args: { input: t.arg({ type: UpdateLocationInput, required: true }) },
    authScopes: (_root, { input }, context) => {
      const locationId = input.locationId.id;
      return ruleOn(context, "Location", input.locationId, locationRules.update, locationId);
    },
    resolve: async (_root, { input }, context) => {
      const location = await updateLocation(context.prisma, context.actor(), {
        ...input,
        locationId: input.locationId.id,
      });
      return { locationId: location.id };
    },
  }),
);

const DeleteLocationInput = builder.inputType("DeleteLocationInput", {
  fields: (t) => ({
    locationId: t.globalID({ for: LocationNode, required: true }),
    expectedVersion: t.int({ required: false, description: EXPECTED_VERSION_DESCRIPTION }),
  }),
});

const DeleteLocationPayload = builder.objectRef<{ deletedLocationId: string }>("DeleteLocationPayload").implement({
  fields: (t) => ({ deletedLocationId: t.id({ resolve: (payload) => encodeGlobalID("Location", payload.deletedLocationId) }) }),
});

builder.mutationField("deleteLocation", (t) =>
  t.field({
    type: DeleteLocationPayload,
    description: "Deletes a location and its assignments. Needs locations:delete organization-wide (it ends assignments of people a location manager may not outrank).",
    args: { input: t.arg({ type: DeleteLocationInput, required: true }) },
    authScopes: (_root, { input }, context) => ruleOn(context, "Location", input.locationId, locationRules.delete),
    resolve: async (_root, { input }, context) => ({
      deletedLocationId: await deleteLocation(context.prisma, context.actor(), {
        locationId: input.locationId.id,
        expectedVersion: input.expectedVersion,
      }),
    }),
  }),
);

const LocationAssignmentInput = builder.inputType("LocationAssignmentInput", {
  fields: (t) => ({
    locationId: t.globalID({ for: LocationNode, required: true }),
    roleIds: t.globalIDList({ for: RoleNode, required: true, description: "1-10 roles of the organization (system or custom; not owner)" }),
  }),
});

const SetMemberLocationsInput = builder.inputType("SetMemberLocationsInput", {
  fields: (t) => ({
    memberId: t.globalID({ for: MemberNode, required: true }),
    locations: t.field({ type: [LocationAssignmentInput], required: true, description: "The whole new set (at most 100); a location left out is unassigned" }),
    expectedVersion: t.int({ required: false, description: EXPECTED_VERSION_DESCRIPTION }),
  }),
});

const MemberPayload = builder.objectRef<{ memberId: string }>("SetMemberLocationsPayload").implement({
  fields: (t) => ({
    member: t.prismaField({
      type: "Member",
      resolve: async (query, payload, _args, context) =>
        found(await context.prisma.member.findUnique({ ...query, where: { id: payload.memberId } }), "Member"),
    }),
  }),
});

builder.mutationField("setMemberLocations", (t) =>
  t.field({
    type: MemberPayload,
    description:
      "Replaces a member's location assignments. Each location whose roles change is checked at that location: members:update there, no escalation counted there (so an admin of one location manages that location only).",
    args: { input: t.arg({ type: SetMemberLocationsInput, required: true }) },
    // Being a member of the organization is checked here; the per-location rules run in the transaction.
    authScopes: (_root, { input }, context) => ruleOn(context, "Member", input.memberId, activeMember),
    resolve: async (_root, { input }, context) => {
      const member = await setMemberLocations(context.prisma, context.actor(), {
        memberId: input.memberId.id,
        locations: input.locations.map((entry) => ({ locationId: entry.locationId.id, roleIds: entry.roleIds.map((role) => role.id) })),
        expectedVersion: input.expectedVersion,
      });
      return { memberId: member.id };
    },
  }),
);

