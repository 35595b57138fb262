// Organization: its fields, its members and roles, and the root fields and mutations that
// return it.
import { membershipKey } from "../../domain/access.js";
import { encodeGlobalID, resolveArrayConnection } from "@pothos/plugin-relay";
import type { Prisma } from "../../generated/prisma/client.js";
import { found, invalid, notFound } from "../../core/errors.js";
import { transferOwnership } from "../../domain/members.js";
import { createOrganization, deleteOrganization, updateOrganization } from "../../domain/organizations.js";
import { permissionOn, ruleOn } from "../mutation-scopes.js";
import { organizationRules } from "../../core/rules.js";
import { builder, PAGE_SIZES, prismaObjectRef, SortDirection } from "../builder.js";
import { requireIdCursors, requireOffsetCursors } from "../cursors.js";
import { EXPECTED_VERSION_DESCRIPTION, selectsField } from "../common.js";
import { visibleNodes } from "../node-loading.js";
import { IDEMPOTENCY_KEY_DESCRIPTION, idempotently, REPLAYED_DESCRIPTION } from "../idempotency.js";
import { MemberStatusEnum } from "./enums.js";
import { MemberNode } from "./member.js";
import { countKey, pageKey, validatePageArgs, type MemberFilterInput, type MemberOrderField, type MemberPageArgs, type PageKey } from "../../db/queries/member-pages.js";
import type { GraphQLResolveInfo } from "graphql";
import type { Context } from "../context.js";
import { RoleNode } from "./role.js";
import { UserNode, visibleUser } from "./user.js";

const MemberOrderField = builder.enumType("MemberOrderField", {
  values: ["JOINED_AT", "EMAIL", "FIRST_NAME", "LAST_NAME"] as const,
});

export const MemberOrder = builder.inputType("MemberOrder", {
  fields: (t) => ({
    field: t.field({ type: MemberOrderField, required: true }),
    direction: t.field({ type: SortDirection, defaultValue: "asc" }),
  }),
});

export const MemberFilter = builder.inputType("MemberFilter", {
  fields: (t) => ({
    roleIds: t.globalIDList({ for: RoleNode, required: false, description: "Only members holding one of these roles" }),
    // location.ts imports this file: its type's ref comes by model name.
    locationIds: t.globalIDList({ for: prismaObjectRef("Location"), required: false, description: "Only members assigned to one of these locations" }),
    status: t.field({ type: MemberStatusEnum, required: false }),
    search: t.string({ required: false, description: "Case-insensitive match on email, first or last name" }),
    userIds: t.globalIDList({
      for: prismaObjectRef("User"),
      required: false,
      description: "Only the accepted memberships of these users (a pending member is known by the address it was added with until they accept)",
    }),
  }),
});

/** Checks a member filter's inputs and turns role and location IDs into database ids. */
function memberFilter(filter: {
  roleIds?: readonly { id: string }[] | null;
  locationIds?: readonly { id: string }[] | null;
  status?: "ACTIVE" | "SUSPENDED" | "PENDING" | null;
  search?: string | null;
  userIds?: readonly { id: string }[] | null;
} | null | undefined): MemberFilterInput | null {
  if (!filter) return null;
  if (filter.roleIds && filter.roleIds.length > 100) throw invalid("filter.roleIds", "filter.roleIds takes at most 100 IDs");
  if (filter.locationIds && filter.locationIds.length > 100) throw invalid("filter.locationIds", "filter.locationIds takes at most 100 IDs");
  if (filter.userIds && filter.userIds.length > 100) throw invalid("filter.userIds", "filter.userIds takes at most 100 IDs");
  const search = filter.search?.trim();
  if (search && search.length > 200) throw invalid("filter.search", "filter.search must be at most 200 characters");
  return {
    roleIds: filter.roleIds ? filter.roleIds.map((role) => role.id) : null,
    locationIds: filter.locationIds ? filter.locationIds.map((location) => location.id) : null,
    status: filter.status ?? null,
    search: search || null,
    userIds: filter.userIds ? filter.userIds.map((user) => user.id) : null,
  };
}

type MemberConnectionArgs = Omit<MemberPageArgs, "filter" | "orderBy"> & {
  filter?: Parameters<typeof memberFilter>[0];
  orderBy?: { field: MemberOrderField; direction?: "asc" | "desc" | null } | null;
};

/**
 * A page of an organization's members through the lean member-page loaders (Organization.members,
 * and Location.members with its location as an extra filter). The page remembers its count key,
 * so totalCount (memberPageTotalCount) shares the count statement of every page alike.
 */
