// Organizations: creation (the creator becomes the owner) and the rules on their fields.
import { randomBytes } from "node:crypto";
import type { Organization, PrismaClient } from "../generated/prisma/client.js";
import { OWNER_ROLE_ID } from "../core/permissions.js";
import type { Actor, UserActor } from "./actor.js";
import { recordAudit } from "./audit.js";
import { conflict, invalid } from "../core/errors.js";
import { assertVersion } from "./versions.js";
import type { IdempotencyClaim } from "./idempotency.js";
import { organizationRules } from "../core/rules.js";
import { isUniqueViolation } from "./prisma-errors.js";
import { actorAccess, authorize, enforceInOrganization, lockOrganization } from "./access.js";
import { optionalText, requireText, slugify, validateMetadata, validateSlug, validateTimeZone } from "./validate.js";

export interface CreateOrganizationInput {
  name: string;
  slug?: string | null;
  timezone?: string | null;
  businessInformation?: string | null;
}

/** The user who acts must be known for anything that makes them a member. */
const SLUG_ATTEMPTS = 5;

/**
 * Creates an organization owned by the acting user: the organization, the owner's
 * membership and the audit event are written in one transaction. A slug the caller chose
 * must be free (CONFLICT otherwise); a slug derived from the name gets a suffix when taken.
 */
export async function createOrganization(
  db: PrismaClient,
  actor: UserActor,
  input: CreateOrganizationInput,
  idempotency?: IdempotencyClaim,
): Promise<Organization> {
  const name = requireText(input.name, "name", { max: 100 });
  const chosenSlug = input.slug ? validateSlug(input.slug) : null;
  const timezone = input.timezone ? validateTimeZone(input.timezone) : "UTC";
  const businessInformation = optionalText(input.businessInformation, "businessInformation", 2000) ?? null;

  for (let attempt = 0; attempt < SLUG_ATTEMPTS; attempt++) {
    const slug = chosenSlug ?? (attempt === 0 ? slugify(name) : `${slugify(name).slice(0, 40)}-${randomBytes(3).toString("hex")}`);
    try {
      return await db.$transaction(async (tx) => {
        await idempotency?.claim(tx);
        const organization = await tx.organization.create({
          data: { name, slug, timezone, businessInformation, createdById: actor.userId, ownerId: actor.userId },
        });
        const owner = await tx.member.create({
          data: { organizationId: organization.id, userId: actor.userId, roleId: OWNER_ROLE_ID },
        });
        await recordAudit(tx, actor, {
          organizationId: organization.id,
          action: "organization.created",
          targetType: "Organization",
          targetId: organization.id,
          after: { name, slug, timezone, businessInformation, ownerMemberId: owner.id },
        });
        await idempotency?.complete(tx, organization.id);
        return organization;
      });
    } catch (error) {
      if (!isUniqueViolation(error, "slug")) throw error;
      if (chosenSlug) throw conflict(`The slug "${chosenSlug}" is already taken`, { field: "slug" });
    }
  }
  throw invalid("slug", "Could not find a free slug for this name; pass one explicitly");
}

export interface UpdateOrganizationInput {
  organizationId: string;
  name?: string | null;
  slug?: string | null;
  timezone?: string | null;
  businessInformation?: string | null;
  publicMetadata?: unknown;
  privateMetadata?: unknown;
  expectedVersion?: number | null;
}

const snapshot = (organization: Organization) => ({
  name: organization.name,
  slug: organization.slug,
  timezone: organization.timezone,
  businessInformation: organization.businessInformation,
  publicMetadata: organization.publicMetadata as object,
  privateMetadata: organization.privateMetadata as object,
});

/** Changes the given fields; absent (or null) fields stay as they are, except businessInformation, which null clears. */
export async function updateOrganization(db: PrismaClient, actor: Actor, input: UpdateOrganizationInput): Promise<Organization> {
  const data = {
    ...(input.name != null ? { name: requireText(input.name, "name", { max: 100 }) } : {}),
    ...(input.slug != null ? { slug: validateSlug(input.slug) } : {}),
    ...(input.timezone != null ? { timezone: validateTimeZone(input.timezone) } : {}),
    ...(input.businessInformation !== undefined
      ? { businessInformation: optionalText(input.businessInformation, "businessInformation", 2000) ?? null }
      : {}),
    ...(input.publicMetadata != null ? { publicMetadata: validateMetadata(input.publicMetadata, "publicMetadata") } : {}),
    ...(input.privateMetadata != null ? { privateMetadata: validateMetadata(input.privateMetadata, "privateMetadata") } : {}),
  };
  try {
    return await db.$transaction(async (tx) => {
      await authorize(tx, actor, input.organizationId, "org:update");
      const before = await tx.organization.findUniqueOrThrow({ where: { id: input.organizationId } });
      assertVersion(before, input.expectedVersion);
      const organization = await tx.organization.update({ where: { id: input.organizationId }, data: { ...data, version: { increment: 1 } } });
      await recordAudit(tx, actor, {
        organizationId: organization.id,
        action: "organization.updated",
        targetType: "Organization",
        targetId: organization.id,
        before: snapshot(before),
        after: snapshot(organization),
      });
      return organization;
    });
  } catch (error) {
    if (isUniqueViolation(error, "slug")) throw conflict(`The slug "${input.slug}" is already taken`, { field: "slug" });
    throw error;
  }
}

/**
 * Deletes an organization with its memberships, custom roles and invitations. Owner only.
 * The audit trail stays (audit events have no foreign keys), ending with this deletion.
 */
export async function deleteOrganization(db: PrismaClient, actor: Actor, input: { organizationId: string }): Promise<string> {
  return db.$transaction(async (tx) => {
    await lockOrganization(tx, input.organizationId);
    const access = await actorAccess(tx, actor, input.organizationId);
    await enforceInOrganization(tx, input.organizationId, organizationRules.delete(access.standing));
    const before = await tx.organization.findUniqueOrThrow({
      where: { id: input.organizationId },
      include: { _count: { select: { members: true, roles: true, invitations: true } } },
    });
    // Explicit order: members and invitations reference roles with ON DELETE RESTRICT.
    await tx.member.deleteMany({ where: { organizationId: input.organizationId } });
    await tx.invitation.deleteMany({ where: { organizationId: input.organizationId } });
    await tx.role.deleteMany({ where: { organizationId: input.organizationId } });
    await tx.organization.delete({ where: { id: input.organizationId } });
    await recordAudit(tx, actor, {
      organizationId: input.organizationId,
      action: "organization.deleted",
      targetType: "Organization",
      targetId: input.organizationId,
      before: { ...snapshot(before), counts: before._count },
    });
    return input.organizationId;
  });
}
