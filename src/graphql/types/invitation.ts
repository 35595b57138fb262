// Invitation: an offer of membership sent to an email address. Visible to its addressee and to
// members holding invitations:read. The service sends no email: createInvitation returns the
// secret token once, and the caller delivers it (e.g. in a link).
import { builder, PAGE_SIZES } from "../builder.js";
import { requireIdCursors } from "../cursors.js";
import { permissionOn } from "../mutation-scopes.js";
import {
  acceptInvitation,
  createInvitation,
  declineInvitation,
  resendInvitation,
  revokeInvitation,
} from "../../domain/invitations.js";
import { visibleNodes } from "../node-loading.js";
import { found } from "../../core/errors.js";
import { IDEMPOTENCY_KEY_DESCRIPTION, idempotently, REPLAYED_DESCRIPTION } from "../idempotency.js";
import { InvitationStatusEnum } from "./enums.js";
import { inOrganization } from "../loaders.js";
import { OrganizationNode } from "./organization.js";
import { RoleNode } from "./role.js";
import { UserNode, visibleUser } from "./user.js";

export const InvitationNode = builder.prismaNode("Invitation", {
  id: { field: "id" },
  nullable: true,
  authScopes: (invitation) => ({
    $any: {
      invitee: invitation.email,
      orgPermission: { organizationId: invitation.organizationId, permission: "invitations:read" },
    },
  }),
  ...visibleNodes("Invitation", (context) => context.policy.invitationsWhere()),
  fields: (t) => ({
    email: t.expose("email", { type: "EmailAddress" }),
    status: t.field({
      type: InvitationStatusEnum,
      description: "EXPIRED as soon as expiresAt has passed, even before anyone tried to accept it",
      resolve: (invitation) => (invitation.status === "PENDING" && invitation.expiresAt <= new Date() ? "EXPIRED" : invitation.status),
    }),
    expiresAt: t.expose("expiresAt", { type: "DateTime" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    organizationName: t.string({
      description: "Shown to the invitee, who can't see the organization itself yet",
      resolve: async (invitation, _args, context) => (await context.loaders.organizationById.load(invitation.organizationId))?.name ?? "",
    }),
    organization: t.field({
      type: OrganizationNode,
      nullable: true,
      description: "Null unless you are a member who may see it",
      resolve: async (invitation, _args, context) => {
        const [allowed, organization] = await Promise.all([
          context.policy.can(invitation.organizationId, "org:read"),
          context.loaders.organizationById.load(invitation.organizationId),
        ]);
        return allowed ? organization : null;
      },
    }),
    role: t.field({
      type: RoleNode,
      nullable: true,
      description: "The role the invitee will get (null for a custom role you can't see)",
      resolve: async (invitation, _args, context) => {
        const [member, role] = await Promise.all([
          context.policy.isActiveMember(invitation.organizationId),
          context.loaders.roleById.load(invitation.roleId),
        ]);
        return role && (role.organizationId === null || member) ? inOrganization(role, invitation.organizationId) : null;
      },
    }),
    roleName: t.string({
      description: "The name of that role, shown to the invitee",
      resolve: async (invitation, _args, context) => (await context.loaders.roleById.load(invitation.roleId))?.name ?? "",
    }),
    invitedBy: t.field({
      type: UserNode,
      nullable: true,
      resolve: (invitation, _args, context) => visibleUser(context, invitation.invitedById),
    }),
  }),
});

// ---- Mutations ----------------------------------------------------------------------------

function invitationPayload(name: string, withToken: boolean) {
  return builder.objectRef<{ invitationId: string; token?: string }>(name).implement({
    fields: (t) => ({
      invitation: t.prismaField({
        type: "Invitation",
        resolve: async (query, payload, _args, context) =>
          found(await context.prisma.invitation.findUnique({ ...query, where: { id: payload.invitationId } }), "Invitation"),
      }),
      ...(withToken
        ? {
            token: t.string({
              description: "The invitation's secret, shown only now: deliver it to the invitee (acceptInvitation takes it)",
              resolve: (payload) => payload.token!,
            }),
          }
        : {}),
    }),
  });
}

const CreateInvitationInput = builder.inputType("CreateInvitationInput", {
  fields: (t) => ({
    organizationId: t.globalID({ for: OrganizationNode, required: true }),
    email: t.field({ type: "EmailAddress", required: true }),
    roleId: t.globalID({ for: RoleNode, required: false, description: "Defaults to the organization's default role" }),
    expiresInDays: t.int({ required: false, description: "1-30, default 7" }),
    idempotencyKey: t.string({ required: false, description: IDEMPOTENCY_KEY_DESCRIPTION }),
  }),
});

const CreateInvitationPayload = builder.objectRef<{ invitationId: string; token: string | null; replayed: boolean }>("CreateInvitationPayload").implement({
  fields: (t) => ({
    invitation: t.prismaField({
      type: "Invitation",
      resolve: async (query, payload, _args, context) =>
        found(await context.prisma.invitation.findUnique({ ...query, where: { id: payload.invitationId } }), "Invitation"),
    }),
    token: t.string({
      nullable: true,
      description:
        "The invitation's secret, shown only now: deliver it to the invitee (acceptInvitation takes it). Null on a replay (replayed: true): secrets are never stored, so call resendInvitation for a fresh one.",
      resolve: (payload) => payload.token,
    }),
    replayed: t.exposeBoolean("replayed", { description: REPLAYED_DESCRIPTION }),
  }),
});

builder.mutationField("createInvitation", (t) =>
  t.field({
    type: CreateInvitationPayload,
    description: "Invites an email address. Needs invitations:create, and you can only offer roles within your own permissions.",
    args: { input: t.arg({ type: CreateInvitationInput, required: true }) },
    authScopes: (_root, { input }, context) => permissionOn(context, "Organization", input.organizationId, "invitations:create"),
    resolve: async (_root, { input }, context) => {
      let token: string | null = null;
      const outcome = await idempotently(context, "createInvitation", input, async (claim) => {
        const created = await createInvitation(
          context.prisma,
          context.actor(),
          {
            organizationId: input.organizationId.id,
            email: input.email,
            roleId: input.roleId?.id ?? null,
            expiresInDays: input.expiresInDays,
          },
          claim,
        );
        token = created.token;
        return created.invitation;
      });
      return { invitationId: outcome.id, token: outcome.replayed ? null : token, replayed: outcome.replayed };
    },
  }),
);

const ResendInvitationInput = builder.inputType("ResendInvitationInput", {
  fields: (t) => ({ invitationId: t.globalID({ for: InvitationNode, required: true }), expiresInDays: t.int({ required: false, description: "1-30, default 7" }) }),
});

builder.mutationField("resendInvitation", (t) =>
  t.field({
    type: invitationPayload("ResendInvitationPayload", true),
    description: "A new secret and expiry for a pending or expired invitation; the old secret stops working. Needs invitations:create.",
    args: { input: t.arg({ type: ResendInvitationInput, required: true }) },
    authScopes: (_root, { input }, context) => permissionOn(context, "Invitation", input.invitationId, "invitations:create"),
    resolve: async (_root, { input }, context) => {
      const { invitation, token } = await resendInvitation(context.prisma, context.actor(), {
        invitationId: input.invitationId.id,
        expiresInDays: input.expiresInDays,
      });
      return { invitationId: invitation.id, token };
    },
  }),
);

const RevokeInvitationInput = builder.inputType("RevokeInvitationInput", {
  fields: (t) => ({ invitationId: t.globalID({ for: InvitationNode, required: true }) }),
});

builder.mutationField("revokeInvitation", (t) =>
  t.field({
    type: invitationPayload("RevokeInvitationPayload", false),
    description: "Withdraws a pending invitation. Needs invitations:delete.",
    args: { input: t.arg({ type: RevokeInvitationInput, required: true }) },
    authScopes: (_root, { input }, context) => permissionOn(context, "Invitation", input.invitationId, "invitations:delete"),
    resolve: async (_root, { input }, context) => {
      const invitation = await revokeInvitation(context.prisma, context.actor(), {
        invitationId: input.invitationId.id,
      });
      return { invitationId: invitation.id };
    },
  }),
);

const InvitationTokenInput = (name: string) =>
  builder.inputType(name, { fields: (t) => ({ token: t.string({ required: true, description: "The secret from createInvitation" }) }) });

const AcceptInvitationPayload = builder.objectRef<{ memberId: string }>("AcceptInvitationPayload").implement({
  fields: (t) => ({
    member: t.prismaField({
      type: "Member",
      resolve: async (query, payload, _args, context) => found(await context.prisma.member.findUnique({ ...query, where: { id: payload.memberId } }), "Member"),
    }),
  }),
});

builder.mutationField("acceptInvitation", (t) =>
  t.field({
    type: AcceptInvitationPayload,
    description:
      "Joins the organization. Only the signed-in user the invitation was sent to can accept it, once, before it expires (INVITATION_EXPIRED), and only while the inviter can still grant its role.",
    args: { input: t.arg({ type: InvitationTokenInput("AcceptInvitationInput"), required: true }) },
    authScopes: { authenticated: true },
    resolve: async (_root, { input }, context) => {
      const member = await acceptInvitation(context.prisma, context.actor(), { token: input.token });
      return { memberId: member.id };
    },
  }),
);

builder.mutationField("declineInvitation", (t) =>
  t.field({
    type: invitationPayload("DeclineInvitationPayload", false),
    description: "Turns an invitation down. Only its addressee can.",
    args: { input: t.arg({ type: InvitationTokenInput("DeclineInvitationInput"), required: true }) },
    authScopes: { authenticated: true },
    resolve: async (_root, { input }, context) => {
      const invitation = await declineInvitation(context.prisma, context.actor(), { token: input.token });
      return { invitationId: invitation.id };
    },
  }),
);

// ---- Lists ----------------------------------------------------------------------------------

builder.prismaObjectField("User", "invitations", (t) =>
  t.prismaConnection({
    type: "Invitation",
    cursor: "id",
    ...PAGE_SIZES,
    description: "Pending, unexpired invitations addressed to this user's primary or verified addresses. Only the user themselves can list them.",
    authScopes: (user) => ({ self: user.id }),
    totalCount: (_user, _args, context) =>
      context.prisma.invitation.count({ where: { email: { in: context.viewer?.emails ?? [] }, status: "PENDING", expiresAt: { gt: new Date() } } }),
    resolve: (query, _user, args, context) => {
      requireIdCursors(args);
      return context.prisma.invitation.findMany({
        ...query,
        where: { email: { in: context.viewer?.emails ?? [] }, status: "PENDING", expiresAt: { gt: new Date() } },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      });
    },
  }),
);

builder.prismaObjectField("Organization", "invitations", (t) =>
  t.relatedConnection("invitations", {
    cursor: "id",
    ...PAGE_SIZES,
    totalCount: true,
    description: "The organization's invitations, newest first. Needs invitations:read",
    authScopes: (organization) => ({ orgPermission: { organizationId: organization.id, permission: "invitations:read" } }),
    args: { status: t.arg({ type: InvitationStatusEnum, required: false }) },
    query: (args) => {
      requireIdCursors(args);
      const now = new Date();
      // EXPIRED is also what a PENDING invitation past its expiry shows as.
      const where =
        args.status === "EXPIRED"
          ? { OR: [{ status: "EXPIRED" as const }, { status: "PENDING" as const, expiresAt: { lte: now } }] }
          : args.status === "PENDING"
            ? { status: "PENDING" as const, expiresAt: { gt: now } }
            : args.status
              ? { status: args.status }
              : {};
      return { where, orderBy: [{ createdAt: "desc" as const }, { id: "desc" as const }] };
    },
  }),
);
