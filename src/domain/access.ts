// The acting user's standing in an organization, read inside the transaction that changes it,
// and the rules every change obeys: who may grant what (no escalation), who may touch owners,
// and that an organization never loses its last active owner.
import type { Member, Prisma, Role } from "../generated/prisma/client.js";
import { OWNER_ROLE_ID, type Permission } from "../auth/permissions.js";
import type { Actor } from "./actor.js";
import { AppError, forbidden, notFound } from "./errors.js";

export type Tx = Prisma.TransactionClient;

export interface ActorAccess {
  organizationId: string;
  member: Member;
  permissions: ReadonlySet<Permission>;
  isOwner: boolean;
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
 * The actor's active membership and permissions in the organization. Someone who is not an
 * active member learns nothing: the organization reads as not found.
 */
export async function actorAccess(tx: Tx, actor: Actor, organizationId: string): Promise<ActorAccess> {
  if (!actor.userId) throw notFound("Organization");
  const member = await tx.member.findUnique({
    where: { organizationId_userId: { organizationId, userId: actor.userId } },
    include: { role: true, user: { select: { status: true } } },
  });
  if (!member || member.status !== "ACTIVE" || member.user.status !== "ACTIVE") throw notFound("Organization");
  const { role, user: _user, ...plain } = member;
  return {
    organizationId,
    member: plain,
    permissions: new Set(role.permissions as Permission[]),
    isOwner: role.id === OWNER_ROLE_ID,
  };
}

/** Locks the organization and returns the actor's access, requiring `permission`. */
export async function authorize(tx: Tx, actor: Actor, organizationId: string, permission: Permission): Promise<ActorAccess> {
  await lockOrganization(tx, organizationId);
  const access = await actorAccess(tx, actor, organizationId);
  if (!access.permissions.has(permission)) throw forbidden(`This needs the ${permission} permission`);
  return access;
}

/** No escalation: a role can be granted only by someone who holds every permission in it; the owner role only by an owner. */
export function assertCanGrant(access: ActorAccess, role: Pick<Role, "id" | "key" | "permissions">): void {
  if (role.id === OWNER_ROLE_ID && !access.isOwner) throw forbidden("Only an owner can grant the owner role");
  const missing = (role.permissions as Permission[]).filter((permission) => !access.permissions.has(permission));
  if (missing.length > 0) {
    throw new AppError("FORBIDDEN", `You can't grant the role "${role.key}": it has permissions you don't (${missing.join(", ")})`, {
      missingPermissions: missing,
    });
  }
}

/** A member can be managed (role changed, suspended, removed) only by someone at least as powerful; owners only by owners. */
export function assertCanManage(access: ActorAccess, target: Member & { role: Role }): void {
  if (target.roleId === OWNER_ROLE_ID && !access.isOwner) throw forbidden("Only an owner can manage another owner");
  const missing = (target.role.permissions as Permission[]).filter((permission) => !access.permissions.has(permission));
  if (missing.length > 0) {
    throw new AppError("FORBIDDEN", `You can't manage a member whose role has permissions you don't (${missing.join(", ")})`, {
      missingPermissions: missing,
    });
  }
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
  const custom = await tx.role.findFirst({ where: { organizationId, isDefault: true } });
  if (custom) return custom;
  return tx.role.findFirstOrThrow({ where: { organizationId: null, isDefault: true } });
}

/** A member of this organization, with its role. Members of other organizations read as not found. */
export async function memberInOrganization(tx: Tx, memberId: string, organizationId?: string): Promise<Member & { role: Role }> {
  const member = await tx.member.findUnique({ where: { id: memberId }, include: { role: true } });
  if (!member || (organizationId && member.organizationId !== organizationId)) throw notFound("Member");
  return member;
}

/**
 * Last-owner rule: after the change the organization must still have an active owner whose
 * user is active. Call inside the locked transaction, after writing the change.
 */
export async function assertOwnerRemains(tx: Tx, organizationId: string): Promise<void> {
  const owners = await tx.member.count({
    where: { organizationId, roleId: OWNER_ROLE_ID, status: "ACTIVE", user: { status: "ACTIVE" } },
  });
  if (owners === 0) {
    throw new AppError("LAST_OWNER", "An organization must keep at least one active owner: make someone else owner first");
  }
}
