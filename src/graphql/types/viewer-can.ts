// What the viewer may do, for UIs: `viewerCan` on Member, Organization and Role, and the
// explainable checks `canAssignRole` and `checkPermissions`. Every answer comes from the rules
// in core/rules.ts that the mutations enforce, so an enabled button is a mutation that succeeds,
// and a `reason` here is the `extensions.reason` the refused mutation would return.
// Batched: the viewer's standing comes with the request, roles and users from the loaders,
// owner counts from one loader call per page, so a page of members costs no statement per member.
import type { Member, Role } from "../../generated/prisma/client.js";
import { OWNER_ROLE_ID, type Permission } from "../../core/permissions.js";
import { atLocation, type StandingWithLocations } from "../../auth/policy.js";
import {
  DENIAL_REASONS,
  deny,
  invitationRules,
  locationRules,
  memberRules,
  need,
  organizationRules,
  roleRules,
  targetWithPermissions,
  type Decision,
  type DenialReason,
  type OwnerCount,
  type TargetMember,
} from "../../core/rules.js";
import { AppError, invalid } from "../../core/errors.js";
import { validatePermissions } from "../../domain/roles.js";
import { builder } from "../builder.js";
import type { Context } from "../context.js";
import type { RoleInOrganization } from "../loaders.js";
import { isPreloaded } from "../../db/queries/member-pages.js";
import { allExplainedIn, explainedIn } from "../mutation-scopes.js";
import { LocationNode } from "./location.js";
import { MemberNode } from "./member.js";
import { OrganizationNode } from "./organization.js";
import { RoleNode } from "./role.js";

const DenialReasonEnum = builder.enumType("DenialReason", {
  description: "Why something is not allowed. The same value is `extensions.reason` of the refused mutation.",
  values: Object.fromEntries(
    Object.entries(DENIAL_REASONS).map(([key, description]) => [key, { value: key as DenialReason, description }]),
  ) as Record<DenialReason, { value: DenialReason; description: string }>,
});

const CheckResult = builder.objectRef<Decision>("CheckResult").implement({
  description: "The answer of an explainable check",
  fields: (t) => ({
    allowed: t.boolean({ resolve: (decision) => decision.allowed }),
    reason: t.field({ type: DenialReasonEnum, nullable: true, description: "Null when allowed", resolve: (decision) => decision.reason }),
    message: t.string({ nullable: true, description: "A sentence for people; null when allowed", resolve: (decision) => decision.message }),
  }),
});

const PermissionCheck = builder.objectRef<Decision & { permission: string }>("PermissionCheck").implement({
  description: "Whether you hold one permission in an organization",
  fields: (t) => ({
    permission: t.exposeString("permission"),
    allowed: t.boolean({ resolve: (decision) => decision.allowed }),
    reason: t.field({ type: DenialReasonEnum, nullable: true, resolve: (decision) => decision.reason }),
    message: t.string({ nullable: true, resolve: (decision) => decision.message }),
  }),
});

const ActionCheck = builder.objectRef<Decision & { action: string }>("ActionCheck").implement({
  description: "One action of a viewerCan object, with the reason when it is not allowed",
  fields: (t) => ({
    action: t.exposeString("action", { description: "The viewerCan field this explains, e.g. \"remove\"" }),
    allowed: t.boolean({ resolve: (decision) => decision.allowed }),
    reason: t.field({ type: DenialReasonEnum, nullable: true, resolve: (decision) => decision.reason }),
    message: t.string({ nullable: true, resolve: (decision) => decision.message }),
  }),
});

/** A viewerCan object: one decision per action, computed once per parent object. */
type Decisions<Action extends string> = Record<Action, Decision>;

function viewerCanType<Action extends string>(name: string, description: string, actions: Record<Action, string>) {
  return builder.objectRef<Decisions<Action>>(name).implement({
    description,
    fields: (t) => ({
      ...(Object.fromEntries(
        (Object.entries(actions) as [Action, string][]).map(([action, text]) => [
          action,
          t.boolean({ description: text, resolve: (decisions) => decisions[action].allowed }),
        ]),
      ) as Record<Action, ReturnType<typeof t.boolean>>),
      checks: t.field({
        type: [ActionCheck],
        description: "Every action above with the reason it is refused (for tooltips and disabled states)",
        resolve: (decisions) =>
          (Object.keys(actions) as Action[]).map((action): Decision & { action: string } => ({ action, ...(decisions[action] as Decision) })),
      }),
    }),
  });
}

