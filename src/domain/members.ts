// Members: adding, changing roles and metadata, suspending, removing, leaving, and handing
// over ownership. Each function is one transaction that locks the organization, checks the
// actor's rights, writes the change and its audit event, and re-checks the last-owner rule.
import type { Member, PrismaClient } from "../generated/prisma/client.js";
import { OWNER_ROLE_ID, SYSTEM_ROLES } from "../core/permissions.js";
import { deny, enforce, memberRules, need, needOwner, refusal } from "../core/rules.js";
import {
  ACCEPTED,
  actorAccess,
  asTarget,
  assertCanGrant,
  assertOwnerRemains,
  authorize,
  defaultRole,
  enforceInOrganization,
  lockAddress,
  lockOrganization,
  lockUser,
  lockedMember,
  memberInOrganization,
  membershipKey,
  ownerCountFor,
  roleInOrganization,
  type Tx,
} from "./access.js";
import type { Actor } from "./actor.js";
import { recordAudit } from "./audit.js";
import { AppError, conflict, invalid, notFound, withField } from "../core/errors.js";
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
 * Adds the person this email reaches, with the given role or the organization's default role, as
 * a PENDING membership they accept or decline (acceptMembership / declineMembership). An address
 * nobody holds gets a placeholder account (INVITED) that its real holder later takes over (see
 * contacts.absorbPlaceholder). Known and unknown addresses are treated alike, and the response
 * shows only the address given (README, Security, "Membership consent"). The membership is keyed
 * by that address, so another address of someone already added collides with nothing the adder
 * can't see: CONFLICT only for the same address again, or for the address the organization
 * already sees for an accepted member.
 */
