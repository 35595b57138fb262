// What a viewer may see and do. The scope resolvers (graphql/builder.ts), the node loaders and
// the domain functions all ask here, so a rule changes in one place.
import DataLoader from "dataloader";
import { NO_ROW } from "../core/text.js";
import type { Prisma, PrismaClient } from "../generated/prisma/client.js";
import type { Viewer } from "./authenticate.js";
import type { Database } from "../db/client.js";
import type { MembershipStatus } from "../core/rules.js";
import { OPERATOR_READ, type Permission } from "../core/permissions.js";
import { isOwnerStanding, standingOf, withPermissions, type Standing } from "../core/rules.js";

/** One membership of the viewer as the standing loader reads it. */
interface MembershipRow {
  id: string;
  organizationId: string;
  roleId: string;
  status: MembershipStatus;
  permissions: string[];
  /** The permissions of the member's roles at each of their locations (none while PENDING). */
  locations: { locationId: string; permissions: string[] }[];
}

/**
 * The viewer's memberships in a batch of organizations, with their role's permissions and the
 * roles held at locations: one statement however many organizations a request touches. A
 * pending membership's location roles are not read: they grant nothing, and strangers can make those.
 */
const MEMBERSHIPS_IN = `SELECT m.id, m."organizationId", m."roleId", m.status::text AS status, r.permissions,
  CASE WHEN m.status = 'PENDING' THEN '[]'::json ELSE COALESCE(
    (SELECT json_agg(json_build_object('locationId', l."locationId", 'permissions', lr.permissions))
       FROM "MemberLocationRole" l JOIN "Role" lr ON lr.id = l."roleId" WHERE l."memberId" = m.id),
    '[]'::json) END AS locations
FROM "Member" m JOIN "Role" r ON r.id = m."roleId"
WHERE m."userId" = $1::uuid AND m."organizationId" = ANY($2::uuid[])`;

/** MEMBERSHIPS_IN for many users in one organization (the same columns, and the user's id). */
const MEMBERSHIPS_OF_USERS = MEMBERSHIPS_IN.replace(
  `WHERE m."userId" = $1::uuid AND m."organizationId" = ANY($2::uuid[])`,
  `WHERE m."userId" = ANY($1::uuid[]) AND m."organizationId" = $2::uuid`,
).replace("SELECT m.id,", `SELECT m."userId", m.id,`);

const OPERATOR_PERMISSIONS: ReadonlySet<Permission> = new Set(OPERATOR_READ);

/** A viewer's standing in one organization (see rules.ts), with what their roles at each location add. */
export type StandingWithLocations = Standing & { locations: ReadonlyMap<string, ReadonlySet<Permission>> };

const NO_ACCESS: StandingWithLocations = Object.freeze({
  memberId: null,
  roleId: null,
  status: null,
  permissions: new Set<Permission>(),
  locations: new Map<string, ReadonlySet<Permission>>(),
});

function accessOf(row: MembershipRow): StandingWithLocations {
  const locations = new Map<string, Set<Permission>>();
  for (const { locationId, permissions } of row.locations) {
    const set = locations.get(locationId) ?? new Set<Permission>();
    for (const permission of permissions) set.add(permission as Permission);
    locations.set(locationId, set);
  }
  return { ...standingOf({ memberId: row.id, roleId: row.roleId, status: row.status }, row.permissions), locations };
}

/**
 * The standing at one location: the organization role's permissions plus those of the roles
 * held at that location (scoped roles add, never take away). Without a location, the
 * organization-wide standing.
 */
export function atLocation(access: StandingWithLocations, locationId: string | null | undefined): StandingWithLocations {
  return locationId ? withPermissions(access, access.locations.get(locationId)) : access;
}

/**
 * One membership per organization: the accepted one where the user also has pending ones there
 * (someone added them again under another address), since only it can grant anything.
 */
function perOrganization<T extends { organizationId: string; status: string }>(rows: readonly T[]): Map<string, T> {
  const chosen = new Map<string, T>();
  for (const row of rows) {
    const seen = chosen.get(row.organizationId);
    if (!seen || (seen.status === "PENDING" && row.status !== "PENDING")) chosen.set(row.organizationId, row);
  }
  return chosen;
}