export async function resolveMemberPage(
  context: Context,
  info: GraphQLResolveInfo,
  organizationId: string,
  args: MemberConnectionArgs,
  locationIds: string[] | null = null,
) {
  const filter = locationIds ? { ...memberFilter(args.filter), locationIds } : memberFilter(args.filter);
  const pageArgs: MemberPageArgs = {
    first: args.first,
    last: args.last,
    after: args.after,
    before: args.before,
    filter,
    orderBy: args.orderBy ? { field: args.orderBy.field, direction: args.orderBy.direction } : null,
  };
  validatePageArgs(pageArgs, context.config.maxPageSize, context.config.defaultPageSize);
  const key = pageKey(organizationId, pageArgs, selectsField(info, "totalCount"));
  const page = await context.loaders.memberPages.pages.load(key);
  // The field required members:read in the organization: the rows need no check each (Policy).
  if (locationIds === null) context.policy.vouchForMembers(organizationId, page.edges.map((edge) => edge.node));
  return { ...page, countKey: countKey(organizationId, filter) };
}

/** totalCount of a member page: counted with the page when selected, else by the shared count loader. */
export function memberPageTotalCount(connection: unknown, context: Context) {
  const page = connection as { totalCount: number | null; countKey: PageKey };
  return page.totalCount ?? context.loaders.memberPages.counts.load(page.countKey);
}

const OrganizationOrderField = builder.enumType("OrganizationOrderField", {
  values: ["NAME", "CREATED_AT"] as const,
});

const OrganizationOrder = builder.inputType("OrganizationOrder", {
  fields: (t) => ({
    field: t.field({ type: OrganizationOrderField, required: true }),
    direction: t.field({ type: SortDirection, defaultValue: "asc" }),
  }),
});

