// Batch loaders for data that plugin-prisma can't fold into the parent query. Each turns
// "one query per parent" into "one query per batch", so statement counts follow the shape
// of the GraphQL query and not the number of rows.
import { createEventPageLoader, type EventKey, type EventPage } from "../db/queries/event-pages.js";
import { COUNTED_OWNERS } from "../domain/access.js";
import DataLoader from "dataloader";
import type { Database } from "../db/client.js";
import type { Invitation, Location, Member, Organization, Role, User, UserEmail, UserPhone } from "../generated/prisma/client.js";
import { createAuditPageLoaders, type AuditPageLoaders } from "../db/queries/audit-pages.js";
import { createMemberPageLoaders, type MemberPageLoaders } from "../db/queries/member-pages.js";

/** A role as seen from one organization (system roles are shared rows). */
export type RoleInOrganization = Role & { contextOrganizationId: string | null };

const rolesInOrganizations = new WeakMap<Role, Map<string | null, RoleInOrganization>>();

/**
 * The role as seen from an organization. The same role object seen from the same organization
 * gives the same result object, so per-object work (auth scopes) runs once per role, not once
 * per member holding it.
 */
export function inOrganization(role: Role, organizationId: string | null): RoleInOrganization {
  let views = rolesInOrganizations.get(role);
  if (!views) {
    views = new Map();
    rolesInOrganizations.set(role, views);
  }
  let view = views.get(organizationId);
  if (!view) {
    view = { ...role, contextOrganizationId: role.organizationId ?? organizationId };
    views.set(organizationId, view);
  }
  return view;
}

export interface Loaders {
  /** Whether no loader has been made yet (nothing read, nothing cached). */
  readonly pristine: boolean;
  userById: DataLoader<string, User | null>;
  memberById: DataLoader<string, Member | null>;
  organizationById: DataLoader<string, Organization | null>;
  organizationBySlug: DataLoader<string, Organization | null>;
  userByEmail: DataLoader<string, User | null>;
  invitationById: DataLoader<string, Invitation | null>;
  roleById: DataLoader<string, Role | null>;
  /** All roles usable in an organization: the system roles first, then its custom roles by creation. */
  organizationRoles: DataLoader<string, RoleInOrganization[]>;
  /** Pages of Organization.members and their counts, one statement per argument shape. */
  memberPages: MemberPageLoaders;
  /** Pages of Organization.auditEvents and their counts, one statement per argument shape. */
  auditPages: AuditPageLoaders;
  /** Pages of Organization.events, one statement per argument shape. */
  eventPages: DataLoader<EventKey, EventPage, string>;
  /** Members holding a role in an organization; key `${organizationId}:${roleId}`. */
  roleMemberCount: DataLoader<string, number>;
  /** Active owners with active accounts per organization (what the last-owner rule counts). */
  activeOwnerCount: DataLoader<string, number>;
  locationById: DataLoader<string, Location | null>;
  /** A user's email addresses / phone numbers, primary first. */
  emailsByUser: DataLoader<string, UserEmail[]>;
  phonesByUser: DataLoader<string, UserPhone[]>;
  /** A member's location assignments: locationId → role ids, in location creation order. */
  memberLocations: DataLoader<string, { locationId: string; roleIds: string[] }[]>;
}

/** Orders rows like the keys that asked for them; a missing row is null. */
function byId<Row extends { id: string }>(ids: readonly string[], rows: Row[]): (Row | null)[] {
  const map = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => map.get(id) ?? null);
}

