// Custom roles: named permission sets of one organization. System roles can't be changed.
// Nobody can create or edit a role holding permissions they don't hold themselves.
import type { PrismaClient, Role } from "../generated/prisma/client.js";
import { isPermission, OWNER_ROLE_ID, PERMISSIONS, type Permission } from "../core/permissions.js";
import { editableRole, enforce, roleRules } from "../core/rules.js";
import { assertCanGrant, authorize, roleInOrganization, type Tx } from "./access.js";
import type { Actor } from "./actor.js";
import { recordAudit } from "./audit.js";
import { AppError, conflict, invalid, notFound } from "../core/errors.js";
import { assertVersion } from "./versions.js";
import type { IdempotencyClaim } from "./idempotency.js";
import { isUniqueViolation } from "./prisma-errors.js";
import { optionalText, requireText } from "./validate.js";

const MAX_CUSTOM_ROLES = 50;
const RESERVED_KEYS = new Set(["owner", "admin", "member"]);
const KEY_PATTERN = /^[a-z][a-z0-9_]{1,47}$/;

const snapshot = (role: Role) => ({
  key: role.key,
  name: role.name,
  description: role.description,
  permissions: role.permissions,
  isDefault: role.isDefault,
});

export function validatePermissions(values: readonly string[], field = "permissions"): Permission[] {
  if (values.length > 100) throw invalid(field, `${field} takes at most 100 entries (the catalogue has ${Object.keys(PERMISSIONS).length})`);
  const unknown = values.filter((value) => !isPermission(value));
  if (unknown.length > 0) {
    throw new AppError("BAD_USER_INPUT", `Unknown permission(s): ${unknown.join(", ")}. See the \`permissions\` query for the catalogue`, {
      field,
      unknownPermissions: unknown,
    });
  }
  return [...new Set(values as Permission[])].sort();
}

function roleKey(name: string, key: string | null | undefined): string {
  const value = key?.trim() || name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 48);
  const normalized = /^[a-z]/.test(value) ? value : `role_${value}`.replace(/_+$/, "");
  if (!KEY_PATTERN.test(normalized)) {
    throw invalid("key", `key must be 2-48 characters of lower-case letters, digits and underscores, starting with a letter (got "${key ?? normalized}")`);
  }
  if (RESERVED_KEYS.has(normalized)) throw invalid("key", `"${normalized}" is the key of a system role; choose another`);
  return normalized;
}

async function customRole(tx: Tx, roleId: string): Promise<Role> {
  const role = await tx.role.findUnique({ where: { id: roleId } });
  if (!role) throw notFound("Role");
  return role;
}

/** A custom role (system roles have no organization and can't be changed: reason SYSTEM_ROLE). */
function assertEditable(role: Role): asserts role is Role & { organizationId: string } {
  enforce(editableRole(role));
}

async function clearOtherDefaults(tx: Tx, organizationId: string, keepId: string): Promise<void> {
  await tx.role.updateMany({ where: { organizationId, isDefault: true, NOT: { id: keepId } }, data: { isDefault: false } });
}

export interface CreateRoleInput {
  organizationId: string;
  name: string;
  key?: string | null;
  description?: string | null;
  permissions: readonly string[];
  isDefault?: boolean | null;
}

