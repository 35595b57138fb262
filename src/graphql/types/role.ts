// Role: a named set of permissions. System roles (owner, admin, member) are shared by every
// organization; custom roles belong to one. A role reached through an organization carries
// that organization, so `memberCount` counts its members there.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { ALL_PERMISSIONS, PERMISSIONS, type Permission } from "../../core/permissions.js";
import { createRole, deleteRole, updateRole } from "../../domain/roles.js";
import { builder, prismaObjectRef } from "../builder.js";
import { permissionOn } from "../mutation-scopes.js";
import type { RoleInOrganization } from "../loaders.js";
import { EXPECTED_VERSION_DESCRIPTION } from "../common.js";
import { visibleNodes } from "../node-loading.js";
import { found } from "../../core/errors.js";
import { IDEMPOTENCY_KEY_DESCRIPTION, idempotently, REPLAYED_DESCRIPTION } from "../idempotency.js";

export const RoleNode = builder.prismaNode("Role", {
  id: { field: "id" },
  // Unknown and not-visible ids both load as null, so node(id:) reveals nothing.
  nullable: true,
  // Someone added to the organization who hasn't accepted yet sees the role they were offered (Member.role).
  authScopes: (role) =>
    role.organizationId === null ? { authenticated: true } : { orgMember: role.organizationId, orgPending: role.organizationId },
  ...visibleNodes("Role", (context) => context.policy.rolesWhere()),
  fields: (t) => ({
    key: t.exposeString("key", { description: "Stable identifier, unique within the organization (owner, admin, member, or a custom key)" }),
    name: t.exposeString("name"),
    description: t.exposeString("description", { nullable: true }),
    permissions: t.exposeStringList("permissions"),
    isSystem: t.exposeBoolean("isSystem", { description: "Built-in roles can't be edited or deleted" }),
    isDefault: t.exposeBoolean("isDefault", { description: "The role new members get when none is given" }),
    memberCount: t.int({
      nullable: true,
      description:
        "Members holding this role in its organization. For a system role reached without an organization (node(id:)), null.",
      resolve: async (role, _args, context) => {
        const organizationId = role.organizationId ?? (role as Partial<RoleInOrganization>).contextOrganizationId ?? null;
        if (!organizationId) return null;
        // Both loads start in this tick, so every role on the page shares one batch of each.
        const [allowed, count] = await Promise.all([
          context.policy.can(organizationId, "roles:read"),
          context.loaders.roleMemberCount.load(`${organizationId}:${role.id}`),
        ]);
        return allowed ? count : null;
      },
    }),
    version: t.exposeInt("version", {
      description: "Incremented by every change. Send it back as expectedVersion to fail with STALE_VERSION instead of overwriting someone else's change",
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});


// ---- The permission catalogue -------------------------------------------------------------

const PermissionInfo = builder.objectRef<{ key: Permission; description: string }>("Permission").implement({
  description: "One entry of the permission catalogue",
  fields: (t) => ({
    key: t.exposeString("key", { description: 'e.g. "members:update"' }),
    description: t.exposeString("description"),
  }),
});

builder.queryField("permissions", (t) =>
  t.field({
    type: [PermissionInfo],
    description: "Every permission a role can hold (a fixed catalogue of 20, so not paginated), for role editors.",
    authScopes: { authenticated: true },
    resolve: () => ALL_PERMISSIONS.map((key) => ({ key, description: PERMISSIONS[key] })),
  }),
);

// ---- Mutations ----------------------------------------------------------------------------

function rolePayload(name: string, replayable = false) {
  return builder.objectRef<{ roleId: string; replayed?: boolean }>(name).implement({
    fields: (t) => ({
      role: t.prismaField({
        type: "Role",
        resolve: async (query, payload, _args, context) =>
          found(await context.prisma.role.findUnique({ ...query, where: { id: payload.roleId } }), "Role"),
      }),
      ...(replayable ? { replayed: t.boolean({ description: REPLAYED_DESCRIPTION, resolve: (payload) => payload.replayed === true }) } : {}),
    }),
  });
}

const CreateRoleInput = builder.inputType("CreateRoleInput", {
  fields: (t) => ({
    // organization.ts imports this file: its type's ref comes by model name.
    organizationId: t.globalID({ for: prismaObjectRef("Organization"), required: true }),
    name: t.string({ required: true }),
    key: t.string({ required: false, description: "Unique in the organization; derived from the name when absent (\"Billing manager\" → billing_manager)" }),
    description: t.string({ required: false }),
    permissions: t.stringList({ required: true, description: "Keys from the `permissions` catalogue" }),
    isDefault: t.boolean({ required: false, description: "Make this the role new members get" }),
    idempotencyKey: t.string({ required: false, description: IDEMPOTENCY_KEY_DESCRIPTION }),
  }),
});

builder.mutationField("createRole", (t) =>
  t.field({
    type: rolePayload("CreateRolePayload", true),
    description: "Creates a custom role. Needs roles:create, and you must hold every permission you put in it.",
    args: { input: t.arg({ type: CreateRoleInput, required: true }) },
    authScopes: (_root, { input }, context) => permissionOn(context, "Organization", input.organizationId, "roles:create"),
    resolve: async (_root, { input }, context) => {
      const outcome = await idempotently(context, "createRole", input, (claim) => {
        const { idempotencyKey: _key, ...fields } = input;
        return createRole(
          context.prisma,
          context.actor(),
          { ...fields, organizationId: input.organizationId.id },
          claim,
        );
      });
      return { roleId: outcome.id, replayed: outcome.replayed };
    },
  }),
);

const UpdateRoleInput = builder.inputType("UpdateRoleInput", {
  fields: (t) => ({
    roleId: t.globalID({ for: RoleNode, required: true }),
    name: t.string({ required: false }),
    description: t.string({ required: false }),
    permissions: t.stringList({ required: false, description: "Replaces the whole list" }),
    isDefault: t.boolean({ required: false }),
    expectedVersion: t.int({ required: false, description: EXPECTED_VERSION_DESCRIPTION }),
  }),
});

builder.mutationField("updateRole", (t) =>
  t.field({
    type: rolePayload("UpdateRolePayload"),
    description: "Edits a custom role (system roles can't be edited). Needs roles:update and every permission the role has or gets.",
    args: { input: t.arg({ type: UpdateRoleInput, required: true }) },
    authScopes: (_root, { input }, context) => permissionOn(context, "Role", input.roleId, "roles:update"),
    resolve: async (_root, { input }, context) => {
      const role = await updateRole(context.prisma, context.actor(), {
        ...input,
        roleId: input.roleId.id,
      });
      return { roleId: role.id };
    },
  }),
);

const DeleteRoleInput = builder.inputType("DeleteRoleInput", {
  fields: (t) => ({
    roleId: t.globalID({ for: RoleNode, required: true }),
    reassignToRoleId: t.globalID({ for: RoleNode, required: false, description: "Where members and invitations holding the role go; required while there are any" }),
    expectedVersion: t.int({ required: false, description: EXPECTED_VERSION_DESCRIPTION }),
  }),
});

const DeleteRolePayload = builder.objectRef<{ deletedRoleId: string }>("DeleteRolePayload").implement({
  fields: (t) => ({ deletedRoleId: t.id({ resolve: (payload) => encodeGlobalID("Role", payload.deletedRoleId) }) }),
});

builder.mutationField("deleteRole", (t) =>
  t.field({
    type: DeleteRolePayload,
    description: "Deletes a custom role. Needs roles:delete. A role still held needs reassignToRoleId (CONFLICT otherwise).",
    args: { input: t.arg({ type: DeleteRoleInput, required: true }) },
    authScopes: (_root, { input }, context) => permissionOn(context, "Role", input.roleId, "roles:delete"),
    resolve: async (_root, { input }, context) => ({
      deletedRoleId: await deleteRole(context.prisma, context.actor(), {
        roleId: input.roleId.id,
        reassignToRoleId: input.reassignToRoleId?.id ?? null,
        expectedVersion: input.expectedVersion,
      }),
    }),
  }),
);
