// The rules of who may do what, as pure decisions. The mutations (through domain/access.ts and
// graphql/targets.ts) enforce them; `viewerCan`, `canAssignRole` and `checkPermissions` report
// them. Both call these same functions, so a button a UI shows enabled is a mutation that
// succeeds, and a refusal carries the same reason code either way.
import { AppError, type ErrorCode } from "./errors.js";
import { OWNER_ROLE_ID, type Permission } from "./permissions.js";

/** Why something is not allowed. Stable: clients branch on these. */
export const DENIAL_REASONS = {
  UNAUTHENTICATED: "Nobody is signed in",
  NOT_FOUND: "The object doesn't exist or you are not a member of its organization",
  SUSPENDED: "Your membership in this organization is suspended",
  NOT_ACCEPTED: "You were added to this organization and haven't accepted yet (acceptMembership)",
  MISSING_PERMISSION: "Your role lacks the permission this needs",
  OWNER_ONLY: "Only an owner of the organization can do this",
  ESCALATION: "It would grant or touch permissions you don't hold yourself",
  LAST_OWNER: "The organization must keep at least one active owner",
  NO_ACTIVE_OWNER: "Only an owner may, and the organization has no active owner: its owners' accounts are suspended (a platform operator can unsuspend one)",
  SELF: "You can't do this to your own membership",
  SYSTEM_ROLE: "Built-in roles can't be changed or deleted",
  INELIGIBLE: "The target isn't in a state that allows this (e.g. not an active member)",
  INVALID_STATE: "The object's state doesn't allow this (e.g. revoking an invitation that was already accepted)",
  OPERATOR_ONLY: "Only a platform operator can do this",
} as const;

export type DenialReason = keyof typeof DENIAL_REASONS;

export interface Decision {
  allowed: boolean;
  reason: DenialReason | null;
  message: string | null;
  /** Machine-readable facts, e.g. the permissions that are missing. */
  details?: Record<string, unknown>;
}

export const ALLOWED: Decision = Object.freeze({ allowed: true, reason: null, message: null });

export function deny(reason: DenialReason, message: string, details?: Record<string, unknown>): Decision {
  return { allowed: false, reason, message, ...(details ? { details } : {}) };
}

/** The first refusal among decisions evaluated in order, else allowed. */
export function all(...decisions: (() => Decision)[]): Decision {
  for (const decide of decisions) {
    const decision = decide();
    if (!decision.allowed) return decision;
  }
  return ALLOWED;
}

/** A membership's status. PENDING: added by someone else and not accepted yet; it grants nothing. */
export type MembershipStatus = "ACTIVE" | "SUSPENDED" | "PENDING";

/** A caller's standing in one organization. */
export interface Standing {
  memberId: string | null;
  roleId: string | null;
  /** null: not a member at all. */
  status: MembershipStatus | null;
  /** Empty unless the membership is active. */
  permissions: ReadonlySet<Permission>;
}

/** What the rules need to know about a member being acted on. */
export interface TargetMember {
  id: string;
  roleId: string;
  status: MembershipStatus;
  rolePermissions: readonly string[];
  /** The member's user account is active (ownership can only go to such a member). */
  userActive: boolean;
}

/** What the rules need to know about a role being granted, edited or deleted. */
export interface TargetRole {
  id: string;
  key: string;
  organizationId: string | null;
  permissions: readonly string[];
}

export const isOwnerStanding = (standing: Standing) => standing.status === "ACTIVE" && standing.roleId === OWNER_ROLE_ID;

/** A member's standing: their role's permissions while the membership is active, none while suspended. */
export function standingOf(member: { memberId: string; roleId: string; status: MembershipStatus }, rolePermissions: readonly string[]): Standing {
  return { ...member, permissions: new Set(member.status === "ACTIVE" ? (rolePermissions as Permission[]) : []) };
}

/** The standing plus more permissions (roles held at a location); an inactive membership gains nothing. */
export function withPermissions<S extends Standing>(standing: S, extra: Iterable<string> | undefined): S {
  if (standing.status !== "ACTIVE" || !extra) return standing;
  const added = [...extra].filter((permission) => !standing.permissions.has(permission as Permission));
  return added.length === 0 ? standing : { ...standing, permissions: new Set([...standing.permissions, ...(added as Permission[])]) };
}

/**
 * The member acted on, at a location: the permissions of their roles there add to their
 * organization role's (as withPermissions does for the caller).
 */
export function targetWithPermissions(target: TargetMember, extra: Iterable<string>): TargetMember {
  const added = [...extra].filter((permission) => !target.rolePermissions.includes(permission));
  return added.length === 0 ? target : { ...target, rolePermissions: [...new Set([...target.rolePermissions, ...added])] };
}