/**
 * The standings of many active users in one organization, in one statement (a process's
 * subscriptions re-check theirs together every second), by the same rows and rules as a
 * Policy's own loader. Operators' read access from outside is not included (it holds no
 * events:read, what the re-checks ask about).
 */
export async function standingsIn(db: Pick<Database, "query">, organizationId: string, userIds: readonly string[]): Promise<Map<string, StandingWithLocations>> {
  const rows = await db.query<MembershipRow & { userId: string }>(MEMBERSHIPS_OF_USERS, [userIds, organizationId]);
  const byUser = new Map<string, (MembershipRow & { userId: string })[]>();
  for (const row of rows) byUser.set(row.userId, [...(byUser.get(row.userId) ?? []), row]);
  return new Map(
    userIds.map((userId) => {
      const row = perOrganization(byUser.get(userId) ?? []).get(organizationId);
      return [userId, row ? accessOf(row) : NO_ACCESS];
    }),
  );
}

/** Applies `next` now for a plain value, or when the promise settles. */
function then<T, R>(value: T | Promise<T>, next: (value: T) => R): R | Promise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/**
 * Per-request policy for one viewer. Organization access is read lazily and batched: only the
 * organizations a request touches, however many, in one statement per tick; once read, an
 * organization's standing is answered synchronously for the rest of the request (a list of
 * thousands of objects then costs no promises). Nothing is kept between requests.
 */
export class Policy {
  private readonly access: DataLoader<string, StandingWithLocations>;
  private readonly visibleUsers: DataLoader<string, boolean>;
  private readonly privateUsers: DataLoader<string, boolean>;
  private readonly organizationExists: DataLoader<string, boolean>;
  /** Standings the loader has answered, for synchronous answers. */
  private readonly known = new Map<string, StandingWithLocations>();
  /** Counts forget() calls, so a read begun before one doesn't fill `known` after it. */
  private generation = 0;
  /** Objects a list has already authorized as a whole (vouchForMembers); their type check is free. */
  private vouched = new WeakSet<object>();
  /** Users already known to be visible (the viewer, members of visible memberships). */
  private readonly seenUsers = new Set<string>();

  private readonly operator: boolean;
  private readonly operatorAudited = new Set<string>();

  private readonly prisma: PrismaClient;

  constructor(
    db: Pick<Database, "prisma" | "query">,
    readonly viewer: Viewer | null,
    private readonly requestId: string | null = null,
    private readonly options: { vouching: boolean } = { vouching: true },
  ) {
    const prisma = (this.prisma = db.prisma);
    this.operator = viewer?.user.status === "ACTIVE" && viewer.user.isOperator === true;
    this.access = new DataLoader(async (organizationIds) => {
      if (!viewer || viewer.user.status !== "ACTIVE") return organizationIds.map(() => NO_ACCESS);
      const generation = this.generation;
      const byOrg = perOrganization(await db.query<MembershipRow>(MEMBERSHIPS_IN, [viewer.user.id, [...organizationIds]]));
      return organizationIds.map((id) => {
        const row = byOrg.get(id);
        const access = row ? accessOf(row) : NO_ACCESS;
        // Not if forget() came while this was read: it may predate the change that forgot it.
        if (generation === this.generation) this.known.set(id, access);
        return access;
      });
    });
    this.privateUsers = new DataLoader(async (userIds) => {
      if (!viewer) return userIds.map(() => false);
      const rows = await prisma.member.findMany({
        // Only memberships the user chose count: being added by someone else must not expose them.
        where: { userId: { in: [...userIds] }, consented: true, organization: this.memberOrganizationsWhere("members:read_private") },
        select: { userId: true },
        distinct: ["userId"],
      });
      const visible = new Set(rows.map((row) => row.userId));
      return userIds.map((id) => visible.has(id));
    });
    this.visibleUsers = new DataLoader(async (userIds) => {
      if (!viewer) return userIds.map(() => false);
      const rows = await prisma.member.findMany({
        // A membership the user hasn't accepted shows the organization nothing of them (see Member.user).
        where: { userId: { in: [...userIds] }, status: { not: "PENDING" }, organization: this.organizationsWhere("members:read") },
        select: { userId: true },
        distinct: ["userId"],
      });
      const visible = new Set(rows.map((row) => row.userId));
      return userIds.map((id) => id === viewer.user.id || visible.has(id));
    });
    this.organizationExists = new DataLoader(async (organizationIds) => {
      const rows = await prisma.organization.findMany({ where: { id: { in: [...organizationIds] } }, select: { id: true } });
      const found = new Set(rows.map((row) => row.id));
      return organizationIds.map((id) => found.has(id));
    });
  }

