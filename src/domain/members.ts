// Members: adding, changing roles and metadata, suspending, removing, leaving, and handing
// over ownership. Each function is one transaction that locks the organization, checks the
// actor's rights, writes the change and its audit event, and re-checks the last-owner rule.
import type { Member, PrismaClient } from "../generated/prisma/client.js";
import { OWNER_ROLE_ID, SYSTEM_ROLES } from "../auth/permissions.js";
import { enforce, memberRules, need, needOwner, refusal } from "../auth/rules.js";
import {
  actorAccess,
  asTarget,
  assertCanGrant,
  assertOwnerRemains,
  authorize,
  defaultRole,
  lockOrganization,
  lockedMember,
  memberInOrganization,
  ownerCountFor,
  roleInOrganization,
  type Tx,
} from "./access.js";
import type { Actor } from "./actor.js";
import { recordAudit } from "./audit.js";
import { conflict, invalid, notFound, withField } from "./errors.js";
import { assertVersion } from "./versions.js";
import type { IdempotencyClaim } from "./idempotency.js";
import { addPrimaryEmail, findUserByEmail } from "./contacts.js";
import { normalizeEmail, validateHttpsUrl, validateMetadata } from "./validate.js";

const snapshot = (member: Member) => ({
  roleId: member.roleId,
  profilePictureUrl: member.profilePictureUrl,
  defaultLocationId: member.defaultLocationId,
  status: member.status,
  isPrimary: member.isPrimary,
  publicMetadata: member.publicMetadata as object,
  privateMetadata: member.privateMetadata as object,
});

export interface AddMemberInput {
  organizationId: string;
  email: string;
  roleId?: string | null;
}

/**
 * Adds the user with this email (creating them as INVITED when unknown) with the given role or
 * the organization's default role. An existing member is a CONFLICT.
 */
export async function addMember(db: PrismaClient, actor: Actor, input: AddMemberInput, idempotency?: IdempotencyClaim): Promise<Member> {
  const email = normalizeEmail(input.email);
  return db.$transaction(async (tx) => {
    await idempotency?.claim(tx);
    const access = await authorize(tx, actor, input.organizationId, "members:create");
    const role = input.roleId ? await roleInOrganization(tx, input.organizationId, input.roleId) : await defaultRole(tx, input.organizationId);
    assertCanGrant(access, role);
    // Any address a user holds verified reaches them; an unknown one makes an INVITED user.
    let user = await findUserByEmail(tx, email);
    // Someone who already had an account didn't choose this membership (see Member.consented).
    const consented = !user;
    if (!user) {
      user = await tx.user.create({ data: { email, status: "INVITED", invitedAt: new Date() } });
      await addPrimaryEmail(tx, user, false);
    }
    const existing = await tx.member.findUnique({
      where: { organizationId_userId: { organizationId: input.organizationId, userId: user.id } },
    });
    if (existing) throw conflict(`${email} is already a member of this organization`, { field: "email", memberId: existing.id });
    const member = await tx.member.create({
      data: { organizationId: input.organizationId, userId: user.id, roleId: role.id, invitedById: actor.userId, consented },
    });
    await recordAudit(tx, actor, {
      organizationId: input.organizationId,
      action: "member.added",
      targetType: "Member",
      targetId: member.id,
      after: { email, userId: user.id, ...snapshot(member) },
    });
    await idempotency?.complete(tx, member.id);
    return member;
  });
}

/** Changes a member's role. Granting or removing the owner role needs an owner. */
export async function updateMemberRole(
  db: PrismaClient,
  actor: Actor,
  input: { memberId: string; roleId: string; expectedVersion?: number | null },
): Promise<Member> {
  return db.$transaction(async (tx) => {
    const { target, access } = await lockedMember(tx, actor, input.memberId, "members:update");
    const role = await roleInOrganization(tx, target.organizationId, input.roleId);
    enforce(memberRules.assignRole(access.standing, asTarget(target), role, await ownerCountFor(tx, target)));
    assertVersion(target, input.expectedVersion);
    if (role.id === target.roleId) return target;
    const member = await tx.member.update({ where: { id: target.id }, data: { roleId: role.id, version: { increment: 1 } } });
    await assertOwnerRemains(tx, target.organizationId);
    await recordAudit(tx, actor, {
      organizationId: target.organizationId,
      action: "member.role_changed",
      targetType: "Member",
      targetId: member.id,
      before: { roleId: target.roleId, roleKey: target.role.key },
      after: { roleId: role.id, roleKey: role.key },
    });
    return member;
  });
}