export async function addMember(db: PrismaClient, actor: Actor, input: AddMemberInput, idempotency?: IdempotencyClaim): Promise<Member> {
  const email = normalizeEmail(input.email);
  return db.$transaction(async (tx) => {
    await idempotency?.claim(tx);
    const access = await authorize(tx, actor, input.organizationId, "members:create");
    const role = input.roleId ? await roleInOrganization(tx, input.organizationId, input.roleId) : await defaultRole(tx, input.organizationId);
    await assertCanGrant(tx, access, role);
    // Any address a user holds verified reaches them; an unknown one makes an INVITED placeholder.
    // Nobody verifies the address meanwhile (a placeholder made then would be left behind).
    await lockAddress(tx, email);
    let user = await findUserByEmail(tx, email);
    if (user?.isPlaceholder) {
      // Held while this membership is made, so a holder proving the address can't absorb the
      // placeholder halfway (absorbPlaceholder takes the same lock); then read again.
      await lockUser(tx, user.id);
      user = await findUserByEmail(tx, email);
    }
    if (!user) {
      user = await tx.user.create({ data: { email, status: "INVITED", isPlaceholder: true, invitedAt: new Date() } });
      await addPrimaryEmail(tx, user, false, { created: true });
    }
    // The same address again, whoever holds it now: the adder's own knowledge, whatever changed behind it.
    // One statement for both: a pending membership for this address, or (when the address is the
    // account's own) the account's accepted one; the pending one first ("" sorts before it).
    const accepted = await tx.member.findFirst({
      where: {
        organizationId: input.organizationId,
        OR: [{ status: "PENDING", pendingEmail: email }, ...(user.email === email ? [{ userId: user.id, pendingEmail: "" }] : [])],
      },
      orderBy: { pendingEmail: "desc" },
    });
    if (accepted) throw conflict(`${email} is already a member of this organization`, { field: "email", memberId: accepted.id });
    // Nobody chose this membership yet: it grants nothing until the person accepts it.
    const member = await tx.member.create({
      data: { organizationId: input.organizationId, userId: user.id, roleId: role.id, invitedById: actor.userId, status: "PENDING", consented: false, pendingEmail: email },
    });
    // The address given, never the account behind it (its id would tell a new placeholder from an existing account).
    await recordAudit(tx, actor, {
      organizationId: input.organizationId,
      action: "member.added",
      targetType: "Member",
      targetId: member.id,
      after: { email, ...snapshot(member) },
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
    await enforceInOrganization(tx, target.organizationId, memberRules.assignRole(access.standing, asTarget(target), role, await ownerCountFor(tx, target)));
    assertVersion(target, input.expectedVersion);
    if (role.id === target.roleId) return target;
    const member = await tx.member.update({ where: { id: target.id }, data: { roleId: role.id, version: { increment: 1 } } });
    await assertOwnerRemains(tx, target);
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

interface MemberSettingsInput {
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
export function onlySettings(input: Pick<UpdateMemberInput, "publicMetadata" | "privateMetadata" | "isPrimary">): boolean {
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
    await enforceInOrganization(tx, organizationId, onlySettings(input) ? memberRules.updateSettings(standing, asTarget(target)) : memberRules.update(standing, asTarget(target)));
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
    await enforceInOrganization(
      tx,
      target.organizationId,
      status === "SUSPENDED"
        ? memberRules.suspend(access.standing, asTarget(target), await ownerCountFor(tx, target))
        : memberRules.reactivate(access.standing, asTarget(target)),
    );
    assertVersion(target, input.expectedVersion);
    if (target.status === status) return target;
    const member = await tx.member.update({ where: { id: target.id }, data: { status, version: { increment: 1 } } });
    await assertOwnerRemains(tx, target);
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

/**
 * Deletes a membership, re-checks the last-owner rule and audits it, inside the caller's
 * transaction. Only the end of a membership that counted as an owner can leave the organization
 * without one: ending any other never fails for want of one (an organization whose owners are
 * all suspended still lets people leave or decline).
 */
async function endMembership(tx: Tx, actor: Actor, member: Member & { user?: { status: string } }, action: "member.removed" | "member.left" | "member.declined"): Promise<string> {
  await tx.member.delete({ where: { id: member.id } });
  await assertOwnerRemains(tx, member);
  await recordAudit(tx, actor, {
    organizationId: member.organizationId,
    action,
    targetType: "Member",
    targetId: member.id,
    // A membership never accepted showed the organization only its address: so does its end.
    before: member.status === "PENDING" ? { email: member.pendingEmail, ...snapshot(member) } : { userId: member.userId, ...snapshot(member) },
  });
  return member.id;
}

/** Removes a member. Their user and tokens stay: they keep access to their other organizations. */
export async function removeMember(db: PrismaClient, actor: Actor, input: MemberStatusInput): Promise<string> {
  return db.$transaction(async (tx) => {
    const { target, access } = await lockedMember(tx, actor, input.memberId, "members:delete");
    await enforceInOrganization(tx, target.organizationId, memberRules.remove(access.standing, asTarget(target), await ownerCountFor(tx, target)));
    assertVersion(target, input.expectedVersion);
    return endMembership(tx, actor, target, "member.removed");
  });
}

/**
 * The actor leaves the organization: their membership there (active or suspended) ends; the last
 * owner can't leave. Pending memberships are answered one by one (declineMembership): ending them
 * together would tell the organization that their addresses are one person's. Someone with just
 * one pending membership there and no other leaves by declining it.
 */
export async function leaveOrganization(db: PrismaClient, actor: Actor, input: { organizationId: string }): Promise<string> {
  return db.$transaction(async (tx) => {
    await lockOrganization(tx, input.organizationId);
    const own = actor.userId ? await tx.member.findMany({ where: { organizationId: input.organizationId, userId: actor.userId }, take: 2, orderBy: { pendingEmail: "asc" } }) : [];
    const [first] = own;
    if (!first) throw notFound("Organization");
    if (first.status !== "PENDING") return endMembership(tx, actor, first, "member.left");
    if (own.length > 1) enforce(deny("INVALID_STATE", "You have several pending memberships here: answer each with declineMembership"));
    return endMembership(tx, actor, first, "member.declined");
  });
}

/** The actor's own membership by id, re-read under its organization's lock, waiting for their answer. */
async function ownPendingMembership(tx: Tx, actor: Actor, memberId: string): Promise<Member> {
  const found = await tx.member.findUnique({ where: { id: memberId } });
  // Someone else's membership reads as unknown.
  if (!found || !actor.userId || found.userId !== actor.userId) throw new AppError("NOT_FOUND", "Member not found", { field: "memberId" });
  await lockOrganization(tx, found.organizationId);
  const own = await tx.member.findUnique({ where: { id: memberId } });
  if (!own) throw new AppError("NOT_FOUND", "Member not found", { field: "memberId" });
  enforce(memberRules.respond(asTarget({ ...own, role: { permissions: [] } })));
  return own;
}

/**
 * The person someone added accepts the membership: it becomes ACTIVE with the role it has now,
 * and the organization sees their account from then on (their private contact points too, to
 * holders of members:read_private, since they chose it). Someone who already is a member there
 * (added again under another of their addresses) stays the member they are: the pending one
 * merges into it.
 */
export async function acceptMembership(db: PrismaClient, actor: Actor, input: { memberId: string }): Promise<Member> {
  return db.$transaction(async (tx) => {
    const own = await ownPendingMembership(tx, actor, input.memberId);
    const already = await tx.member.findUnique({ where: membershipKey(own.organizationId, own.userId) });
    if (already) await tx.member.delete({ where: { id: own.id } });
    const member = already ?? (await tx.member.update({ where: { id: own.id }, data: { ...ACCEPTED, version: { increment: 1 } } }));
    await recordAudit(tx, actor, {
      organizationId: own.organizationId,
      action: "member.accepted",
      targetType: "Member",
      targetId: own.id,
      before: { status: own.status, email: own.pendingEmail },
      after: { status: member.status, ...(already ? { mergedIntoMemberId: already.id } : {}) },
    });
    return member;
  });
}

/** The person someone added declines: the membership is gone, and the trail names only the address it was made for. */
export async function declineMembership(db: PrismaClient, actor: Actor, input: { memberId: string }): Promise<string> {
  return db.$transaction(async (tx) => {
    const own = await ownPendingMembership(tx, actor, input.memberId);
    return endMembership(tx, actor, own, "member.declined");
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
    await enforceInOrganization(tx, input.organizationId, needOwner(access.standing));
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
    // The acting owner counted (an active owner, signed in): the new owner must count now.
    await assertOwnerRemains(tx, access.member);
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