export function createLoaders(db: Pick<Database, "prisma" | "query">, limits: { maxPageSize: number; defaultPageSize: number }): Loaders {
  const { prisma } = db;
  const userById = () => new DataLoader<string, User | null>(async (ids) => byId(ids, await prisma.user.findMany({ where: { id: { in: [...ids] } } })));

  const roleById = () => new DataLoader<string, Role | null>(async (ids) => byId(ids, await prisma.role.findMany({ where: { id: { in: [...ids] } } })));
  const memberById = () => new DataLoader<string, Member | null>(async (ids) =>
    byId(ids, await prisma.member.findMany({ where: { id: { in: [...ids] } } })),
  );
  const organizationById = () => new DataLoader<string, Organization | null>(async (ids) =>
    byId(ids, await prisma.organization.findMany({ where: { id: { in: [...ids] } } })),
  );
  const organizationBySlug = () => new DataLoader<string, Organization | null>(async (slugs) => {
    const rows = await prisma.organization.findMany({ where: { slug: { in: [...slugs] } } });
    const bySlug = new Map(rows.map((row) => [row.slug, row]));
    return slugs.map((slug) => bySlug.get(slug) ?? null);
  });
  const userByEmail = () => new DataLoader<string, User | null>(async (emails) => {
    const rows = await prisma.user.findMany({ where: { email: { in: [...emails] } } });
    const byEmail = new Map(rows.map((row) => [row.email, row]));
    return emails.map((email) => byEmail.get(email) ?? null);
  });
  const invitationById = () => new DataLoader<string, Invitation | null>(async (ids) =>
    byId(ids, await prisma.invitation.findMany({ where: { id: { in: [...ids] } } })),
  );

  const organizationRoles = () => new DataLoader<string, RoleInOrganization[]>(async (organizationIds) => {
    const rows = await prisma.role.findMany({
      where: { OR: [{ organizationId: null }, { organizationId: { in: [...organizationIds] } }] },
      orderBy: [{ isSystem: "desc" }, { createdAt: "asc" }, { id: "asc" }],
    });
    return organizationIds.map((organizationId) =>
      rows
        .filter((row) => row.organizationId === null || row.organizationId === organizationId)
        .map((row) => inOrganization(row, organizationId)),
    );
  });

  const roleMemberCount = () => new DataLoader<string, number>(async (keys) => {
    const pairs = keys.map((key) => {
      const [organizationId, roleId] = key.split(":");
      return { organizationId: organizationId!, roleId: roleId! };
    });
    const groups = await prisma.member.groupBy({
      by: ["organizationId", "roleId"],
      where: {
        organizationId: { in: [...new Set(pairs.map((pair) => pair.organizationId))] },
        roleId: { in: [...new Set(pairs.map((pair) => pair.roleId))] },
      },
      _count: { _all: true },
    });
    const counts = new Map(groups.map((group) => [`${group.organizationId}:${group.roleId}`, group._count._all]));
    return keys.map((key) => counts.get(key) ?? 0);
  });

  const activeOwnerCount = () => new DataLoader<string, number>(async (organizationIds) => {
    const groups = await prisma.member.groupBy({
      by: ["organizationId"],
      where: { organizationId: { in: [...organizationIds] }, ...COUNTED_OWNERS },
      _count: { _all: true },
    });
    const counts = new Map(groups.map((group) => [group.organizationId, group._count._all]));
    return organizationIds.map((id) => counts.get(id) ?? 0);
  });

  const locationById = () => new DataLoader<string, Location | null>(async (ids) =>
    byId(ids, await prisma.location.findMany({ where: { id: { in: [...ids] } } })),
  );
  const memberLocations = () => new DataLoader<string, { locationId: string; roleIds: string[] }[]>(async (memberIds) => {
    const rows = await prisma.memberLocationRole.findMany({
      where: { memberId: { in: [...memberIds] } },
      select: { memberId: true, locationId: true, roleId: true },
      orderBy: [{ locationId: "asc" }, { createdAt: "asc" }],
    });
    return memberIds.map((memberId) => {
      const byLocation = new Map<string, string[]>();
      for (const row of rows) if (row.memberId === memberId) byLocation.set(row.locationId, [...(byLocation.get(row.locationId) ?? []), row.roleId]);
      return [...byLocation].map(([locationId, roleIds]) => ({ locationId, roleIds }));
    });
  });

  const groupByUser = <Row extends { userId: string }>(userIds: readonly string[], rows: Row[]) =>
    userIds.map((userId) => rows.filter((row) => row.userId === userId));
  const emailsByUser = () => new DataLoader<string, UserEmail[]>(async (userIds) =>
    groupByUser(userIds, await prisma.userEmail.findMany({ where: { userId: { in: [...userIds] } }, orderBy: [{ isPrimary: "desc" }, { createdAt: "asc" }] })),
  );
  const phonesByUser = () => new DataLoader<string, UserPhone[]>(async (userIds) =>
    groupByUser(userIds, await prisma.userPhone.findMany({ where: { userId: { in: [...userIds] } }, orderBy: [{ isPrimary: "desc" }, { createdAt: "asc" }] })),
  );

  // Each made on first use: a request builds only the loaders its fields use (a subscription's
  // context, held for hours, mostly none).
  const made: Partial<Omit<Loaders, "pristine">> = {};
  return {
    get pristine() {
      for (const _ in made) return false;
      return true;
    },
    get userById() {
      return (made.userById ??= userById());
    },
    get roleById() {
      return (made.roleById ??= roleById());
    },
    get memberById() {
      return (made.memberById ??= memberById());
    },
    get organizationById() {
      return (made.organizationById ??= organizationById());
    },
    get organizationBySlug() {
      return (made.organizationBySlug ??= organizationBySlug());
    },
    get userByEmail() {
      return (made.userByEmail ??= userByEmail());
    },
    get invitationById() {
      return (made.invitationById ??= invitationById());
    },
    get organizationRoles() {
      return (made.organizationRoles ??= organizationRoles());
    },
    get roleMemberCount() {
      return (made.roleMemberCount ??= roleMemberCount());
    },
    get activeOwnerCount() {
      return (made.activeOwnerCount ??= activeOwnerCount());
    },
    get locationById() {
      return (made.locationById ??= locationById());
    },
    get memberLocations() {
      return (made.memberLocations ??= memberLocations());
    },
    get emailsByUser() {
      return (made.emailsByUser ??= emailsByUser());
    },
    get phonesByUser() {
      return (made.phonesByUser ??= phonesByUser());
    },
    get memberPages() {
      return (made.memberPages ??= createMemberPageLoaders(db.query, limits));
    },
    get auditPages() {
      return (made.auditPages ??= createAuditPageLoaders(prisma, limits));
    },
    get eventPages() {
      return (made.eventPages ??= createEventPageLoader(prisma));
    },
  };
}