/** An active membership: not a member reads as NOT_FOUND, a suspended one as SUSPENDED, one not accepted yet as NOT_ACCEPTED. */
export function activeMember(standing: Standing): Decision {
  if (standing.status === null) return deny("NOT_FOUND", "Organization not found");
  if (standing.status === "SUSPENDED") return deny("SUSPENDED", DENIAL_REASONS.SUSPENDED);
  if (standing.status === "PENDING") return deny("NOT_ACCEPTED", DENIAL_REASONS.NOT_ACCEPTED);
  return ALLOWED;
}

/** Suspending and reactivating are for accepted memberships: a pending one is the person's to accept or decline. */
export function accepted(target: TargetMember): Decision {
  return target.status === "PENDING"
    ? deny("INVALID_STATE", "This member hasn't accepted the membership yet; remove it instead, or wait for them to accept")
    : ALLOWED;
}

/** Active membership holding `permission`. */
export function need(standing: Standing, permission: Permission): Decision {
  return all(
    () => activeMember(standing),
    () =>
      standing.permissions.has(permission)
        ? ALLOWED
        : deny("MISSING_PERMISSION", `This needs the ${permission} permission`, { missingPermissions: [permission] }),
  );
}

/** A platform operator (granted with the CLI only). */
export function needOperator(user: { isOperator: boolean } | null | undefined): Decision {
  return user?.isOperator ? ALLOWED : deny("OPERATOR_ONLY", DENIAL_REASONS.OPERATOR_ONLY);
}

export function notSelfUser(actorUserId: string, targetUserId: string, message: string): Decision {
  return actorUserId === targetUserId ? deny("SELF", message) : ALLOWED;
}

/** An active owner. */
export function needOwner(standing: Standing): Decision {
  return all(
    () => activeMember(standing),
    () => (isOwnerStanding(standing) ? ALLOWED : deny("OWNER_ONLY", DENIAL_REASONS.OWNER_ONLY)),
  );
}

function missingFrom(standing: Standing, permissions: readonly string[]): string[] {
  return permissions.filter((permission) => !standing.permissions.has(permission as Permission));
}

/**
 * The no-escalation rule both for roles granted and for members managed: whatever touches the
 * owner role needs an owner, and any other permission set must be within the caller's own.
 */
function withinOwn(standing: Standing, touchesOwner: boolean, ownerMessage: string, permissions: readonly string[], escalation: (missing: string) => string): Decision {
  if (touchesOwner && !isOwnerStanding(standing)) return deny("OWNER_ONLY", ownerMessage);
  const missing = missingFrom(standing, permissions);
  return missing.length > 0 ? deny("ESCALATION", escalation(missing.join(", ")), { missingPermissions: missing }) : ALLOWED;
}

/** No escalation: a role is granted only by someone holding all of its permissions; the owner role only by an owner. */
export function canGrant(standing: Standing, role: TargetRole): Decision {
  return withinOwn(standing, role.id === OWNER_ROLE_ID, "Only an owner can grant the owner role", role.permissions, (missing) =>
    `You can't grant the role "${role.key}": it has permissions you don't (${missing})`,
  );
}

/** A member is managed (role changed, suspended, removed) only by someone at least as powerful; owners only by owners. */
export function canManage(standing: Standing, target: TargetMember): Decision {
  return withinOwn(standing, target.roleId === OWNER_ROLE_ID, "Only an owner can manage another owner", target.rolePermissions, (missing) =>
    `You can't manage a member whose role has permissions you don't (${missing})`,
  );
}

/** The last-owner refusal, wherever the rule is checked (here, or after a write in domain/access.ts). */
export const lastOwner = (): Decision => deny("LAST_OWNER", "An organization must keep at least one active owner: make someone else owner first");

/** Whether the member counts for the last-owner rule: an active owner membership of an active account. */
export function countsAsOwner(target: Pick<TargetMember, "roleId" | "status" | "userActive">): boolean {
  return target.roleId === OWNER_ROLE_ID && target.status === "ACTIVE" && target.userActive;
}

/**
 * The change would leave the organization without an active owner: `target` stops being one and
 * is the only one. A change to anyone who doesn't count lowers nothing, so it passes even when
 * no owner counts at all (their accounts are suspended).
 */
export function keepsAnOwner(target: TargetMember, activeOwners: number): Decision {
  if (countsAsOwner(target) && activeOwners <= 1) {
    return lastOwner();
  }
  return ALLOWED;
}