  /** Drops everything cached for this request (after a change to memberships or roles). */
  forget(): void {
    this.generation++;
    this.vouched = new WeakSet();
    this.known.clear();
    this.access.clearAll();
    this.visibleUsers.clearAll();
    this.privateUsers.clearAll();
    this.seenUsers.clear();
  }

  /**
   * Drops everything cached, then takes `organizationId`'s standing as standingsIn has just read
   * it (a subscription's re-check): what the next fields see is that fresh standing, without
   * reading it again.
   */
  refreshWith(organizationId: string, standing: StandingWithLocations): void {
    this.forget();
    if (this.viewer?.user.status === "ACTIVE" && !this.operator) this.known.set(organizationId, standing);
  }

  /**
   * The viewer's standing in an organization (active, suspended or none): synchronously once
   * this request has read it, else through the batched loader.
   */
  standing(organizationId: string): StandingWithLocations | Promise<StandingWithLocations> {
    const access = this.known.get(organizationId) ?? this.access.load(organizationId);
    if (!this.operator) return access;
    // An operator's read access needs the organization to exist: one batched look-up.
    return Promise.resolve(access).then((found) => (found.status === null ? this.operatorAccess(organizationId) : found));
  }

  /** The viewer was added to the organization and hasn't accepted yet: they may see the organization, nothing in it. */
  isPendingMember(organizationId: string): boolean | Promise<boolean> {
    return then(this.standing(organizationId), (access) => access.status === "PENDING");
  }

  /**
   * A platform operator outside the organization reads it for support: read permissions only,
   * no membership (so no owner rights). Each organization read this way is recorded in its
   * audit trail, once per request. An organization that doesn't exist is not found, unrecorded.
   */
  private async operatorAccess(organizationId: string): Promise<StandingWithLocations> {
    if (!(await this.organizationExists.load(organizationId))) return NO_ACCESS;
    if (!this.operatorAudited.has(organizationId)) {
      this.operatorAudited.add(organizationId);
      void this.prisma.auditEvent
        .create({
          data: {
            organizationId,
            actorUserId: this.viewer!.user.id,
            actorTokenId: this.viewer!.tokenId,
            action: "operator.organization_read",
            targetType: "Organization",
            targetId: organizationId,
            requestId: this.requestId,
          },
        })
        .catch(() => this.operatorAudited.delete(organizationId));
    }
    return { memberId: null, roleId: null, status: "ACTIVE", permissions: OPERATOR_PERMISSIONS, locations: new Map() };
  }

  get isOperator(): boolean {
    return this.operator;
  }

  /** The standing at a location of the organization (organization-wide when locationId is null). */
  standingAt(organizationId: string, locationId: string | null | undefined): StandingWithLocations | Promise<StandingWithLocations> {
    return then(this.standing(organizationId), (access) => atLocation(access, locationId));
  }

  can(organizationId: string, permission: Permission, locationId?: string | null): boolean | Promise<boolean> {
    return then(this.standing(organizationId), (access) => atLocation(access, locationId).permissions.has(permission));
  }

  isOwner(organizationId: string): boolean | Promise<boolean> {
    return then(this.standing(organizationId), isOwnerStanding);
  }

  isActiveMember(organizationId: string): boolean | Promise<boolean> {
    return then(this.standing(organizationId), (access) => access.status === "ACTIVE");
  }

  /** A user is visible to themselves and to anyone who may read members of an organization they belong to. */
  canSeeUser(userId: string): boolean | Promise<boolean> {
    if (this.seenUsers.has(userId) || userId === this.viewer?.user.id || this.operator) return true;
    return this.visibleUsers.load(userId);
  }

  /**
   * A user's private contact points (every email, phones): to themselves, to operators, and to
   * holders of members:read_private in an organization the user belongs to.
   */
  canSeePrivateOf(userId: string): boolean | Promise<boolean> {
    if (userId === this.viewer?.user.id || this.operator) return true;
    return this.privateUsers.load(userId);
  }