export async function createRole(db: PrismaClient, actor: Actor, input: CreateRoleInput, idempotency?: IdempotencyClaim): Promise<Role> {
  const name = requireText(input.name, "name", { max: 100 });
  const key = roleKey(name, input.key);
  const description = optionalText(input.description, "description", 500) ?? null;
  const permissions = validatePermissions(input.permissions);
  try {
    return await db.$transaction(async (tx) => {
      await idempotency?.claim(tx);
      const access = await authorize(tx, actor, input.organizationId, "roles:create");
      await assertCanGrant(tx, access, { id: "", key, permissions, organizationId: input.organizationId });
      const count = await tx.role.count({ where: { organizationId: input.organizationId } });
      if (count >= MAX_CUSTOM_ROLES) throw conflict(`An organization can have at most ${MAX_CUSTOM_ROLES} custom roles`);
      const role = await tx.role.create({
        data: { organizationId: input.organizationId, key, name, description, permissions, isDefault: input.isDefault === true },
      });
      if (role.isDefault) await clearOtherDefaults(tx, input.organizationId, role.id);
      await recordAudit(tx, actor, {
        organizationId: input.organizationId,
        action: "role.created",
        targetType: "Role",
        targetId: role.id,
        after: snapshot(role),
      });
      await idempotency?.complete(tx, role.id);
      return role;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(`A role with the key "${key}" already exists in this organization`, { field: "key" });
    throw error;
  }
}

export interface UpdateRoleInput {
  roleId: string;
  name?: string | null;
  description?: string | null;
  permissions?: readonly string[] | null;
  isDefault?: boolean | null;
  expectedVersion?: number | null;
}

/** Edits a custom role. Both its current and its new permissions must be within the editor's own. */
export async function updateRole(db: PrismaClient, actor: Actor, input: UpdateRoleInput): Promise<Role> {
  const name = input.name === undefined || input.name === null ? undefined : requireText(input.name, "name", { max: 100 });
  const description = input.description === undefined ? undefined : (optionalText(input.description, "description", 500) ?? null);
  const permissions = input.permissions ? validatePermissions(input.permissions) : undefined;
  return db.$transaction(async (tx) => {
    const found = await customRole(tx, input.roleId);
    assertEditable(found);
    const access = await authorize(tx, actor, found.organizationId, "roles:update");
    // Read again under the organization's lock: what the rules and the version check see can't change before commit.
    const before = await customRole(tx, input.roleId);
    assertEditable(before);
    enforce(roleRules.update(access.standing, before));
    if (permissions) await assertCanGrant(tx, access, { ...before, permissions });
    assertVersion(before, input.expectedVersion);
    const role = await tx.role.update({
      where: { id: before.id },
      data: {
        ...(name !== undefined ? { name } : {}),
        ...(description !== undefined ? { description } : {}),
        ...(permissions ? { permissions } : {}),
        ...(typeof input.isDefault === "boolean" ? { isDefault: input.isDefault } : {}),
        version: { increment: 1 },
      },
    });
    if (role.isDefault) await clearOtherDefaults(tx, before.organizationId, role.id);
    await recordAudit(tx, actor, {
      organizationId: before.organizationId,
      action: "role.updated",
      targetType: "Role",
      targetId: role.id,
      before: snapshot(before),
      after: snapshot(role),
    });
    return role;
  });
}

/**
 * Deletes a custom role. While members or pending invitations hold it, it can only be deleted
 * with `reassignToRoleId`, which moves them to another role of the organization.
 */
export async function deleteRole(
  db: PrismaClient,
  actor: Actor,
  input: { roleId: string; reassignToRoleId?: string | null; expectedVersion?: number | null },
): Promise<string> {
  return db.$transaction(async (tx) => {
    const found = await customRole(tx, input.roleId);
    assertEditable(found);
    const access = await authorize(tx, actor, found.organizationId, "roles:delete");
    const role = await customRole(tx, input.roleId);
    assertEditable(role);
    enforce(roleRules.delete(access.standing, role));
    assertVersion(role, input.expectedVersion);
    const [members, invitations, locationAssignments] = await Promise.all([
      tx.member.count({ where: { roleId: role.id } }),
      tx.invitation.count({ where: { roleId: role.id } }),
      tx.memberLocationRole.count({ where: { roleId: role.id } }),
    ]);
    let reassignedTo: Role | null = null;
    if (members + invitations + locationAssignments > 0) {
      if (!input.reassignToRoleId) {
        throw conflict(
          `The role "${role.key}" is held by ${members} member(s), ${invitations} invitation(s) and ${locationAssignments} location assignment(s); pass reassignToRoleId`,
          { field: "reassignToRoleId", memberCount: members, invitationCount: invitations, locationAssignmentCount: locationAssignments },
        );
      }
      reassignedTo = await roleInOrganization(tx, role.organizationId, input.reassignToRoleId, "reassignToRoleId");
      if (reassignedTo.id === role.id) throw invalid("reassignToRoleId", "reassignToRoleId must be another role");
      await assertCanGrant(tx, access, reassignedTo);
      await tx.member.updateMany({ where: { roleId: role.id }, data: { roleId: reassignedTo.id, version: { increment: 1 } } });
      await tx.invitation.updateMany({ where: { roleId: role.id }, data: { roleId: reassignedTo.id } });
      if (locationAssignments > 0) {
        if (reassignedTo.id === OWNER_ROLE_ID) throw invalid("reassignToRoleId", "The owner role can't be held at a location; reassign to another role");
        // A member who already holds the new role at a location keeps that one assignment.
        await tx.$executeRaw`DELETE FROM "MemberLocationRole" a WHERE a."roleId" = ${role.id}::uuid AND EXISTS (
          SELECT 1 FROM "MemberLocationRole" b WHERE b."memberId" = a."memberId" AND b."locationId" = a."locationId" AND b."roleId" = ${reassignedTo.id}::uuid)`;
        await tx.memberLocationRole.updateMany({ where: { roleId: role.id }, data: { roleId: reassignedTo.id } });
      }
    }
    await tx.role.delete({ where: { id: role.id } });
    await recordAudit(tx, actor, {
      organizationId: role.organizationId,
      action: "role.deleted",
      targetType: "Role",
      targetId: role.id,
      before: snapshot(role),
      after: reassignedTo ? { reassignedToRoleId: reassignedTo.id, members, invitations } : null,
    });
    return role.id;
  });
}