/**
 * An owner-only refusal, told why nobody can do it while the organization has no active owner
 * (every owner's account suspended): asking an owner won't help, an operator must unsuspend one.
 * Any other decision is returned as it is.
 */
export function explainOwnerless(decision: Decision, activeOwners: number): Decision {
  if (decision.allowed || decision.reason !== "OWNER_ONLY" || activeOwners > 0) return decision;
  const only = (decision.message ?? DENIAL_REASONS.OWNER_ONLY).replace(/\.$/, "");
  return deny(
    "NO_ACTIVE_OWNER",
    `${only}, and this organization has no active owner: its owners' accounts are suspended (a platform operator can unsuspend one)`,
    decision.details,
  );
}

export function notSelf(standing: Standing, target: TargetMember, message: string): Decision {
  return standing.memberId === target.id ? deny("SELF", message) : ALLOWED;
}

export function editableRole(role: TargetRole): Decision {
  return role.organizationId === null ? deny("SYSTEM_ROLE", "System roles can't be changed or deleted") : ALLOWED;
}

// ---- Decisions per action, shared by mutations and viewerCan ---------------------------------

/**
 * `activeOwners` is asked for only when the target is an owner, so most checks need no count.
 * Every function evaluates its rules in the order the mutation checks them.
 */
export type OwnerCount = () => number;

export const memberRules = {
  /** Metadata, primary flag, someone else's settings: members:update, over a member you outrank. */
  update: (standing: Standing, target: TargetMember) =>
    all(
      () => need(standing, "members:update"),
      () => canManage(standing, target),
    ),
  /** Profile picture and default location: the member themself (also while suspended), or as update. */
  updateSettings: (standing: Standing, target: TargetMember) =>
    standing.memberId === target.id && (standing.status === "ACTIVE" || standing.status === "SUSPENDED") ? ALLOWED : memberRules.update(standing, target),
  /** Changing the role at all; `canAssignRole` adds the role being granted. */
  updateRole: (standing: Standing, target: TargetMember, activeOwners: OwnerCount) =>
    all(
      () => need(standing, "members:update"),
      () => canManage(standing, target),
      () => keepsAnOwner(target, activeOwners()),
    ),
  assignRole: (standing: Standing, target: TargetMember, role: TargetRole, activeOwners: OwnerCount) =>
    all(
      () => need(standing, "members:update"),
      () => canManage(standing, target),
      () => canGrant(standing, role),
      () => (role.id === OWNER_ROLE_ID || role.id === target.roleId ? ALLOWED : keepsAnOwner(target, activeOwners())),
    ),
  suspend: (standing: Standing, target: TargetMember, activeOwners: OwnerCount) =>
    all(
      () => need(standing, "members:update"),
      () => canManage(standing, target),
      () => notSelf(standing, target, "You can't suspend yourself; leave the organization instead"),
      () => accepted(target),
      () => keepsAnOwner(target, activeOwners()),
    ),
  reactivate: (standing: Standing, target: TargetMember) =>
    all(
      () => need(standing, "members:update"),
      () => canManage(standing, target),
      () => accepted(target),
    ),
  remove: (standing: Standing, target: TargetMember, activeOwners: OwnerCount) =>
    all(
      () => need(standing, "members:delete"),
      () => canManage(standing, target),
      () => keepsAnOwner(target, activeOwners()),
    ),
  /** The person added accepts or declines their own pending membership (the caller checks it is theirs). */
  respond: (own: TargetMember) => (own.status === "PENDING" ? ALLOWED : deny("INVALID_STATE", "This membership is not waiting for your answer")),
  transferOwnershipTo: (standing: Standing, target: TargetMember) =>
    all(
      () => needOwner(standing),
      () => notSelf(standing, target, "You already own this organization"),
      () =>
        target.status === "ACTIVE" && target.userActive
          ? ALLOWED
          : deny("INELIGIBLE", "Ownership can only go to an active member with an active account"),
    ),
};

export const organizationRules = {
  update: (standing: Standing) => need(standing, "org:update"),
  delete: (standing: Standing) => all(() => needOwner(standing), () => need(standing, "org:delete")),
  addMember: (standing: Standing) => need(standing, "members:create"),
  createRole: (standing: Standing) => need(standing, "roles:create"),
  invite: (standing: Standing) => need(standing, "invitations:create"),
  readAuditLog: (standing: Standing) => need(standing, "audit:read"),
  /**
   * Webhook endpoints send the change feed to a URL outside: managing them needs webhooks:manage,
   * and events:read, since whoever registers one reads the feed through it.
   */
  manageWebhooks: (standing: Standing) => all(() => need(standing, "webhooks:manage"), () => need(standing, "events:read")),
  /** An endpoint is sent events only while the member who set its URL may still read the feed. */
  receiveWebhooks: (standing: Standing) => need(standing, "events:read"),
  transferOwnership: (standing: Standing) => needOwner(standing),
  /** Leaving works while suspended or pending too; only the last owner can't. */
  leave: (standing: Standing, self: TargetMember | null, activeOwners: OwnerCount) =>
    standing.status === null || !self ? deny("NOT_FOUND", "Organization not found") : keepsAnOwner(self, activeOwners()),
};