export const OrganizationNode = builder.prismaNode("Organization", {
  id: { field: "id" },
  // Unknown and not-visible ids both load as null, so node(id:) reveals nothing.
  nullable: true,
  // Someone added to it who hasn't accepted yet sees the organization (to decide), nothing in it.
  authScopes: (organization) => ({ orgPermission: { organizationId: organization.id, permission: "org:read" }, orgPending: organization.id }),
  ...visibleNodes("Organization", (context) => context.policy.organizationsWhere("org:read")),
  fields: (t) => ({
    slug: t.exposeString("slug"),
    name: t.exposeString("name"),
    businessInformation: t.exposeString("businessInformation", { nullable: true }),
    timezone: t.expose("timezone", { type: "TimeZone" }),
    version: t.exposeInt("version", {
      description: "Incremented by every change. Send it back as expectedVersion to fail with STALE_VERSION instead of overwriting someone else's change",
    }),
    createdBy: t.field({
      type: UserNode,
      nullable: true,
      description: "Who created the organization, when visible to you",
      resolve: (organization, _args, context) => visibleUser(context, organization.createdById),
    }),
    owner: t.field({
      type: UserNode,
      nullable: true,
      description: "The primary owner, when visible to you (needs members:read)",
      resolve: (organization, _args, context) => visibleUser(context, organization.ownerId),
    }),
    publicMetadata: t.expose("publicMetadata", { type: "JSONObject" }),
    privateMetadata: t.expose("privateMetadata", {
      type: "JSONObject",
      description: "Needs org:update",
      authScopes: (organization) => ({ orgPermission: { organizationId: organization.id, permission: "org:update" } }),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    memberCount: t.int({
      description: "All members, active and suspended",
      // A relation count would compete with the members connection's own count for the
      // organization's `_count` and force plugin-prisma into a fallback query per row.
      resolve: (organization, _args, context) => context.loaders.memberPages.counts.load(countKey(organization.id, null)),
    }),
    members: t.connection(
      {
        type: MemberNode,
        description: "Needs members:read",
        authScopes: (organization) => ({ orgPermission: { organizationId: organization.id, permission: "members:read" } }),
        args: {
          filter: t.arg({ type: MemberFilter, required: false }),
          orderBy: t.arg({ type: MemberOrder, required: false }),
        },
        resolve: (organization, args, context, info) => resolveMemberPage(context, info, organization.id, args),
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
    roles: t.connection({
      type: RoleNode,
      description: "Roles that can be assigned here: the system roles first, then custom roles by creation. Needs roles:read",
      authScopes: (organization) => ({ orgPermission: { organizationId: organization.id, permission: "roles:read" } }),
      resolve: async (organization, args, context) => {
        requireOffsetCursors(args);
        const roles = await context.loaders.organizationRoles.load(organization.id);
        return { ...resolveArrayConnection({ args }, roles), totalCount: roles.length };
      },
    }, {
      fields: (c) => ({ totalCount: c.int({ resolve: (connection) => (connection as unknown as { totalCount: number }).totalCount }) }),
    }),
    viewerMembership: t.prismaField({
      type: "Member",
      nullable: true,
      description: "Your own membership here, active or suspended",
      // Prisma batches these findUnique calls (one per organization on the page) into one statement.
      resolve: (query, organization, _args, context) =>
        context.viewer
          ? context.prisma.member.findUnique({
              ...query,
              // The accepted one ("" while not pending); a pending membership is in viewer.memberships.
              where: membershipKey(organization.id, context.viewer.user.id),
            })
          : null,
    }),
  }),
});

// Member.organization lives here, beside the Organization type it returns.
builder.prismaObjectField("Member", "organization", (t) =>
  t.field({
    type: OrganizationNode,
    resolve: async (member, _args, context) => {
      const organization = await context.loaders.organizationById.load(member.organizationId);
      if (!organization) throw new Error(`Member ${member.id} has no organization`);
      return organization;
    },
  }),
);

builder.prismaObjectField("Role", "organization", (t) =>
  t.field({
    type: OrganizationNode,
    nullable: true,
    description: "Null for system roles",
    resolve: (role, _args, context) => (role.organizationId ? context.loaders.organizationById.load(role.organizationId) : null),
  }),
);

builder.queryFields((t) => ({
  organization: t.prismaField({
    type: "Organization",
    nullable: true,
    description: "An organization you are an active member of, by ID or slug (exactly one of them).",
    authScopes: { authenticated: true },
    args: { id: t.arg.globalID({ for: OrganizationNode, required: false }), slug: t.arg.string({ required: false }) },
    resolve: async (query, _root, args, context) => {
      if ((args.id == null) === (args.slug == null)) throw invalid("id", "Pass exactly one of id or slug");
      const where: Prisma.OrganizationWhereInput =
        args.id != null ? { id: args.id.id } : { slug: args.slug! };
      const organization = await context.prisma.organization.findFirst({
        ...query,
        where: { ...where, ...context.policy.organizationsWhere("org:read") },
      });
      // Unknown and not-yours read the same, so IDs of other organizations reveal nothing.
      if (!organization) throw notFound("Organization");
      return organization;
    },
  }),
  organizations: t.prismaConnection({
    type: "Organization",
    cursor: "id",
    ...PAGE_SIZES,
    description: "Organizations you are an active member of.",
    authScopes: { authenticated: true },
    args: { orderBy: t.arg({ type: OrganizationOrder, required: false }) },
    totalCount: (_parent, _args, context) =>
      context.prisma.organization.count({ where: context.policy.memberOrganizationsWhere("org:read") }),
    resolve: (query, _root, args, context) => {
      requireIdCursors(args);
      const direction = args.orderBy?.direction ?? "asc";
      const orderBy: Prisma.OrganizationOrderByWithRelationInput[] =
        args.orderBy?.field === "CREATED_AT"
          ? [{ createdAt: direction }, { id: direction }]
          : [{ name: direction }, { id: direction }];
      return context.prisma.organization.findMany({
        ...query,
        where: context.policy.memberOrganizationsWhere("org:read"),
        orderBy,
      });
    },
  }),
}));

const CreateOrganizationInput = builder.inputType("CreateOrganizationInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    slug: t.string({ required: false, description: "Lower-case letters, digits and dashes; derived from the name when absent" }),
    timezone: t.field({ type: "TimeZone", required: false, description: "IANA time zone; UTC when absent" }),
    businessInformation: t.string({ required: false }),
    idempotencyKey: t.string({ required: false, description: IDEMPOTENCY_KEY_DESCRIPTION }),
  }),
});

const CreateOrganizationPayload = builder.objectRef<{ organizationId: string; replayed: boolean }>("CreateOrganizationPayload").implement({
  fields: (t) => ({
    organization: t.prismaField({
      type: "Organization",
      // Also for a replay whose organization was deleted since, or whose caller is no longer a member.
      resolve: async (query, payload, _args, context) =>
        found(await context.prisma.organization.findFirst({
          ...query,
          where: { id: payload.organizationId, ...context.policy.organizationsWhere("org:read") },
        }), "Organization"),
    }),
    replayed: t.exposeBoolean("replayed", { description: REPLAYED_DESCRIPTION }),
  }),
});

builder.mutationField("createOrganization", (t) =>
  t.field({
    type: CreateOrganizationPayload,
    description: "Creates an organization; you become its owner.",
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: CreateOrganizationInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const outcome = await idempotently(context, "createOrganization", input, (claim) => {
        const { idempotencyKey: _key, ...fields } = input;
        return createOrganization(context.prisma, context.actor(), fields, claim);
      });
      return { organizationId: outcome.id, replayed: outcome.replayed };
    },
  }),
);


