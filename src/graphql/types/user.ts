// User: a person. Visible to themselves and to those who may read members of an organization
// the user belongs to. The root `viewer` field returns the caller.
import { found } from "../../core/errors.js";
import { builder, PAGE_SIZES } from "../builder.js";
import { requireIdCursors } from "../cursors.js";
import type { Context } from "../context.js";
import { visibleNodes } from "../node-loading.js";
import { UserStatusEnum } from "./enums.js";
import { isStandIn } from "../stand-in-user.js";

export const UserNode = builder.prismaNode("User", {
  id: { field: "id" },
  // Unknown and not-visible ids both load as null, so node(id:) reveals nothing.
  nullable: true,
  // A stand-in (a pending member's user, as the organization sees it) is reached only through
  // its member, whose own scope has already been checked.
  authScopes: (user) => (isStandIn(user) ? { authenticated: true } : { userVisible: user.id }),
  ...visibleNodes("User", (context) => context.policy.usersWhere()),
  fields: (t) => ({
    email: t.expose("email", { type: "EmailAddress" }),
    firstName: t.exposeString("firstName", { nullable: true }),
    lastName: t.exposeString("lastName", { nullable: true }),
    name: t.string({
      nullable: true,
      description: "First and last name, or null when neither is known",
      resolve: (user) => [user.firstName, user.lastName].filter(Boolean).join(" ") || null,
    }),
    imageUrl: t.exposeString("imageUrl", { nullable: true }),
    timezone: t.expose("timezone", { type: "TimeZone", nullable: true }),
    status: t.expose("status", { type: UserStatusEnum }),
    invitedAt: t.expose("invitedAt", { type: "DateTime", nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    memberships: t.relatedConnection("memberships", {
      description: "The organizations this user belongs to. Only the user themselves can list them.",
      cursor: "id",
      ...PAGE_SIZES,
      totalCount: true,
      authScopes: (user) => ({ self: user.id }),
      query: (args) => {
        requireIdCursors(args);
        return { orderBy: [{ joinedAt: "asc" }, { id: "asc" }] };
      },
    }),
  }),
});

/** Resolves a user id to the user when the caller may see them, else null (never an error). */
export async function visibleUser(context: Context, userId: string | null) {
  if (!userId) return null;
  // Both loads start in this tick, so every parent on the page shares one batch of each.
  const [visible, user] = await Promise.all([context.policy.canSeeUser(userId), context.loaders.userById.load(userId)]);
  return visible ? user : null;
}

builder.queryField("viewer", (t) =>
  t.prismaField({
    type: "User",
    description: "The signed-in caller.",
    authScopes: { authenticated: true },
    resolve: async (query, _root, _args, context) =>
      found(await context.prisma.user.findUnique({ ...query, where: { id: context.actor().userId } }), "User"),
  }),
);
