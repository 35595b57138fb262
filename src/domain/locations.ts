// Locations (branches, sites, stores) of an organization, and members' assignments to them with
// roles at each. A role held at a location adds its permissions there only: someone who is
// admin at one location manages assignments at that location and nothing else. Each function
// is one transaction that locks the organization, like every membership change.
import type { Location, Member, PrismaClient, Role } from "../generated/prisma/client.js";
import { OWNER_ROLE_ID } from "../core/permissions.js";
import { enforce, locationRules, targetWithPermissions } from "../core/rules.js";
import { actorAccess, actorStandingAt, asTarget, authorize, enforceInOrganization, lockOrganization, locationPermissions, memberInOrganization, type Tx } from "./access.js";
import type { Actor } from "./actor.js";
import { recordAudit } from "./audit.js";
import { AppError, conflict, invalid, notFound } from "../core/errors.js";
import type { IdempotencyClaim } from "./idempotency.js";
import { isUniqueViolation } from "./prisma-errors.js";
import { optionalText, requireText, validateTimeZone } from "./validate.js";
import { assertVersion } from "./versions.js";

const MAX_LOCATIONS = 1000;
/** Most locations one setMemberLocations call assigns, and roles per location. */
const MAX_ASSIGNED_LOCATIONS = 100;
const MAX_ROLES_PER_LOCATION = 10;

const snapshot = (location: Location) => ({ name: location.name, timezone: location.timezone, address: location.address });

export interface CreateLocationInput {
  organizationId: string;
  name: string;
  timezone?: string | null;
  address?: string | null;
}

function fields(input: { name?: string | null; timezone?: string | null; address?: string | null }) {
  return {
    ...(input.name != null ? { name: requireText(input.name, "name", { max: 100 }) } : {}),
    ...(input.timezone !== undefined ? { timezone: input.timezone === null ? null : validateTimeZone(input.timezone) } : {}),
    ...(input.address !== undefined ? { address: optionalText(input.address, "address", 500) ?? null } : {}),
  };
}

function nameTaken(error: unknown, name: string | undefined): never {
  if (isUniqueViolation(error)) throw conflict(`A location named "${name}" already exists in this organization`, { field: "name" });
  throw error;
}

export async function createLocation(db: PrismaClient, actor: Actor, input: CreateLocationInput, idempotency?: IdempotencyClaim): Promise<Location> {
  const data = fields(input);
  if (!data.name) throw invalid("name", "name must not be empty");
  try {
    return await db.$transaction(async (tx) => {
      await idempotency?.claim(tx);
      const access = await authorize(tx, actor, input.organizationId, "locations:create");
      enforce(locationRules.create(access.standing));
      if ((await tx.location.count({ where: { organizationId: input.organizationId } })) >= MAX_LOCATIONS) {
        throw conflict(`An organization can have at most ${MAX_LOCATIONS} locations`);
      }
      const location = await tx.location.create({ data: { organizationId: input.organizationId, name: data.name!, timezone: data.timezone ?? null, address: data.address ?? null } });
      await recordAudit(tx, actor, { organizationId: input.organizationId, action: "location.created", targetType: "Location", targetId: location.id, after: snapshot(location) });
      await idempotency?.complete(tx, location.id);
      return location;
    });
  } catch (error) {
    return nameTaken(error, data.name);
  }
}

/** Locks the location's organization and reads the location again under the lock. */
async function lockedLocation(tx: Tx, locationId: string): Promise<Location> {
  const found = await tx.location.findUnique({ where: { id: locationId } });
  if (!found) throw notFound("Location");
  await lockOrganization(tx, found.organizationId);
  const location = await tx.location.findUnique({ where: { id: locationId } });
  if (!location) throw notFound("Location");
  return location;
}

export interface UpdateLocationInput {
  locationId: string;
  name?: string | null;
  timezone?: string | null;
  address?: string | null;
  expectedVersion?: number | null;
}

