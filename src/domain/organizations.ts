// Organizations: creation (the creator becomes the owner) and the rules on their fields.
import { randomBytes } from "node:crypto";
import type { Organization, PrismaClient } from "../generated/prisma/client.js";
import { OWNER_ROLE_ID } from "../auth/permissions.js";
import type { Actor } from "./actor.js";
import { recordAudit } from "./audit.js";
import { conflict, invalid } from "./errors.js";
import { isUniqueViolation } from "./prisma-errors.js";
import { optionalText, requireText, slugify, validateSlug, validateTimeZone } from "./validate.js";

export interface CreateOrganizationInput {
  name: string;
  slug?: string | null;
  timezone?: string | null;
  businessInformation?: string | null;
}

/** The user who acts must be known for anything that makes them a member. */
export type UserActor = Actor & { userId: string };

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
): Promise<Organization> {
  const name = requireText(input.name, "name", { max: 100 });
  const chosenSlug = input.slug ? validateSlug(input.slug) : null;
  const timezone = input.timezone ? validateTimeZone(input.timezone) : "UTC";
  const businessInformation = optionalText(input.businessInformation, "businessInformation", 2000) ?? null;

  for (let attempt = 0; attempt < SLUG_ATTEMPTS; attempt++) {
    const slug = chosenSlug ?? (attempt === 0 ? slugify(name) : `${slugify(name).slice(0, 40)}-${randomBytes(3).toString("hex")}`);
    try {
      return await db.$transaction(async (tx) => {
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
        return organization;
      });
    } catch (error) {
      if (!isUniqueViolation(error, "slug")) throw error;
      if (chosenSlug) throw conflict(`The slug "${chosenSlug}" is already taken`, { field: "slug" });
    }
  }
  throw invalid("slug", "Could not find a free slug for this name; pass one explicitly");
}