  /**
   * A list of one organization's members, read by a field that required members:read there, is
   * authorized once, not per object: the rows (and the users of accepted ones, which seeing the
   * membership shows) skip their type checks for this request. It vouches only when this request
   * already knows the viewer holds members:read organization-wide there — exactly what each
   * row's own check (canSeeMember) would ask — so a vouch can never grant what the check wouldn't.
   */
  vouchForMembers(organizationId: string, members: Iterable<{ userId: string; organizationId: string; status: string; user?: object }>): void {
    if (!this.options.vouching || this.operator || !this.known.get(organizationId)?.permissions.has("members:read")) return;
    for (const member of members) {
      if (member.organizationId !== organizationId) continue;
      this.vouched.add(member);
      // A pending member's user stays unseen: the organization sees only a stand-in (Member.user).
      if (member.status !== "PENDING") {
        this.seenUsers.add(member.userId);
        if (member.user) this.vouched.add(member.user);
      }
    }
  }

  /** Whether a list already authorized this object (see vouchForMembers). */
  isVouched(value: unknown): boolean {
    return typeof value === "object" && value !== null && this.vouched.has(value);
  }

  /**
   * A membership is visible to its own user and to holders of members:read in its
   * organization. Seeing it means seeing its user too, which is remembered, so a member list's
   * users need no query of their own.
   */
  canSeeMember(member: { userId: string; organizationId: string; status: string }): boolean | Promise<boolean> {
    const remember = (visible: boolean) => {
      // A pending member's user stays unseen: the organization sees only a stand-in (Member.user).
      if (visible && member.status !== "PENDING") this.seenUsers.add(member.userId);
      return visible;
    };
    if (member.userId === this.viewer?.user.id) return remember(true);
    return then(this.can(member.organizationId, "members:read"), remember);
  }

  /**
   * Prisma filter: organizations the viewer may read with `permission` (any member when null):
   * where they are an active member holding it, and for an operator every organization when it
   * is a read permission.
   */
  organizationsWhere(permission: Permission | null): Prisma.OrganizationWhereInput {
    // A condition that always holds, not {}: Prisma drops an empty relation filter inside OR.
    if (this.operator && (permission === null || OPERATOR_PERMISSIONS.has(permission))) return { NOT: { id: NO_ROW } };
    return this.memberOrganizationsWhere(permission);
  }

  /** Prisma filter: organizations where the viewer is an active member holding `permission` (any member when null). */
  memberOrganizationsWhere(permission: Permission | null): Prisma.OrganizationWhereInput {
    if (!this.viewer || this.viewer.user.status !== "ACTIVE") return { id: NO_ROW };
    return {
      members: {
        some: {
          userId: this.viewer.user.id,
          status: "ACTIVE",
          ...(permission ? { role: { permissions: { has: permission } } } : {}),
        },
      },
    };
  }

  /** Prisma filter for members the viewer may read: their own memberships, and all members where they hold members:read. */
  membersWhere(): Prisma.MemberWhereInput {
    if (!this.viewer) return { id: NO_ROW };
    return { OR: [{ userId: this.viewer.user.id }, { organization: this.organizationsWhere("members:read") }] };
  }

  /**
   * Prisma filter for roles the viewer may see: the system roles, and the custom roles of
   * organizations they are an active member of (every member sees their own role; listing
   * an organization's roles still needs roles:read).
   */
  rolesWhere(): Prisma.RoleWhereInput {
    if (!this.viewer) return { id: NO_ROW };
    return { OR: [{ organizationId: null }, { organization: this.organizationsWhere(null) }] };
  }

  /** Prisma filter for invitations the viewer may see: those addressed to them, and those of organizations where they hold invitations:read. */
  invitationsWhere(): Prisma.InvitationWhereInput {
    if (!this.viewer) return { id: NO_ROW };
    return { OR: [{ email: { in: this.viewer.emails } }, { organization: this.organizationsWhere("invitations:read") }] };
  }

  usersWhere(): Prisma.UserWhereInput {
    if (!this.viewer) return { id: NO_ROW };
    if (this.operator) return {};
    return {
      OR: [
        { id: this.viewer.user.id },
        { memberships: { some: { status: { not: "PENDING" }, organization: this.organizationsWhere("members:read") } } },
      ],
    };
  }
}