export interface MemberSettingsInput {
  /** An https URL; null clears it. */
  profilePictureUrl?: string | null;
  /** One of the member's locations; null clears it. */
  defaultLocationId?: string | null;
}

export interface UpdateMemberInput {
  memberId: string;
  publicMetadata?: unknown;
  privateMetadata?: unknown;
  isPrimary?: boolean | null;
  settings?: MemberSettingsInput | null;
  expectedVersion?: number | null;
}

/** Whether the change touches only the member's own settings (which the member may change themself). */
export function onlySettings(input: Omit<UpdateMemberInput, "memberId" | "expectedVersion">): boolean {
  return input.publicMetadata == null && input.privateMetadata == null && input.isPrimary == null;
}

/**
 * Replaces a member's metadata and primary-contact flag (members:update; private metadata also
 * members:read_private) and changes their settings (the member themself, or members:update).
 */
export async function updateMember(db: PrismaClient, actor: Actor, input: UpdateMemberInput): Promise<Member> {
  const publicMetadata = input.publicMetadata === undefined || input.publicMetadata === null ? undefined : validateMetadata(input.publicMetadata, "publicMetadata");
  const privateMetadata = input.privateMetadata === undefined || input.privateMetadata === null ? undefined : validateMetadata(input.privateMetadata, "privateMetadata");
  const settings = input.settings ?? {};
  const profilePictureUrl =
    settings.profilePictureUrl === undefined ? undefined : settings.profilePictureUrl === null ? null : validateHttpsUrl(settings.profilePictureUrl, "settings.profilePictureUrl");
  return db.$transaction(async (tx) => {
    const { organizationId } = await memberInOrganization(tx, input.memberId);
    await lockOrganization(tx, organizationId);
    // Suspended members get through here: they may still change their own settings.
    const { standing } = await actorAccess(tx, actor, organizationId, { allowSuspended: true });
    const target = await memberInOrganization(tx, input.memberId, organizationId);
    enforce(onlySettings(input) ? memberRules.updateSettings(standing, asTarget(target)) : memberRules.update(standing, asTarget(target)));
    if (privateMetadata !== undefined) enforce(need(standing, "members:read_private"));
    assertVersion(target, input.expectedVersion);
    if (settings.defaultLocationId) {
      const assigned = await tx.memberLocationRole.findFirst({ where: { memberId: target.id, locationId: settings.defaultLocationId } });
      if (!assigned) throw invalid("settings.defaultLocationId", "The default location must be one of the member's locations (assign it with setMemberLocations first)");
    }
    if (input.isPrimary === true) {
      await tx.member.updateMany({ where: { organizationId: target.organizationId, isPrimary: true, NOT: { id: target.id } }, data: { isPrimary: false } });
    }
    const member = await tx.member.update({
      where: { id: target.id },
      data: {
        ...(publicMetadata !== undefined ? { publicMetadata } : {}),
        ...(privateMetadata !== undefined ? { privateMetadata } : {}),
        ...(typeof input.isPrimary === "boolean" ? { isPrimary: input.isPrimary } : {}),
        ...(profilePictureUrl !== undefined ? { profilePictureUrl } : {}),
        ...(settings.defaultLocationId !== undefined ? { defaultLocationId: settings.defaultLocationId } : {}),
        version: { increment: 1 },
      },
    });
    await recordAudit(tx, actor, {
      organizationId: target.organizationId,
      action: "member.updated",
      targetType: "Member",
      targetId: member.id,
      before: snapshot(target),
      after: snapshot(member),
    });
    return member;
  });
}

export interface MemberStatusInput {
  memberId: string;
  expectedVersion?: number | null;
}