const MEMBER_ACTIONS = {
  update: "updateMember (metadata, primary contact)",
  updateRole: "updateMemberRole to some role (canAssignRole answers for one role)",
  suspend: "suspendMember",
  reactivate: "reactivateMember",
  remove: "removeMember",
  transferOwnershipTo: "transferOwnership with this member as the new owner",
  leave: "leaveOrganization (on your own membership; works while suspended)",
  updateSettings: "updateMember with only settings (the member themself, or members:update)",
  setLocations: "setMemberLocations: at the location given by viewerCan(locationId:), else organization-wide",
};

const ORGANIZATION_ACTIONS = {
  update: "updateOrganization",
  delete: "deleteOrganization",
  addMember: "addMember",
  createRole: "createRole",
  invite: "createInvitation",
  readAuditLog: "read auditEvents",
  manageWebhooks: "createWebhookEndpoint (and the other webhook mutations)",
  readMembers: "list members",
  readRoles: "list roles",
  readInvitations: "list invitations",
  transferOwnership: "transferOwnership",
  leave: "leaveOrganization",
};

const ROLE_ACTIONS = {
  update: "updateRole",
  delete: "deleteRole",
  assign: "give this role to members (updateMemberRole)",
};

const LOCATION_ACTIONS = {
  update: "updateLocation",
  delete: "deleteLocation",
  assignMembers: "setMemberLocations for members at this location (still subject to each member's rank)",
};

const INVITATION_ACTIONS = {
  revoke: "revokeInvitation",
  resend: "resendInvitation (a new secret and expiry)",
};

const MemberViewerCan = viewerCanType("MemberViewerCan", "What you may do to this member", MEMBER_ACTIONS);
const OrganizationViewerCan = viewerCanType("OrganizationViewerCan", "What you may do in this organization", ORGANIZATION_ACTIONS);
const LocationViewerCan = viewerCanType("LocationViewerCan", "What you may do at this location (roles held here count)", LOCATION_ACTIONS);
const InvitationViewerCan = viewerCanType("InvitationViewerCan", "What you may do with this invitation", INVITATION_ACTIONS);
const RoleViewerCan = viewerCanType("RoleViewerCan", "What you may do with this role in the organization it is seen from", ROLE_ACTIONS);

// ---- Facts, batched ---------------------------------------------------------------------------

/** The owner count, loaded only when a rule could need it (the target is an owner). */
async function ownerCount(context: Context, organizationId: string, relevant: boolean): Promise<OwnerCount> {
  const count = relevant ? await context.loaders.activeOwnerCount.load(organizationId) : Number.POSITIVE_INFINITY;
  return () => count;
}

/** The member as the rules see them, organization-wide. */
async function targetMember(context: Context, member: Member): Promise<TargetMember> {
  const [role, user] = isPreloaded(member)
    ? [member.role, member.user]
    : await Promise.all([context.loaders.roleById.load(member.roleId), context.loaders.userById.load(member.userId)]);
  return { id: member.id, roleId: member.roleId, status: member.status, rolePermissions: role?.permissions ?? [], userActive: user?.status === "ACTIVE" };
}

/** The member at a location: the permissions of their roles there add to their organization role's. */
async function targetAtLocation(context: Context, target: TargetMember, locationId: string): Promise<TargetMember> {
  const here = (await context.loaders.memberLocations.load(target.id)).find((entry) => entry.locationId === locationId)?.roleIds ?? [];
  const extra = (await context.loaders.roleById.loadMany(here)).flatMap((r) => (r && !(r instanceof Error) ? r.permissions : []));
  return targetWithPermissions(target, extra);
}

/**
 * Organization-wide actions are decided with the organization-wide standing; only setLocations
 * is decided at the location asked about (both standings, the caller's and the member's, there).
 */
async function memberDecisions(context: Context, member: Member, locationId: string | null = null): Promise<Decisions<keyof typeof MEMBER_ACTIONS>> {
  const [standing, target] = await Promise.all([context.policy.standing(member.organizationId), targetMember(context, member)]);
  const standingThere = atLocation(standing, locationId);
  const targetThere = locationId ? await targetAtLocation(context, target, locationId) : target;
  const owners = await ownerCount(context, member.organizationId, target.roleId === OWNER_ROLE_ID);
  return allExplainedIn(context, member.organizationId, {
    update: memberRules.update(standing, target),
    updateRole: memberRules.updateRole(standing, target, owners),
    suspend: memberRules.suspend(standing, target, owners),
    reactivate: memberRules.reactivate(standing, target),
    remove: memberRules.remove(standing, target, owners),
    transferOwnershipTo: memberRules.transferOwnershipTo(standing, target),
    leave:
      standing.memberId === member.id
        ? organizationRules.leave(standing, target, owners)
        : deny("INELIGIBLE", "Only your own membership can be left"),
    updateSettings: memberRules.updateSettings(standing, target),
    setLocations: locationRules.assignAt(standingThere, targetThere, []),
  });
}

