// Users: people known to the service, by their (case-insensitive) email.
import type { Prisma, PrismaClient, User } from "../generated/prisma/client.js";
import { normalizeEmail, optionalText, validateTimeZone } from "./validate.js";
import { accountInsteadOf, addPrimaryEmail, findUserByEmail, markEmailVerified } from "./contacts.js";

export interface UserProfileInput {
  firstName?: string | null;
  lastName?: string | null;
  imageUrl?: string | null;
  timezone?: string | null;
}

function profileData(input: UserProfileInput) {
  return {
    firstName: optionalText(input.firstName, "firstName", 100),
    lastName: optionalText(input.lastName, "lastName", 100),
    imageUrl: optionalText(input.imageUrl, "imageUrl", 2048),
    timezone: input.timezone ? validateTimeZone(input.timezone) : input.timezone,
  };
}

/**
 * The user with this email, created as ACTIVE when there is none. A placeholder for the address
 * (made by addMember) gives way to a new account; an INVITED user of before placeholders were
 * marked becomes ACTIVE; a SUSPENDED user stays suspended.
 */
export async function findOrCreateActiveUser(
  db: PrismaClient | Prisma.TransactionClient,
  email: string,
  profile: UserProfileInput = {},
): Promise<User> {
  const normalized = normalizeEmail(email);
  const data = profileData(profile);
  const existing = await findUserByEmail(db, normalized);
  if (!existing) {
    const user = await db.user.upsert({ where: { email: normalized }, create: { email: normalized, ...data }, update: {} });
    // The operator vouches for the address they named.
    await addPrimaryEmail(db, user, true);
    return user;
  }
  if (existing.isPlaceholder) {
    const take = (tx: Prisma.TransactionClient) => accountInsteadOf(tx, existing, data);
    return "$transaction" in db ? db.$transaction(take) : take(db);
  }
  if (existing.status === "INVITED") {
    await markEmailVerified(db, existing.id, existing.email);
    return db.user.update({ where: { id: existing.id }, data: { status: "ACTIVE", isPlaceholder: false } });
  }
  return existing;
}