export const roleRules = {
  update: (standing: Standing, role: TargetRole) =>
    all(
      () => need(standing, "roles:update"),
      () => editableRole(role),
      () => canGrant(standing, role),
    ),
  delete: (standing: Standing, role: TargetRole) =>
    all(
      () => need(standing, "roles:delete"),
      () => editableRole(role),
      () => canGrant(standing, role),
    ),
  /** Granting this role to existing members (updateMemberRole); addMember and invitations use members:create / invitations:create. */
  assign: (standing: Standing, role: TargetRole) =>
    all(
      () => need(standing, "members:update"),
      () => canGrant(standing, role),
    ),
};

export const locationRules = {
  create: (standing: Standing) => need(standing, "locations:create"),
  /** `standing` is the caller's standing at the location: a manager of that location only may edit it. */
  update: (standingAtLocation: Standing) => need(standingAtLocation, "locations:update"),
  /** Organization-wide only: deleting a location ends every assignment there, including those of people who outrank a location manager. */
  delete: (standing: Standing) => need(standing, "locations:delete"),
  /**
   * Changing a member's roles at one location (setMemberLocations), counted at that location:
   * the caller needs members:update there, must outrank the member's standing there, and may
   * grant only roles within their own permissions there.
   */
  assignAt: (standingAtLocation: Standing, targetAtLocation: TargetMember, granted: readonly TargetRole[]) =>
    all(
      () => need(standingAtLocation, "members:update"),
      () => canManage(standingAtLocation, targetAtLocation),
      ...granted.map((role) => () => canGrant(standingAtLocation, role)),
    ),
};

export const invitationRules = {
  revoke: (standing: Standing, invitation: { status: string }) =>
    all(
      () => need(standing, "invitations:delete"),
      () =>
        invitation.status === "PENDING"
          ? ALLOWED
          : deny("INVALID_STATE", `Only pending invitations can be revoked (this one is ${invitation.status})`),
    ),
  resend: (standing: Standing, invitation: { status: string }, role: TargetRole) =>
    all(
      () => need(standing, "invitations:create"),
      () =>
        invitation.status === "PENDING" || invitation.status === "EXPIRED"
          ? ALLOWED
          : deny("INVALID_STATE", `Only pending or expired invitations can be resent (this one is ${invitation.status})`),
      () => canGrant(standing, role),
    ),
};

/**
 * The one table of reasons and the error codes they are answered with (any other reason:
 * FORBIDDEN). `byDefault` marks the reason an error of that code carries when no rule named one
 * (graphql/errors.ts); CONFLICT gets a reason only from a rule, other conflicts (duplicates) have none.
 */
const REASON_CODES: readonly { reason: DenialReason; code: ErrorCode; byDefault?: true }[] = [
  { reason: "NOT_FOUND", code: "NOT_FOUND", byDefault: true },
  { reason: "UNAUTHENTICATED", code: "UNAUTHENTICATED" },
  { reason: "LAST_OWNER", code: "LAST_OWNER", byDefault: true },
  { reason: "INVALID_STATE", code: "CONFLICT" },
  { reason: "MISSING_PERMISSION", code: "FORBIDDEN", byDefault: true },
];

/** The reason an error of this code carries when nothing more exact was given, if any. */
export function defaultReason(code: string): DenialReason | undefined {
  return REASON_CODES.find((row) => row.byDefault && row.code === code)?.reason;
}

/** The error a refused mutation throws: `extensions.code` is the class, `extensions.reason` the exact rule. */
export function refusal(decision: Decision): AppError {
  const reason = decision.reason ?? "MISSING_PERMISSION";
  const code = REASON_CODES.find((row) => row.reason === reason)?.code ?? "FORBIDDEN";
  return new AppError(code, decision.message ?? DENIAL_REASONS[reason], { ...decision.details, reason });
}

/** Throws the refusal when the decision says no. */
export function enforce(decision: Decision): void {
  if (!decision.allowed) throw refusal(decision);
}
