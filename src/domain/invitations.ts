// Invitations: an offer of membership bound to one email address. The secret token is shown
// once; the invitation can be accepted only by the signed-in user with that email, before it
// expires, once, and only while the inviter could still grant its role.
import type { Invitation, Member, PrismaClient } from "../generated/prisma/client.js";
import type { IdempotencyClaim } from "./idempotency.js";
import { enforce, invitationRules, need } from "../core/rules.js";
import { verifiedEmailsOf } from "./contacts.js";
import { hashSecret, newSecret } from "../core/tokens.js";
import { ACCEPTED, actorAccess, assertCanGrant, authorize, defaultRole, enforceInOrganization, lockOrganization, membershipKey, roleInOrganization, type ActorStanding, type Tx } from "./access.js";
import type { Actor } from "./actor.js";
import { recordAudit } from "./audit.js";
import { AppError, conflict, invalid, notFound } from "../core/errors.js";
import { normalizeEmail } from "./validate.js";

const INVITATION_TOKEN_PREFIX = "inv_";
const DEFAULT_INVITATION_DAYS = 7;
const MAX_INVITATION_DAYS = 30;

function expiry(days: number | null | undefined): Date {
  const value = days ?? DEFAULT_INVITATION_DAYS;
  if (!Number.isInteger(value) || value < 1 || value > MAX_INVITATION_DAYS) {
    throw invalid("expiresInDays", `expiresInDays must be a whole number from 1 to ${MAX_INVITATION_DAYS}`);
  }
  return new Date(Date.now() + value * 86_400_000);
}

const snapshot = (invitation: Invitation) => ({
  email: invitation.email,
  roleId: invitation.roleId,
  status: invitation.status,
  expiresAt: invitation.expiresAt.toISOString(),
});

export interface CreateInvitationInput {
  organizationId: string;
  email: string;
  roleId?: string | null;
  expiresInDays?: number | null;
}

export async function createInvitation(
  db: PrismaClient,
  actor: Actor,
  input: CreateInvitationInput,
  idempotency?: IdempotencyClaim,
): Promise<{ invitation: Invitation; token: string }> {
  const email = normalizeEmail(input.email);
  const expiresAt = expiry(input.expiresInDays);
  return db.$transaction(async (tx) => {
    await idempotency?.claim(tx);
    const access = await authorize(tx, actor, input.organizationId, "invitations:create");
    const role = input.roleId ? await roleInOrganization(tx, input.organizationId, input.roleId) : await defaultRole(tx, input.organizationId);
    await assertCanGrant(tx, access, role);
    // A pending member counts by the address they were added with (the organization knows no other).
    const member = await tx.member.findFirst({
      where: { organizationId: input.organizationId, OR: [{ status: { not: "PENDING" }, user: { email } }, { status: "PENDING", pendingEmail: email }] },
    });
    if (member) throw conflict(`${email} is already a member of this organization`, { field: "email" });
    const pending = await tx.invitation.findFirst({
      where: { organizationId: input.organizationId, email, status: "PENDING", expiresAt: { gt: new Date() } },
    });
    if (pending) {
      throw conflict(`${email} already has a pending invitation; resend or revoke it`, { field: "email", invitationId: pending.id });
    }
    const secret = newSecret(INVITATION_TOKEN_PREFIX);
    const invitation = await tx.invitation.create({
      data: { organizationId: input.organizationId, email, roleId: role.id, invitedById: actor.userId, tokenHash: secret.hash, expiresAt },
    });
    await recordAudit(tx, actor, {
      organizationId: input.organizationId,
      action: "invitation.created",
      targetType: "Invitation",
      targetId: invitation.id,
      after: snapshot(invitation),
    });
    await idempotency?.complete(tx, invitation.id);
    return { invitation, token: secret.token };
  });
}

async function invitationForManagement(tx: Tx, invitationId: string): Promise<Invitation> {
  const invitation = await tx.invitation.findUnique({ where: { id: invitationId } });
  if (!invitation) throw notFound("Invitation");
  return invitation;
}

export async function revokeInvitation(db: PrismaClient, actor: Actor, input: { invitationId: string }): Promise<Invitation> {
  return db.$transaction(async (tx) => {
    const found = await invitationForManagement(tx, input.invitationId);
    const access = await authorize(tx, actor, found.organizationId, "invitations:delete");
    const before = await invitationForManagement(tx, input.invitationId);
    enforce(invitationRules.revoke(access.standing, before));
    const invitation = await tx.invitation.update({ where: { id: before.id }, data: { status: "REVOKED" } });
    await recordAudit(tx, actor, {
      organizationId: before.organizationId,
      action: "invitation.revoked",
      targetType: "Invitation",
      targetId: invitation.id,
      before: snapshot(before),
      after: snapshot(invitation),
    });
    return invitation;
  });
}

/** A new secret and a new expiry for a pending or expired invitation; the old token stops working. */
export async function resendInvitation(
  db: PrismaClient,
  actor: Actor,
  input: { invitationId: string; expiresInDays?: number | null },
): Promise<{ invitation: Invitation; token: string }> {
  const expiresAt = expiry(input.expiresInDays);
  return db.$transaction(async (tx) => {
    const found = await invitationForManagement(tx, input.invitationId);
    const access = await authorize(tx, actor, found.organizationId, "invitations:create");
    // Read again under the organization's lock, so two concurrent changes can't both see the old state.
    const before = await invitationForManagement(tx, input.invitationId);
    await enforceInOrganization(tx, before.organizationId, invitationRules.resend(access.standing, before, await roleInOrganization(tx, before.organizationId, before.roleId)));
    const secret = newSecret(INVITATION_TOKEN_PREFIX);
    const invitation = await tx.invitation.update({
      where: { id: before.id },
      data: { tokenHash: secret.hash, expiresAt, status: "PENDING", invitedById: actor.userId },
    });
    await recordAudit(tx, actor, {
      organizationId: before.organizationId,
      action: "invitation.resent",
      targetType: "Invitation",
      targetId: invitation.id,
      before: snapshot(before),
      after: snapshot(invitation),
    });
    return { invitation, token: secret.token };
  });
}

