// The acting user's standing in an organization, read inside the transaction that changes it,
// and the rules every change obeys: who may grant what (no escalation), who may touch owners,
// and that an organization never loses its last active owner.
import type { Member, Prisma, Role } from "../generated/prisma/client.js";
import { OWNER_ROLE_ID, type Permission } from "../core/permissions.js";
import {
  activeMember,
  canGrant,
  countsAsOwner,
  enforce,
  explainOwnerless,
  lastOwner,
  need,
  standingOf,
  withPermissions,
  type Decision,
  type Standing,
  type TargetMember,
} from "../core/rules.js";
import type { Actor } from "./actor.js";
import { AppError, notFound } from "../core/errors.js";

export type Tx = Prisma.TransactionClient;

export interface ActorStanding {
  organizationId: string;
  member: Member;
  standing: Standing;
}

/**
 * Serialises every membership change of one organization: each such transaction locks the
 * organization's row first, so checks like "is this the last owner?" see a settled state even
 * when two owners act at the same moment.
 */
export async function lockOrganization(tx: Tx, organizationId: string): Promise<void> {
  const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM "Organization" WHERE id = ${organizationId}::uuid FOR UPDATE`;
  if (rows.length === 0) throw notFound("Organization");
}

/**
 * Serialises changes to one user's own records (contact points, account status), as
 * lockOrganization does for an organization's memberships.
 */
export async function lockUser(tx: Tx, userId: string): Promise<void> {
  await tx.$queryRaw`SELECT id FROM "User" WHERE id = ${userId}::uuid FOR UPDATE`;
}

/**
 * The actor's membership and permissions in the organization, read inside the transaction.
 * Someone who is not a member learns nothing: the organization reads as not found. A suspended
 * member is told so (reason SUSPENDED).
 */
export async function actorAccess(
  tx: Tx,
  actor: Actor,
  organizationId: string,
  { allowSuspended = false }: { allowSuspended?: boolean } = {},
): Promise<ActorStanding> {
  if (!actor.userId) throw notFound("Organization");
  // The accepted membership when there is one ("" sorts first); else a pending one (it grants nothing: NOT_ACCEPTED).
  const member = await tx.member.findFirst({
    where: { organizationId, userId: actor.userId },
    orderBy: { pendingEmail: "asc" },
    include: MEMBER_WITH_ROLE,
  });
  return accessFrom(member, organizationId, allowSuspended);
}

/** A member row with what the rules read: its role, and its account's status. */
const MEMBER_WITH_ROLE = { role: true, user: { select: { status: true } } } as const;
type MemberWithRole = Member & { role: Role; user: { status: string } };

/** actorAccess() from the actor's membership row (their accepted one, else a pending one, else none). */
function accessFrom(member: MemberWithRole | null | undefined, organizationId: string, allowSuspended: boolean): ActorStanding {
  if (!member || member.user.status !== "ACTIVE") throw notFound("Organization");
  const { role, user: _user, ...plain } = member;
  const standing = standingOf({ memberId: member.id, roleId: member.roleId, status: member.status }, role.permissions);
  if (!allowSuspended) enforce(activeMember(standing));
  return { organizationId, member: plain, standing };
}

/**
 * Serialises what depends on who holds an email address (addMember making a placeholder for it,
 * someone verifying it), until the transaction ends: a transaction-scoped advisory lock on it.
 */
export async function lockAddress(tx: Tx, email: string): Promise<void> {
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtext(${`email:${email}`}))::text`;
}

/**
 * The unique key of a membership: a person's accepted one in the organization (`pendingEmail`
 * ""), or their pending one for an address (README, Security, "Membership consent").
 */
export const membershipKey = (organizationId: string, userId: string, pendingEmail = "") => ({
  organizationId_userId_pendingEmail: { organizationId, userId, pendingEmail },
});

/** What a pending membership becomes when its person accepts it. */
export const ACCEPTED = { status: "ACTIVE", consented: true, pendingEmail: "" } as const;

/** Locks the organization and returns the actor's access, requiring `permission`. */
export async function authorize(tx: Tx, actor: Actor, organizationId: string, permission: Permission): Promise<ActorStanding> {
  await lockOrganization(tx, organizationId);
  const access = await actorAccess(tx, actor, organizationId);
  enforce(need(access.standing, permission));
  return access;
}

/** The permissions a member's roles at one location add to their organization role (empty when none). */
export async function locationPermissions(tx: Tx, memberId: string, locationId: string): Promise<Permission[]> {
  const rows = await tx.memberLocationRole.findMany({ where: { memberId, locationId }, select: { role: { select: { permissions: true } } } });
  return [...new Set(rows.flatMap((row) => row.role.permissions as Permission[]))];
}

/** The actor's standing at one location: organization role plus roles there (while the membership is active). */
export async function actorStandingAt(tx: Tx, access: ActorStanding, locationId: string): Promise<Standing> {
  if (access.standing.status !== "ACTIVE") return access.standing;
  return withPermissions(access.standing, await locationPermissions(tx, access.member.id, locationId));
}

/** What the rules need to know about a member row (with its role). */
export function asTarget(member: Member & { role: Pick<Role, "permissions">; user?: { status: string } }): TargetMember {
  return {
    id: member.id,
    roleId: member.roleId,
    status: member.status,
    rolePermissions: member.role.permissions,
    userActive: member.user ? member.user.status === "ACTIVE" : true,
  };
}