async function setStatus(db: PrismaClient, actor: Actor, input: MemberStatusInput, status: "ACTIVE" | "SUSPENDED"): Promise<Member> {
  return db.$transaction(async (tx) => {
    const { target, access } = await lockedMember(tx, actor, input.memberId, "members:update");
    enforce(
      status === "SUSPENDED"
        ? memberRules.suspend(access.standing, asTarget(target), await ownerCountFor(tx, target))
        : memberRules.reactivate(access.standing, asTarget(target)),
    );
    assertVersion(target, input.expectedVersion);
    if (target.status === status) return target;
    const member = await tx.member.update({ where: { id: target.id }, data: { status, version: { increment: 1 } } });
    await assertOwnerRemains(tx, target.organizationId);
    await recordAudit(tx, actor, {
      organizationId: target.organizationId,
      action: status === "SUSPENDED" ? "member.suspended" : "member.reactivated",
      targetType: "Member",
      targetId: member.id,
      before: { status: target.status },
      after: { status },
    });
    return member;
  });
}

/** A suspended member keeps their membership but has no permissions until reactivated. */
export const suspendMember = (db: PrismaClient, actor: Actor, input: MemberStatusInput) => setStatus(db, actor, input, "SUSPENDED");

export const reactivateMember = (db: PrismaClient, actor: Actor, input: MemberStatusInput) => setStatus(db, actor, input, "ACTIVE");

/** Deletes a membership, re-checks the last-owner rule and audits it, inside the caller's transaction. */
async function endMembership(tx: Tx, actor: Actor, member: Member, action: "member.removed" | "member.left"): Promise<string> {
  await tx.member.delete({ where: { id: member.id } });
  await assertOwnerRemains(tx, member.organizationId);
  await recordAudit(tx, actor, {
    organizationId: member.organizationId,
    action,
    targetType: "Member",
    targetId: member.id,
    before: { userId: member.userId, ...snapshot(member) },
  });
  return member.id;
}

/** Removes a member. Their user and tokens stay: they keep access to their other organizations. */
export async function removeMember(db: PrismaClient, actor: Actor, input: MemberStatusInput): Promise<string> {
  return db.$transaction(async (tx) => {
    const { target, access } = await lockedMember(tx, actor, input.memberId, "members:delete");
    enforce(memberRules.remove(access.standing, asTarget(target), await ownerCountFor(tx, target)));
    assertVersion(target, input.expectedVersion);
    return endMembership(tx, actor, target, "member.removed");
  });
}

/** The actor leaves the organization (active or suspended). The last owner can't. */
export async function leaveOrganization(db: PrismaClient, actor: Actor, input: { organizationId: string }): Promise<string> {
  return db.$transaction(async (tx) => {
    await lockOrganization(tx, input.organizationId);
    const own = actor.userId
      ? await tx.member.findUnique({ where: { organizationId_userId: { organizationId: input.organizationId, userId: actor.userId } } })
      : null;
    if (!own) throw notFound("Organization");
    return endMembership(tx, actor, own, "member.left");
  });
}

/**
 * Makes another active member the organization's owner (and primary owner); the acting owner
 * stays as an admin. Owner only.
 */
export async function transferOwnership(
  db: PrismaClient,
  actor: Actor,
  input: { organizationId: string; toMemberId: string },
): Promise<{ newOwner: Member; previousOwner: Member }> {
  return db.$transaction(async (tx) => {
    await lockOrganization(tx, input.organizationId);
    const access = await actorAccess(tx, actor, input.organizationId);
    enforce(needOwner(access.standing));
    const target = await memberInOrganization(tx, input.toMemberId, input.organizationId);
    const decision = memberRules.transferOwnershipTo(access.standing, asTarget(target));
    if (!decision.allowed) throw withField(refusal(decision), "toMemberId");
    const newOwner = await tx.member.update({ where: { id: target.id }, data: { roleId: OWNER_ROLE_ID, version: { increment: 1 } } });
    const previousOwner = await tx.member.update({
      where: { id: access.member.id },
      data: { roleId: SYSTEM_ROLES.admin.id, version: { increment: 1 } },
    });
    const organization = await tx.organization.update({
      where: { id: input.organizationId },
      data: { ownerId: target.userId, version: { increment: 1 } },
    });
    await assertOwnerRemains(tx, input.organizationId);
    await recordAudit(tx, actor, {
      organizationId: input.organizationId,
      action: "organization.ownership_transferred",
      targetType: "Organization",
      targetId: organization.id,
      before: { ownerUserId: access.member.userId, ownerMemberId: access.member.id },
      after: { ownerUserId: target.userId, ownerMemberId: target.id, previousOwnerRoleKey: "admin" },
    });
    return { newOwner, previousOwner };
  });
}
