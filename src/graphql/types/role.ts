// Role: a named set of permissions. System roles (owner, admin, member) are shared by every
// organization; custom roles belong to one. A role reached through an organization carries
// that organization, so `memberCount` counts its members there.
import { builder } from "../builder.js";
import type { RoleInOrganization } from "../loaders.js";
import { asUuid } from "./common.js";

export const RoleNode = builder.prismaNode("Role", {
  id: { field: "id" },
  // Unknown and not-visible ids both load as null, so node(id:) reveals nothing.
  nullable: true,
  authScopes: (role) =>
    role.organizationId === null ? { authenticated: true } : { orgMember: role.organizationId },
  findUnique: (id, context) => ({ id: asUuid(id), AND: [context.policy.rolesWhere()] }),
  fields: (t) => ({
    key: t.exposeString("key", { description: "Stable identifier, unique within the organization (owner, admin, member, or a custom key)" }),
    name: t.exposeString("name"),
    description: t.exposeString("description", { nullable: true }),
    permissions: t.exposeStringList("permissions"),
    isSystem: t.exposeBoolean("isSystem", { description: "Built-in roles can't be edited or deleted" }),
    isDefault: t.exposeBoolean("isDefault", { description: "The role new members get when none is given" }),
    organization: t.relation("organization", { nullable: true, description: "Null for system roles" }),
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
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