function selfTarget(standing: StandingWithLocations): TargetMember | null {
  if (!standing.memberId || !standing.roleId || !standing.status) return null;
  return { id: standing.memberId, roleId: standing.roleId, status: standing.status, rolePermissions: [...standing.permissions], userActive: true };
}

async function organizationDecisions(context: Context, organizationId: string): Promise<Decisions<keyof typeof ORGANIZATION_ACTIONS>> {
  const standing = await context.policy.standing(organizationId);
  const owners = await ownerCount(context, organizationId, standing.roleId === OWNER_ROLE_ID);
  return allExplainedIn(context, organizationId, {
    update: organizationRules.update(standing),
    delete: organizationRules.delete(standing),
    addMember: organizationRules.addMember(standing),
    createRole: organizationRules.createRole(standing),
    invite: organizationRules.invite(standing),
    readAuditLog: organizationRules.readAuditLog(standing),
    manageWebhooks: organizationRules.manageWebhooks(standing),
    readMembers: need(standing, "members:read"),
    readRoles: need(standing, "roles:read"),
    readInvitations: need(standing, "invitations:read"),
    transferOwnership: organizationRules.transferOwnership(standing),
    leave: organizationRules.leave(standing, selfTarget(standing), owners),
  });
}

const NOT_FOUND_ANYWHERE = deny("NOT_FOUND", "Pass organizationId to ask about a system role in one of your organizations");

async function roleDecisions(context: Context, role: Role, organizationId: string | null): Promise<Decisions<keyof typeof ROLE_ACTIONS>> {
  if (!organizationId) return { update: NOT_FOUND_ANYWHERE, delete: NOT_FOUND_ANYWHERE, assign: NOT_FOUND_ANYWHERE };
  const standing = await context.policy.standing(organizationId);
  return allExplainedIn(context, organizationId, {
    update: roleRules.update(standing, role),
    delete: roleRules.delete(standing, role),
    assign: roleRules.assign(standing, role),
  });
}

// ---- Fields ---------------------------------------------------------------------------------

/** A location argument: a Location ID of this organization, else BAD_USER_INPUT / NOT_FOUND. */
async function locationArg(context: Context, organizationId: string, id: { id: string } | null | undefined): Promise<string | null> {
  if (id == null) return null;
  const locationId = id.id;
  const location = await context.loaders.locationById.load(locationId);
  if (!location || location.organizationId !== organizationId) throw new AppError("NOT_FOUND", "Location not found", { field: "locationId" });
  return locationId;
}

const LOCATION_ARG_DESCRIPTION = "Answer at this location of the organization: roles held there count";

builder.prismaObjectField("Member", "viewerCan", (t) =>
  t.field({
    type: MemberViewerCan,
    description: "What you may do to this member, by the same rules the mutations enforce",
    args: {
      locationId: t.arg.globalID({ for: LocationNode, required: false, description: "Answer setLocations at this location (roles held there count); the other actions are organization-wide" }),
    },
    resolve: async (member, args, context) => memberDecisions(context, member, await locationArg(context, member.organizationId, args.locationId)),
  }),
);

builder.prismaObjectField("Organization", "viewerCan", (t) =>
  t.field({
    type: OrganizationViewerCan,
    description: "What you may do in this organization (organization-wide actions), by the same rules the mutations enforce",
    resolve: (organization, _args, context) => organizationDecisions(context, organization.id),
  }),
);

builder.prismaObjectField("Location", "viewerCan", (t) =>
  t.field({
    type: LocationViewerCan,
    description: "What you may do at this location, by the same rules the mutations enforce",
    resolve: async (location, _args, context) => {
      const standing = await context.policy.standingAt(location.organizationId, location.id);
      return {
        update: locationRules.update(standing),
        delete: locationRules.delete(await context.policy.standing(location.organizationId)),
        assignMembers: need(standing, "members:update"),
      };
    },
  }),
);