/** Edits a location. Needs locations:update there (organization-wide, or through a role at this location). */
export async function updateLocation(db: PrismaClient, actor: Actor, input: UpdateLocationInput): Promise<Location> {
  const data = fields(input);
  try {
    return await db.$transaction(async (tx) => {
      const before = await lockedLocation(tx, input.locationId);
      const access = await actorAccess(tx, actor, before.organizationId);
      enforce(locationRules.update(await actorStandingAt(tx, access, before.id)));
      assertVersion(before, input.expectedVersion);
      const location = await tx.location.update({ where: { id: before.id }, data: { ...data, version: { increment: 1 } } });
      await recordAudit(tx, actor, {
        organizationId: location.organizationId,
        action: "location.updated",
        targetType: "Location",
        targetId: location.id,
        before: snapshot(before),
        after: snapshot(location),
      });
      return location;
    });
  } catch (error) {
    return nameTaken(error, input.name ?? undefined);
  }
}

/** Deletes a location with its assignments; members whose default it was lose that default. */
export async function deleteLocation(db: PrismaClient, actor: Actor, input: { locationId: string; expectedVersion?: number | null }): Promise<string> {
  return db.$transaction(async (tx) => {
    const location = await lockedLocation(tx, input.locationId);
    const access = await actorAccess(tx, actor, location.organizationId);
    enforce(locationRules.delete(access.standing));
    assertVersion(location, input.expectedVersion);
    const assignments = await tx.memberLocationRole.count({ where: { locationId: location.id } });
    await tx.location.delete({ where: { id: location.id } });
    await recordAudit(tx, actor, {
      organizationId: location.organizationId,
      action: "location.deleted",
      targetType: "Location",
      targetId: location.id,
      before: { ...snapshot(location), assignments },
    });
    return location.id;
  });
}

interface LocationAssignmentInput {
  locationId: string;
  roleIds: readonly string[];
}

export interface SetMemberLocationsInput {
  memberId: string;
  locations: readonly LocationAssignmentInput[];
  expectedVersion?: number | null;
}

/** The member's assignments as locationId → sorted role ids. */
async function assignmentsOf(tx: Tx, memberId: string): Promise<Map<string, string[]>> {
  const rows = await tx.memberLocationRole.findMany({ where: { memberId }, select: { locationId: true, roleId: true } });
  const map = new Map<string, string[]>();
  for (const row of rows) map.set(row.locationId, [...(map.get(row.locationId) ?? []), row.roleId].sort());
  return map;
}

function validateAssignments(locations: readonly LocationAssignmentInput[]): Map<string, string[]> {
  if (locations.length > MAX_ASSIGNED_LOCATIONS) throw invalid("locations", `A member can be assigned to at most ${MAX_ASSIGNED_LOCATIONS} locations at once`);
  const wanted = new Map<string, string[]>();
  locations.forEach((entry, index) => {
    if (wanted.has(entry.locationId)) throw invalid(`locations.${index}.locationId`, "Each location may appear only once");
    const roleIds = [...new Set(entry.roleIds)].sort();
    if (roleIds.length === 0) throw invalid(`locations.${index}.roleIds`, "Give at least one role for each location (leave the location out to unassign)");
    if (roleIds.length > MAX_ROLES_PER_LOCATION) throw invalid(`locations.${index}.roleIds`, `At most ${MAX_ROLES_PER_LOCATION} roles per location`);
    if (roleIds.includes(OWNER_ROLE_ID)) throw invalid(`locations.${index}.roleIds`, "The owner role is organization-wide; it can't be held at a location");
    wanted.set(entry.locationId, roleIds);
  });
  return wanted;
}

/**
 * Replaces a member's location assignments (as the replaced APIs' update does). Every location
 * whose roles change — added, changed or removed — is checked at that location: the caller
 * needs members:update there, must outrank the member there, and may grant only roles within
 * their own permissions there.
 */