const UpdateOrganizationInput = builder.inputType("UpdateOrganizationInput", {
  fields: (t) => ({
    organizationId: t.globalID({ for: OrganizationNode, required: true }),
    name: t.string({ required: false }),
    slug: t.string({ required: false }),
    timezone: t.field({ type: "TimeZone", required: false }),
    businessInformation: t.string({ required: false, description: "null clears it" }),
    publicMetadata: t.field({ type: "JSONObject", required: false, description: "Replaces the whole object; at most 8 KB" }),
    privateMetadata: t.field({ type: "JSONObject", required: false, description: "Replaces the whole object; at most 8 KB" }),
    expectedVersion: t.int({ required: false, description: EXPECTED_VERSION_DESCRIPTION }),
  }),
});

const UpdateOrganizationPayload = builder.objectRef<{ organizationId: string }>("UpdateOrganizationPayload").implement({
  fields: (t) => ({
    organization: t.prismaField({
      type: "Organization",
      resolve: async (query, payload, _args, context) =>
        found(await context.prisma.organization.findUnique({ ...query, where: { id: payload.organizationId } }), "Organization"),
    }),
  }),
});

builder.mutationField("updateOrganization", (t) =>
  t.field({
    type: UpdateOrganizationPayload,
    description: "Changes the organization's profile or metadata. Needs org:update.",
    args: { input: t.arg({ type: UpdateOrganizationInput, required: true }) },
    authScopes: (_root, { input }, context) => permissionOn(context, "Organization", input.organizationId, "org:update"),
    resolve: async (_root, { input }, context) => {
      const organization = await updateOrganization(context.prisma, context.actor(), {
        ...input,
        organizationId: input.organizationId.id,
      });
      return { organizationId: organization.id };
    },
  }),
);

const DeleteOrganizationInput = builder.inputType("DeleteOrganizationInput", {
  fields: (t) => ({ organizationId: t.globalID({ for: OrganizationNode, required: true }) }),
});

const DeleteOrganizationPayload = builder.objectRef<{ deletedOrganizationId: string }>("DeleteOrganizationPayload").implement({
  fields: (t) => ({ deletedOrganizationId: t.id({ resolve: (payload) => encodeGlobalID("Organization", payload.deletedOrganizationId) }) }),
});

builder.mutationField("deleteOrganization", (t) =>
  t.field({
    type: DeleteOrganizationPayload,
    description: "Deletes the organization with its memberships, custom roles and invitations; the audit trail is kept. Owners only.",
    args: { input: t.arg({ type: DeleteOrganizationInput, required: true }) },
    authScopes: (_root, { input }, context) => ruleOn(context, "Organization", input.organizationId, organizationRules.delete),
    resolve: async (_root, { input }, context) => ({
      deletedOrganizationId: await deleteOrganization(context.prisma, context.actor(), {
        organizationId: input.organizationId.id,
      }),
    }),
  }),
);

const TransferOwnershipInput = builder.inputType("TransferOwnershipInput", {
  fields: (t) => ({
    organizationId: t.globalID({ for: OrganizationNode, required: true }),
    toMemberId: t.globalID({ for: MemberNode, required: true, description: "An active member of the same organization" }),
  }),
});

const TransferOwnershipPayload = builder
  .objectRef<{ organizationId: string; newOwnerId: string; previousOwnerId: string }>("TransferOwnershipPayload")
  .implement({
    fields: (t) => ({
      organization: t.prismaField({
        type: "Organization",
        resolve: async (query, payload, _args, context) =>
          found(await context.prisma.organization.findUnique({ ...query, where: { id: payload.organizationId } }), "Organization"),
      }),
      newOwner: t.prismaField({
        type: "Member",
        resolve: async (query, payload, _args, context) => found(await context.prisma.member.findUnique({ ...query, where: { id: payload.newOwnerId } }), "Member"),
      }),
      previousOwner: t.prismaField({
        type: "Member",
        description: "You, now an admin",
        resolve: async (query, payload, _args, context) =>
          found(await context.prisma.member.findUnique({ ...query, where: { id: payload.previousOwnerId } }), "Member"),
      }),
    }),
  });

builder.mutationField("transferOwnership", (t) =>
  t.field({
    type: TransferOwnershipPayload,
    description: "Makes another active member the owner (and primary owner); you become an admin. Owners only.",
    args: { input: t.arg({ type: TransferOwnershipInput, required: true }) },
    authScopes: (_root, { input }, context) =>
      ruleOn(context, "Organization", input.organizationId, organizationRules.transferOwnership),
    resolve: async (_root, { input }, context) => {
      const organizationId = input.organizationId.id;
      const { newOwner, previousOwner } = await transferOwnership(context.prisma, context.actor(), { organizationId, toMemberId: input.toMemberId.id });
      return { organizationId, newOwnerId: newOwner.id, previousOwnerId: previousOwner.id };
    },
  }),
);