builder.prismaObjectField("Organization", "viewerPermissions", (t) =>
  t.stringList({
    description: "What you may do here: your role's permissions, plus at a location those of your roles there (empty while suspended)",
    args: { locationId: t.arg.globalID({ for: LocationNode, required: false, description: LOCATION_ARG_DESCRIPTION }) },
    resolve: async (organization, args, context) =>
      [...(await context.policy.standingAt(organization.id, await locationArg(context, organization.id, args.locationId))).permissions].sort(),
  }),
);

builder.prismaObjectField("Role", "viewerCan", (t) =>
  t.field({
    type: RoleViewerCan,
    description:
      "What you may do with this role. A custom role answers for its organization; a system role for the organization it was reached from (Organization.roles, Member.role) or the one given.",
    args: {
      organizationId: t.arg.globalID({ for: OrganizationNode, required: false, description: "For a system role reached without an organization (node(id:), permissions pages)" }),
    },
    resolve: (role, args, context) => {
      const organizationId =
        role.organizationId ?? (role as Partial<RoleInOrganization>).contextOrganizationId ?? args.organizationId?.id ?? null;
      return roleDecisions(context, role, organizationId);
    },
  }),
);

builder.prismaObjectField("Invitation", "viewerCan", (t) =>
  t.field({
    type: InvitationViewerCan,
    description: "What you may do with this invitation, by the same rules the mutations enforce",
    resolve: async (invitation, _args, context) => {
      const [standing, role] = await Promise.all([context.policy.standing(invitation.organizationId), context.loaders.roleById.load(invitation.roleId)]);
      const missingRole = deny("NOT_FOUND", "Role not found");
      return allExplainedIn(context, invitation.organizationId, {
        revoke: invitationRules.revoke(standing, invitation),
        resend: role ? invitationRules.resend(standing, invitation, role) : missingRole,
      });
    },
  }),
);

builder.queryFields((t) => ({
  canAssignRole: t.field({
    type: CheckResult,
    description:
      "Whether updateMemberRole(memberId, roleId) would be allowed, and if not why (the same reason the mutation would give). A member or role you can't see reads as NOT_FOUND.",
    authScopes: { authenticated: true },
    args: { memberId: t.arg.globalID({ for: MemberNode, required: true }), roleId: t.arg.globalID({ for: RoleNode, required: true }) },
    resolve: async (_root, args, context) => {
      const [member, role] = await Promise.all([context.loaders.memberById.load(args.memberId.id), context.loaders.roleById.load(args.roleId.id)]);
      if (!member) return deny("NOT_FOUND", "Member not found");
      const standing = await context.policy.standing(member.organizationId);
      if (standing.status === null) return deny("NOT_FOUND", "Member not found");
      if (!role || (role.organizationId !== null && role.organizationId !== member.organizationId)) return deny("NOT_FOUND", "Role not found");
      const target = await targetMember(context, member);
      const owners = await ownerCount(context, member.organizationId, target.roleId === OWNER_ROLE_ID);
      return explainedIn(context, member.organizationId, memberRules.assignRole(standing, target, role, owners));
    },
  }),
  checkPermissions: t.field({
    type: [PermissionCheck],
    description:
      "For each permission, whether your membership in the organization grants it, with the reason when not (NOT_FOUND when you are not a member, SUSPENDED, MISSING_PERMISSION). In the order asked; at most 50.",
    authScopes: { authenticated: true },
    args: {
      organizationId: t.arg.globalID({ for: OrganizationNode, required: true }),
      permissions: t.arg.stringList({ required: true, description: "Keys from the `permissions` catalogue" }),
      locationId: t.arg.globalID({ for: LocationNode, required: false, description: LOCATION_ARG_DESCRIPTION }),
    },
    resolve: async (_root, args, context) => {
      const organizationId = args.organizationId.id;
      if (args.permissions.length > 50) throw invalid("permissions", "permissions takes at most 50 entries");
      validatePermissions(args.permissions);
      const standing0 = await context.policy.standing(organizationId);
      // A location of an organization you are not in reads like the organization: NOT_FOUND per permission.
      const locationId = standing0.status === null ? null : await locationArg(context, organizationId, args.locationId);
      const standing = await context.policy.standingAt(organizationId, locationId);
      return args.permissions.map((permission) => ({ permission, ...need(standing, permission as Permission) }));
    },
  }),
}));