/** The invitation a token names, provided it is addressed to the acting user. */
async function invitationForInvitee(tx: Tx, actor: Actor, token: string): Promise<Invitation> {
  if (!actor.userId) throw notFound("Invitation");
  const invitation = await tx.invitation.findUnique({ where: { tokenHash: hashSecret(token.trim()) } });
  const user = await tx.user.findUniqueOrThrow({ where: { id: actor.userId } });
  // Someone else's token reads as unknown: a leaked link is no use to anyone but the invitee,
  // who is whoever holds the address: as their primary, or verified.
  const addresses = new Set([user.email, ...(await verifiedEmailsOf(tx, user.id))]);
  if (!invitation || !addresses.has(invitation.email)) throw notFound("Invitation");
  return invitation;
}

/**
 * Runs `change` on the still-pending invitation a token names, addressed to the actor, inside
 * a transaction that holds the organization's lock. An expired one is marked EXPIRED (that mark
 * is committed) and refused with INVITATION_EXPIRED.
 */
async function withPendingInvitation<T>(
  db: PrismaClient,
  actor: Actor,
  token: string,
  change: (tx: Tx, invitation: Invitation) => Promise<T>,
): Promise<T> {
  const result = await db.$transaction(async (tx): Promise<{ value: T } | { expired: true }> => {
    const found = await invitationForInvitee(tx, actor, token);
    await lockOrganization(tx, found.organizationId);
    const invitation = await tx.invitation.findUniqueOrThrow({ where: { id: found.id } }); // re-read under the lock
    if (invitation.status !== "PENDING") {
      throw conflict(`This invitation is no longer pending (it is ${invitation.status})`, { status: invitation.status });
    }
    if (invitation.expiresAt <= new Date()) {
      const expired = await tx.invitation.update({ where: { id: invitation.id }, data: { status: "EXPIRED" } });
      // Noticed, not done by anyone: no actor.
      await recordAudit(tx, { userId: null, tokenId: null, requestId: actor.requestId }, {
        organizationId: invitation.organizationId,
        action: "invitation.expired",
        targetType: "Invitation",
        targetId: invitation.id,
        before: snapshot(invitation),
        after: snapshot(expired),
      });
      return { expired: true };
    }
    return { value: await change(tx, invitation) };
  });
  if ("expired" in result) throw new AppError("INVITATION_EXPIRED", "This invitation has expired; ask for a new one");
  return result.value;
}

/**
 * Accepts an invitation: the acting user (whose email it was sent to) becomes a member with its
 * role. The inviter must still be able to grant that role; a second accept finds it no longer
 * pending.
 */
export async function acceptInvitation(db: PrismaClient, actor: Actor, input: { token: string }): Promise<Member> {
  return withPendingInvitation(db, actor, input.token, async (tx, invitation) => {
    let inviter: ActorStanding | null = null;
    if (invitation.invitedById) {
      inviter = await actorAccess(tx, { userId: invitation.invitedById, tokenId: null, requestId: null }, invitation.organizationId).catch(() => null);
    }
    const role = await roleInOrganization(tx, invitation.organizationId, invitation.roleId);
    try {
      if (!inviter || !need(inviter.standing, "invitations:create").allowed) throw new Error("inviter lost the right to invite");
      await assertCanGrant(tx, inviter, role);
    } catch {
      throw new AppError("FORBIDDEN", "The person who invited you can no longer grant this role; ask for a new invitation");
    }
    if (await tx.member.findUnique({ where: membershipKey(invitation.organizationId, actor.userId!) })) throw conflict("You are already a member of this organization");
    await tx.invitation.update({ where: { id: invitation.id }, data: { status: "ACCEPTED" } });
    await tx.user.updateMany({ where: { id: actor.userId!, status: "INVITED" }, data: { status: "ACTIVE", isPlaceholder: false } });
    // Someone had also added them at this address (a pending membership): accepting the invitation accepts it, with the invitation's role.
    const pending = await tx.member.findUnique({ where: membershipKey(invitation.organizationId, actor.userId!, invitation.email) });
    const member = pending
      ? await tx.member.update({ where: { id: pending.id }, data: { ...ACCEPTED, roleId: role.id, version: { increment: 1 } } })
      : await tx.member.create({
          data: { organizationId: invitation.organizationId, userId: actor.userId!, roleId: role.id, invitedById: invitation.invitedById },
        });
    await recordAudit(tx, actor, {
      organizationId: invitation.organizationId,
      action: "invitation.accepted",
      targetType: "Invitation",
      targetId: invitation.id,
      after: { memberId: member.id, roleId: role.id },
    });
    return member;
  });
}

export async function declineInvitation(db: PrismaClient, actor: Actor, input: { token: string }): Promise<Invitation> {
  return withPendingInvitation(db, actor, input.token, async (tx, before) => {
    const invitation = await tx.invitation.update({ where: { id: before.id }, data: { status: "DECLINED" } });
    await recordAudit(tx, actor, {
      organizationId: before.organizationId,
      action: "invitation.declined",
      targetType: "Invitation",
      targetId: invitation.id,
      before: snapshot(before),
      after: snapshot(invitation),
    });
    return invitation;
  });
}
