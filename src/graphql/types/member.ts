// Member: one user's membership in one organization. Visible to the member themselves and to
// callers holding members:read in that organization.
import { builder } from "../builder.js";
import { inOrganization } from "../loaders.js";
import { asUuid } from "./common.js";
import { MemberStatusEnum } from "./enums.js";
import { RoleNode } from "./role.js";
import { UserNode, visibleUser } from "./user.js";

export const MemberNode = builder.prismaNode("Member", {
  id: { field: "id" },
  // Unknown and not-visible ids both load as null, so node(id:) reveals nothing.
  nullable: true,
  authScopes: (member) => ({
    $any: {
      self: member.userId,
      orgPermission: { organizationId: member.organizationId, permission: "members:read" },
    },
  }),
  findUnique: (id, context) => ({ id: asUuid(id), AND: [context.policy.membersWhere()] }),
  fields: (t) => ({
    organization: t.relation("organization"),
    user: t.relation("user"),
    role: t.field({
      type: RoleNode,
      resolve: async (member, _args, context) => {
        const role = await context.loaders.roleById.load(member.roleId);
        if (!role) throw new Error(`Member ${member.id} has no role ${member.roleId}`);
        return inOrganization(role, member.organizationId);
      },
    }),
    status: t.expose("status", { type: MemberStatusEnum }),
    isPrimary: t.exposeBoolean("isPrimary", { description: "The organization's primary contact" }),
    joinedAt: t.expose("joinedAt", { type: "DateTime" }),
    invitedBy: t.field({
      type: UserNode,
      nullable: true,
      description: "Who added or invited this member, when known and visible to you",
      resolve: (member, _args, context) => visibleUser(context, member.invitedById),
    }),
    publicMetadata: t.expose("publicMetadata", { type: "JSONObject" }),
    privateMetadata: t.expose("privateMetadata", {
      type: "JSONObject",
      description: "Needs members:read_private",
      authScopes: (member) => ({
        orgPermission: { organizationId: member.organizationId, permission: "members:read_private" },
      }),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});