/** The members the last-owner rule counts, as a filter: rules.countsAsOwner, in Prisma's words. */
export const COUNTED_OWNERS = { roleId: OWNER_ROLE_ID, status: "ACTIVE", user: { status: "ACTIVE" } } satisfies Prisma.MemberWhereInput;

/** Active owners of the organization whose accounts are active (what the last-owner rule counts). */
function countActiveOwners(tx: Tx, organizationId: string): Promise<number> {
  return tx.member.count({ where: { organizationId, ...COUNTED_OWNERS } });
}

/** The owner count the rules need about `target`: read only when the target is an owner. */
export async function ownerCountFor(tx: Tx, target: Pick<Member, "organizationId" | "roleId">): Promise<() => number> {
  const count = target.roleId === OWNER_ROLE_ID ? await countActiveOwners(tx, target.organizationId) : Number.POSITIVE_INFINITY;
  return () => count;
}

/**
 * enforce(), except that an owner-only refusal in an organization with no active owner says so
 * (rules.explainOwnerless). The owners are counted only for such a refusal.
 */
export async function enforceInOrganization(tx: Tx, organizationId: string, decision: Decision): Promise<void> {
  if (decision.allowed) return;
  enforce(decision.reason === "OWNER_ONLY" ? explainOwnerless(decision, await countActiveOwners(tx, organizationId)) : decision);
}

/** No escalation: see rules.canGrant. */
export async function assertCanGrant(tx: Tx, access: ActorStanding, role: Pick<Role, "id" | "key" | "permissions" | "organizationId">): Promise<void> {
  await enforceInOrganization(tx, access.organizationId, canGrant(access.standing, role));
}

/** A role usable in this organization: a system role or one of its own custom roles. Anything else reads as not found. */
export async function roleInOrganization(tx: Tx, organizationId: string, roleId: string, field = "roleId"): Promise<Role> {
  const role = await tx.role.findUnique({ where: { id: roleId } });
  if (!role || (role.organizationId !== null && role.organizationId !== organizationId)) {
    throw new AppError("NOT_FOUND", "Role not found", { field });
  }
  return role;
}

/** The organization's default role for new members: its own default custom role, else the system default. */
export async function defaultRole(tx: Tx, organizationId: string): Promise<Role> {
  // Both in one statement: the organization's own sorts before the system one (organizationId null last).
  return tx.role.findFirstOrThrow({
    where: { isDefault: true, OR: [{ organizationId }, { organizationId: null }] },
    orderBy: { organizationId: { sort: "asc", nulls: "last" } },
  });
}

/** A member of this organization, with its role. Members of other organizations read as not found. */
export async function memberInOrganization(
  tx: Tx,
  memberId: string,
  organizationId?: string,
): Promise<MemberWithRole> {
  const member = await tx.member.findUnique({ where: { id: memberId }, include: MEMBER_WITH_ROLE });
  if (!member || (organizationId && member.organizationId !== organizationId)) throw notFound("Member");
  return member;
}

/**
 * For a change to one member: finds and locks its organization, then reads the member and the
 * actor's standing there under the lock and checks `permission` (as authorize() does), so the
 * rules and the version check see the state no concurrent change can alter before this
 * transaction commits.
 */
export async function lockedMember(
  tx: Tx,
  actor: Actor,
  memberId: string,
  permission: Permission,
): Promise<{ target: MemberWithRole; access: ActorStanding }> {
  // Finds the member's organization and locks it, in one statement.
  const rows = await tx.$queryRaw<{ id: string }[]>`SELECT o.id FROM "Member" m JOIN "Organization" o ON o.id = m."organizationId" WHERE m.id = ${memberId}::uuid FOR UPDATE OF o`;
  if (rows.length === 0) throw notFound("Member");
  const organizationId = rows[0]!.id;
  if (!actor.userId) throw notFound("Organization");
  // Under the lock, one statement reads the member and the actor's memberships there (as
  // actorAccess() orders them: the accepted one first).
  const rowsThere = await tx.member.findMany({
    where: { organizationId, OR: [{ id: memberId }, { userId: actor.userId }] },
    orderBy: { pendingEmail: "asc" },
    include: MEMBER_WITH_ROLE,
  });
  const access = accessFrom(rowsThere.find((row) => row.userId === actor.userId), organizationId, false);
  enforce(need(access.standing, permission));
  const target = rowsThere.find((row) => row.id === memberId);
  if (!target) throw notFound("Member");
  return { target, access };
}

/**
 * Last-owner rule: a change may not lower the number of active owners (active owner memberships
 * of active accounts) to zero. Only a change to a membership that counted can lower it, so only
 * then is the organization counted again: one whose owners' accounts are all suspended still
 * takes every change that touches no owner. Call inside the locked transaction, after writing
 * the change, with the membership as it was before it (without its user, the account counts as
 * active, so the check runs).
 */
export async function assertOwnerRemains(tx: Tx, before: Member & { user?: { status: string } }): Promise<void> {
  if (!countsAsOwner({ roleId: before.roleId, status: before.status, userActive: before.user ? before.user.status === "ACTIVE" : true })) return;
  const owners = await countActiveOwners(tx, before.organizationId);
  if (owners === 0) enforce(lastOwner());
}
