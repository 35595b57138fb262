// Member: one user's membership in one organization. Visible to the member themselves and to
// callers holding members:read in that organization.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { ALLOWED, need } from "../../core/rules.js";
import { acceptMembership, addMember, declineMembership, onlySettings, leaveOrganization, reactivateMember, removeMember, suspendMember, updateMember, updateMemberRole } from "../../domain/members.js";
import { builder, prismaObjectRef } from "../builder.js";
import { permissionOn, ruleOn } from "../mutation-scopes.js";
import { inOrganization } from "../loaders.js";
import { isPreloaded } from "../../db/queries/member-pages.js";
import { EXPECTED_VERSION_DESCRIPTION } from "../common.js";
import { visibleNodes } from "../node-loading.js";
import { found } from "../../core/errors.js";
import { IDEMPOTENCY_KEY_DESCRIPTION, idempotently, REPLAYED_DESCRIPTION } from "../idempotency.js";
import { MemberStatusEnum } from "./enums.js";
import { RoleNode } from "./role.js";
import { UserNode, visibleUser } from "./user.js";
import { memberUserAsSeen } from "../stand-in-user.js";
import type { Member, User } from "../../generated/prisma/client.js";

export const MemberNode = builder.prismaNode("Member", {
  id: { field: "id" },
  // Unknown and not-visible ids both load as null, so node(id:) reveals nothing.
  nullable: true,
  authScopes: (member, context) => {
    const scopes = (visible: boolean) =>
      visible ? { authenticated: true } : { orgPermission: { organizationId: member.organizationId, permission: "members:read" as const } };
    const visible = context.policy.canSeeMember(member);
    return visible instanceof Promise ? visible.then(scopes) : scopes(visible);
  },
  ...visibleNodes("Member", (context) => context.policy.membersWhere()),
  // Every member is loaded with its user and role (joined in the same statement). The fields
  // below read them from the row, so members loaded by lean SQL (member-pages.ts) and by
  // plugin-prisma resolve alike, with no per-member query.
  include: { user: true, role: true },
  fields: (t) => ({
    user: t.field({
      type: UserNode,
      description: "Until a member added by someone else accepts (status PENDING), others see only the address they were added with (a stand-in with no other detail)",
      resolve: (member, _args, context) => {
        const seen = (user: User) => memberUserAsSeen(member, user, context.viewer?.user.id);
        // Typed as included, but a federation reference (entities.ts) comes without them.
        const row: Member = member;
        if (isPreloaded(row)) return seen(row.user);
        return context.loaders.userById.load(member.userId).then((user) => {
          if (!user) throw new Error(`Member ${member.id} has no user`);
          return seen(user);
        });
      },
    }),
    role: t.field({
      type: RoleNode,
      description: "Seen from the member's organization (memberCount counts there)",
      resolve: (member, _args, context) => {
        const row: Member = member;
        if (isPreloaded(row)) return inOrganization(row.role, member.organizationId);
        return context.loaders.roleById.load(member.roleId).then((role) => {
          if (!role) throw new Error(`Member ${member.id} has no role`);
          return inOrganization(role, member.organizationId);
        });
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
    version: t.exposeInt("version", {
      description: "Incremented by every change. Send it back as expectedVersion to fail with STALE_VERSION instead of overwriting someone else's change",
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

// ---- Mutations ----------------------------------------------------------------------------

/** Payloads that return one member, re-read with the client's selection. */
function memberPayload(name: string) {
  return builder.objectRef<{ memberId: string }>(name).implement({
    fields: (t) => ({
      member: t.prismaField({
        type: "Member",
        resolve: async (query, payload, _args, context) =>
          found(await context.prisma.member.findUnique({ ...query, where: { id: payload.memberId } }), "Member"),
      }),
    }),
  });
}

const AddMemberPayload = builder.objectRef<{ memberId: string; replayed: boolean }>("AddMemberPayload").implement({
  fields: (t) => ({
    member: t.prismaField({
      type: "Member",
      resolve: async (query, payload, _args, context) =>
        found(await context.prisma.member.findUnique({ ...query, where: { id: payload.memberId } }), "Member"),
    }),
    replayed: t.exposeBoolean("replayed", { description: REPLAYED_DESCRIPTION }),
  }),
});

function removedMemberPayload(name: string) {
  return builder.objectRef<{ removedMemberId: string }>(name).implement({
    fields: (t) => ({
      removedMemberId: t.id({ resolve: (payload) => encodeGlobalID("Member", payload.removedMemberId) }),
    }),
  });
}

// organization.ts and location.ts import this file: their types' refs come by model name.
const OrganizationRef = prismaObjectRef("Organization");
const LocationRef = prismaObjectRef("Location");

const AddMemberInput = builder.inputType("AddMemberInput", {
  fields: (t) => ({
    organizationId: t.globalID({ for: OrganizationRef, required: true }),
    email: t.field({ type: "EmailAddress", required: true }),
    roleId: t.globalID({ for: RoleNode, required: false, description: "Defaults to the organization's default role" }),
    idempotencyKey: t.string({ required: false, description: IDEMPOTENCY_KEY_DESCRIPTION }),
  }),
});

builder.mutationField("addMember", (t) =>
  t.field({
    type: AddMemberPayload,
    description: "Adds a user by email (creating them as INVITED when unknown). Needs members:create; you can only grant roles within your own permissions.",
    args: { input: t.arg({ type: AddMemberInput, required: true }) },
    authScopes: (_root, { input }, context) => permissionOn(context, "Organization", input.organizationId, "members:create"),
    resolve: async (_root, { input }, context) => {
      const outcome = await idempotently(context, "addMember", input, (claim) =>
        addMember(
          context.prisma,
          context.actor(),
          {
            organizationId: input.organizationId.id,
            email: input.email,
            roleId: input.roleId?.id ?? null,
          },
          claim,
        ),
      );
      return { memberId: outcome.id, replayed: outcome.replayed };
    },
  }),
);

const UpdateMemberRoleInput = builder.inputType("UpdateMemberRoleInput", {
  fields: (t) => ({
    memberId: t.globalID({ for: MemberNode, required: true }),
    roleId: t.globalID({ for: RoleNode, required: true }),
    expectedVersion: t.int({ required: false, description: EXPECTED_VERSION_DESCRIPTION }),
  }),
});

builder.mutationField("updateMemberRole", (t) =>
  t.field({
    type: memberPayload("UpdateMemberRolePayload"),
    description: "Changes a member's role. Needs members:update; the owner role is granted and taken only by owners; an organization keeps at least one owner (LAST_OWNER).",
    args: { input: t.arg({ type: UpdateMemberRoleInput, required: true }) },
    authScopes: (_root, { input }, context) => permissionOn(context, "Member", input.memberId, "members:update"),
    resolve: async (_root, { input }, context) => {
      const member = await updateMemberRole(context.prisma, context.actor(), {
        memberId: input.memberId.id,
        roleId: input.roleId.id,
        expectedVersion: input.expectedVersion,
      });
      return { memberId: member.id };
    },
  }),
);

const MemberSettingsInput = builder.inputType("MemberSettingsInput", {
  fields: (t) => ({
    profilePictureUrl: t.string({ required: false, description: "An https URL; null clears it" }),
    defaultLocationId: t.globalID({ for: LocationRef, required: false, description: "One of the member's locations; null clears it" }),
  }),
});

const UpdateMemberInput = builder.inputType("UpdateMemberInput", {
  fields: (t) => ({
    memberId: t.globalID({ for: MemberNode, required: true }),
    publicMetadata: t.field({ type: "JSONObject", required: false, description: "Replaces the whole object; at most 8 KB" }),
    privateMetadata: t.field({ type: "JSONObject", required: false, description: "Replaces the whole object; at most 8 KB; needs members:read_private too" }),
    isPrimary: t.boolean({ required: false, description: "Makes this member the organization's primary contact (only one is)" }),
    settings: t.field({ type: MemberSettingsInput, required: false, description: "The member may change their own settings; others need members:update" }),
    expectedVersion: t.int({ required: false, description: EXPECTED_VERSION_DESCRIPTION }),
  }),
});

builder.mutationField("updateMember", (t) =>
  t.field({
    type: memberPayload("UpdateMemberPayload"),
    description: "Changes a member's metadata or primary-contact flag. Needs members:update.",
    args: { input: t.arg({ type: UpdateMemberInput, required: true }) },
    // The member may change their own settings; everything else needs members:update.
    authScopes: (_root, { input }, context) => {
      const memberId = input.memberId.id;
      return ruleOn(context, "Member", input.memberId, (standing) =>
        // Whether the caller outranks the member is checked in the transaction (memberRules.update).
        onlySettings(input) && standing.memberId === memberId ? ALLOWED : need(standing, "members:update"),
      );
    },
    resolve: async (_root, { input }, context) => {
      const member = await updateMember(context.prisma, context.actor(), {
        memberId: input.memberId.id,
        publicMetadata: input.publicMetadata,
        privateMetadata: input.privateMetadata,
        isPrimary: input.isPrimary,
        settings: input.settings
          ? {
              profilePictureUrl: input.settings.profilePictureUrl,
              defaultLocationId: input.settings.defaultLocationId == null ? input.settings.defaultLocationId : input.settings.defaultLocationId.id,
            }
          : undefined,
        expectedVersion: input.expectedVersion,
      });
      return { memberId: member.id };
    },
  }),
);

const MemberIdInput = (name: string) =>
  builder.inputType(name, {
    fields: (t) => ({
      memberId: t.globalID({ for: MemberNode, required: true }),
      expectedVersion: t.int({ required: false, description: EXPECTED_VERSION_DESCRIPTION }),
    }),
  });

builder.mutationField("suspendMember", (t) =>
  t.field({
    type: memberPayload("SuspendMemberPayload"),
    description: "Suspends a member: they keep the membership but lose every permission in the organization. Needs members:update.",
    args: { input: t.arg({ type: MemberIdInput("SuspendMemberInput"), required: true }) },
    authScopes: (_root, { input }, context) => permissionOn(context, "Member", input.memberId, "members:update"),
    resolve: async (_root, { input }, context) => {
      const member = await suspendMember(context.prisma, context.actor(), {
        memberId: input.memberId.id,
        expectedVersion: input.expectedVersion,
      });
      return { memberId: member.id };
    },
  }),
);

builder.mutationField("reactivateMember", (t) =>
  t.field({
    type: memberPayload("ReactivateMemberPayload"),
    description: "Gives a suspended member their role's permissions back. Needs members:update.",
    args: { input: t.arg({ type: MemberIdInput("ReactivateMemberInput"), required: true }) },
    authScopes: (_root, { input }, context) => permissionOn(context, "Member", input.memberId, "members:update"),
    resolve: async (_root, { input }, context) => {
      const member = await reactivateMember(context.prisma, context.actor(), {
        memberId: input.memberId.id,
        expectedVersion: input.expectedVersion,
      });
      return { memberId: member.id };
    },
  }),
);

builder.mutationField("removeMember", (t) =>
  t.field({
    type: removedMemberPayload("RemoveMemberPayload"),
    description: "Removes a member from the organization. Needs members:delete. Their account and tokens stay.",
    args: { input: t.arg({ type: MemberIdInput("RemoveMemberInput"), required: true }) },
    authScopes: (_root, { input }, context) => permissionOn(context, "Member", input.memberId, "members:delete"),
    resolve: async (_root, { input }, context) => ({
      removedMemberId: await removeMember(context.prisma, context.actor(), {
        memberId: input.memberId.id,
        expectedVersion: input.expectedVersion,
      }),
    }),
  }),
);

const LeaveOrganizationInput = builder.inputType("LeaveOrganizationInput", {
  fields: (t) => ({ organizationId: t.globalID({ for: OrganizationRef, required: true }) }),
});

builder.mutationField("leaveOrganization", (t) =>
  t.field({
    type: removedMemberPayload("LeaveOrganizationPayload"),
    description: "Ends your own membership (also while suspended, or one you never accepted). The last owner can't leave (LAST_OWNER).",
    args: { input: t.arg({ type: LeaveOrganizationInput, required: true }) },
    authScopes: { authenticated: true },
    resolve: async (_root, { input }, context) => ({
      removedMemberId: await leaveOrganization(context.prisma, context.actor(), {
        organizationId: input.organizationId.id,
      }),
    }),
  }),
);

// ---- Answering a membership someone else made (addMember) ------------------------------------

const RespondToMembershipInput = (name: string) =>
  builder.inputType(name, { fields: (t) => ({ memberId: t.globalID({ for: MemberNode, required: true, description: "Your PENDING membership (viewer.memberships)" }) }) });

builder.mutationField("acceptMembership", (t) =>
  t.field({
    type: memberPayload("AcceptMembershipPayload"),
    description:
      "Accepts a membership someone added you to (status PENDING): it becomes ACTIVE with its role, and the organization sees your account from then on (if you already are a member there, it merges into that membership). INVALID_STATE when it isn't pending.",
    args: { input: t.arg({ type: RespondToMembershipInput("AcceptMembershipInput"), required: true }) },
    authScopes: { authenticated: true },
    resolve: async (_root, { input }, context) => {
      const member = await acceptMembership(context.prisma, context.actor(), { memberId: input.memberId.id });
      return { memberId: member.id };
    },
  }),
);

builder.mutationField("declineMembership", (t) =>
  t.field({
    type: removedMemberPayload("DeclineMembershipPayload"),
    description: "Declines a membership someone added you to (status PENDING): it is removed, and the organization never saw more than the address it used.",
    args: { input: t.arg({ type: RespondToMembershipInput("DeclineMembershipInput"), required: true }) },
    authScopes: { authenticated: true },
    resolve: async (_root, { input }, context) => ({
      removedMemberId: await declineMembership(context.prisma, context.actor(), { memberId: input.memberId.id }),
    }),
  }),
);