export async function setMemberLocations(db: PrismaClient, actor: Actor, input: SetMemberLocationsInput): Promise<Member> {
  const wanted = validateAssignments(input.locations);
  return db.$transaction(async (tx) => {
    const { organizationId } = await memberInOrganization(tx, input.memberId);
    await lockOrganization(tx, organizationId);
    const access = await actorAccess(tx, actor, organizationId);
    const target = await memberInOrganization(tx, input.memberId, organizationId);

    const locationIds = [...wanted.keys()];
    const locations = await tx.location.findMany({ where: { id: { in: locationIds }, organizationId }, select: { id: true } });
    const known = new Set(locations.map((location) => location.id));
    input.locations.forEach((entry, index) => {
      if (!known.has(entry.locationId)) throw new AppError("NOT_FOUND", "Location not found", { field: `locations.${index}.locationId` });
    });
    const roleIds = [...new Set([...wanted.values()].flat())];
    const roles = await tx.role.findMany({ where: { id: { in: roleIds }, OR: [{ organizationId: null }, { organizationId }] } });
    const roleById = new Map<string, Role>(roles.map((role) => [role.id, role]));
    input.locations.forEach((entry, index) => {
      for (const roleId of entry.roleIds) {
        if (!roleById.has(roleId)) throw new AppError("NOT_FOUND", "Role not found", { field: `locations.${index}.roleIds` });
      }
    });

    const current = await assignmentsOf(tx, target.id);
    const changed = [...new Set([...current.keys(), ...wanted.keys()])].filter(
      (locationId) => (current.get(locationId) ?? []).join() !== (wanted.get(locationId) ?? []).join(),
    );
    const targetBase = asTarget(target);
    for (const locationId of changed) {
      const standing = await actorStandingAt(tx, access, locationId);
      const targetThere = targetWithPermissions(targetBase, await locationPermissions(tx, target.id, locationId));
      const held = new Set(current.get(locationId) ?? []);
      const granted = (wanted.get(locationId) ?? []).filter((roleId) => !held.has(roleId)).map((roleId) => roleById.get(roleId)!);
      await enforceInOrganization(tx, organizationId, locationRules.assignAt(standing, targetThere, granted));
    }
    if (changed.length === 0) {
      // Nothing changes; still only someone who could change it (somewhere it is assigned) gets an answer.
      const places = wanted.size > 0 ? [...wanted.keys()] : [null];
      const decisions = [];
      for (const locationId of places) {
        const standing = locationId ? await actorStandingAt(tx, access, locationId) : access.standing;
        decisions.push(locationRules.assignAt(standing, targetBase, []));
      }
      if (!decisions.some((decision) => decision.allowed)) await enforceInOrganization(tx, organizationId, decisions[0]!);
    }
    assertVersion(target, input.expectedVersion);
    if (changed.length === 0) return target;

    await tx.memberLocationRole.deleteMany({ where: { memberId: target.id, locationId: { in: changed } } });
    await tx.memberLocationRole.createMany({
      data: changed.flatMap((locationId) =>
        (wanted.get(locationId) ?? []).map((roleId) => ({ organizationId, memberId: target.id, locationId, roleId })),
      ),
    });
    const keepsDefault = target.defaultLocationId === null || wanted.has(target.defaultLocationId);
    const member = await tx.member.update({
      where: { id: target.id },
      data: { version: { increment: 1 }, ...(keepsDefault ? {} : { defaultLocationId: null }) },
    });
    const asObject = (map: Map<string, string[]>) => Object.fromEntries([...map].filter(([locationId]) => changed.includes(locationId)));
    await recordAudit(tx, actor, {
      organizationId,
      action: "member.locations_set",
      targetType: "Member",
      targetId: target.id,
      before: asObject(current),
      after: asObject(wanted),
    });
    return member;
  });
}

