// A user's contact points: several email addresses and phone numbers, each possibly primary
// and verified, and a username. The service sends no mail or SMS: an address is verified when
// the user signs in with a JWT whose provider vouches for it (email_verified /
// phone_number_verified), or by an operator with the CLI. A verified address belongs to one
// user only (a unique index on `verifiedEmail` / `verifiedPhone` holds that under races), and
// only a verified email can be primary: User.email is always the primary address.
import type { Prisma, PrismaClient, User, UserEmail, UserPhone } from "../generated/prisma/client.js";
import { lockAddress, lockUser, membershipKey, type Tx } from "./access.js";
import type { UserActor } from "./actor.js";
import { recordAudit } from "./audit.js";
import { AppError, conflict, invalid } from "../core/errors.js";
import { isUniqueViolation } from "./prisma-errors.js";
import { normalizeEmail } from "./validate.js";

const MAX_EMAILS = 10;
const MAX_PHONES = 10;
const E164 = /^\+[1-9]\d{6,14}$/;
const USERNAME = /^[a-z0-9](?:[a-z0-9_.-]{1,30}[a-z0-9])$/;

/** The user an email reaches: whoever holds it verified, else whoever has it as their primary. */
export async function findUserByEmail(tx: Tx, email: string): Promise<User | null> {
  // One statement for both candidates: whoever holds the address verified, else the account
  // whose email it is (at most one of each, by the unique indexes).
  const candidates = await tx.user.findMany({
    where: { OR: [{ emails: { some: { verifiedEmail: email } } }, { email }] },
    include: { emails: { where: { verifiedEmail: email }, select: { id: true } } },
    take: 2,
  });
  const found = candidates.find((user) => user.emails.length > 0) ?? candidates.find((user) => user.email === email);
  if (!found) return null;
  const { emails: _emails, ...user } = found;
  return user;
}

/**
 * Gives a new user their primary UserEmail row (every path that creates a user calls this).
 * `created`: the user was created by this transaction, so the row can't exist yet and is
 * inserted in one statement; otherwise an existing row is kept.
 */
export async function addPrimaryEmail(tx: Tx, user: Pick<User, "id" | "email">, verified: boolean, { created = false }: { created?: boolean } = {}): Promise<void> {
  const now = new Date();
  const row = { userId: user.id, email: user.email, isPrimary: true, isVerified: verified, verifiedAt: verified ? now : null, verifiedEmail: verified ? user.email : null };
  if (created) {
    await tx.userEmail.create({ data: row, select: { id: true } });
    return;
  }
  await tx.userEmail.upsert({ where: { userId_email: { userId: user.id, email: user.email } }, create: row, update: {} });
}

/** The email addresses a user holds verified (invitations and addMember match any of them). */
export async function verifiedEmailsOf(tx: Tx, userId: string): Promise<string[]> {
  const rows = await tx.userEmail.findMany({ where: { userId, isVerified: true }, select: { email: true } });
  return rows.map((row) => row.email);
}

/**
 * Marks the user's address verified (adding it when they don't have it yet). Returns false,
 * changing nothing, when another user already holds it verified. A placeholder made for the
 * address is taken over (absorbPlaceholder).
 */
export async function markEmailVerified(tx: Tx, userId: string, rawEmail: string): Promise<boolean> {
  const email = normalizeEmail(rawEmail);
  // addMember can't make a placeholder for it while this runs (see absorbPlaceholder).
  await lockAddress(tx, email);
  const holder = await tx.userEmail.findUnique({ where: { verifiedEmail: email } });
  if (holder) {
    // Theirs already: a placeholder left from before placeholders gave way still does now.
    if (holder.userId === userId) await absorbPlaceholder(tx, userId, email);
    return holder.userId === userId;
  }
  const now = new Date();
  await tx.userEmail.upsert({
    where: { userId_email: { userId, email } },
    create: { userId, email, isVerified: true, verifiedAt: now, verifiedEmail: email },
    update: { isVerified: true, verifiedAt: now, verifiedEmail: email },
  });
  await absorbPlaceholder(tx, userId, email);
  return true;
}

/**
 * A placeholder is the INVITED account addMember makes for an address nobody holds; it never
 * signed in, and it never becomes anyone's account. Once a real account proves the address
 * (verifies it, or makes it primary), the placeholder gives way: its memberships — all PENDING,
 * keyed by the address — move to the person, still theirs to accept or decline, and the
 * placeholder is deleted, freeing the address to become the person's primary one. Nothing the
 * organizations see changes (the same members, the same stand-ins, the same updatedAt), so they
 * learn nothing of it.
 */
async function absorbPlaceholder(tx: Tx, userId: string, email: string): Promise<void> {
  const found = await tx.user.findFirst({ where: { email, isPlaceholder: true, NOT: { id: userId } }, select: { id: true } });
  if (found) await giveWay(tx, found.id, userId, email);
}

/** Moves a placeholder's memberships to the person who holds its address, then deletes it. */
async function giveWay(tx: Tx, placeholderId: string, userId: string, email: string): Promise<void> {
  // addMember holds this lock while it gives the placeholder a membership: none is lost in between.
  await lockUser(tx, placeholderId);
  const placeholder = await tx.user.findFirst({ where: { id: placeholderId, isPlaceholder: true } });
  if (!placeholder) return;
  const memberships = await tx.member.findMany({ where: { userId: placeholder.id } });
  for (const membership of memberships) {
    const twin = await tx.member.findUnique({ where: membershipKey(membership.organizationId, userId, membership.pendingEmail) });
    if (twin) {
      // Only a race makes the person's own pending membership for the same address: keep theirs.
      await tx.member.delete({ where: { id: membership.id } });
      await recordAudit(tx, { userId: null, tokenId: null, requestId: null }, {
        organizationId: membership.organizationId,
        action: "member.merged",
        targetType: "Member",
        targetId: membership.id,
        before: { email: membership.pendingEmail },
        after: { memberId: twin.id },
      });
    } else {
      await tx.member.update({ where: { id: membership.id }, data: { userId, updatedAt: membership.updatedAt } });
    }
  }
  await tx.user.delete({ where: { id: placeholder.id } });
  await recordAudit(tx, { userId, tokenId: null, requestId: null }, {
    organizationId: null,
    action: "user.placeholder_absorbed",
    targetType: "User",
    targetId: userId,
    after: { email, memberships: memberships.length },
  });
}

/**
 * The first sign-in (or the operator's first token) for a placeholder's address makes a new
 * account — with an id and a creation time of its own, so that nobody learns from them when
 * someone first added the address — and the placeholder gives way to it.
 */
export async function accountInsteadOf(tx: Tx, placeholder: Pick<User, "id" | "email">, data: Omit<Prisma.UserCreateInput, "email">): Promise<User> {
  await lockUser(tx, placeholder.id);
  // Frees the address (unique) for the new account; the placeholder is deleted below.
  await tx.user.update({ where: { id: placeholder.id }, data: { email: `${placeholder.id}@placeholder.invalid` } });
  const user = await tx.user.create({ data: { ...data, email: placeholder.email } });
  await addPrimaryEmail(tx, user, true);
  await giveWay(tx, placeholder.id, user.id, placeholder.email);
  return user;
}

function normalizePhone(value: string, field = "phoneNumber"): string {
  const phone = value.replace(/[\s()-]/g, "");
  if (!E164.test(phone)) throw invalid(field, `"${value}" is not a phone number in E.164 form (e.g. +14155550123)`);
  return phone;
}

export async function markPhoneVerified(tx: Tx, userId: string, rawPhone: string): Promise<boolean> {
  const phoneNumber = normalizePhone(rawPhone);
  const holder = await tx.userPhone.findUnique({ where: { verifiedPhone: phoneNumber } });
  if (holder) return holder.userId === userId;
  const now = new Date();
  const isFirst = (await tx.userPhone.count({ where: { userId } })) === 0;
  await tx.userPhone.upsert({
    where: { userId_phoneNumber: { userId, phoneNumber } },
    create: { userId, phoneNumber, isPrimary: isFirst, isVerified: true, verifiedAt: now, verifiedPhone: phoneNumber },
    update: { isVerified: true, verifiedAt: now, verifiedPhone: phoneNumber },
  });
  return true;
}

const audit = (tx: Tx, actor: UserActor, action: string, after: Record<string, unknown>, before?: Record<string, unknown>) =>
  recordAudit(tx, actor, { organizationId: null, action, targetType: "User", targetId: actor.userId, after: after as object, before: (before ?? null) as object | null });

// ---- Emails -----------------------------------------------------------------------------------

export async function addEmail(db: PrismaClient, actor: UserActor, input: { email: string }): Promise<UserEmail> {
  const email = normalizeEmail(input.email);
  return db.$transaction(async (tx) => {
    await lockUser(tx, actor.userId);
    const own = await tx.userEmail.findMany({ where: { userId: actor.userId } });
    if (own.some((row) => row.email === email)) throw conflict(`${email} is already one of your addresses`, { field: "email" });
    if (own.length >= MAX_EMAILS) throw conflict(`You can have at most ${MAX_EMAILS} email addresses`, { field: "email" });
    // Added unverified, whoever else may hold it: saying "taken" would tell who has an account.
    // Verification decides (markEmailVerified refuses an address another account holds verified).
    const row = await tx.userEmail.create({ data: { userId: actor.userId, email } });
    await audit(tx, actor, "user.email_added", { email });
    return row;
  });
}

async function ownEmail(tx: Tx, actor: UserActor, emailId: string): Promise<UserEmail> {
  const row = await tx.userEmail.findUnique({ where: { id: emailId } });
  // Another user's address reads as unknown.
  if (!row || row.userId !== actor.userId) throw new AppError("NOT_FOUND", "Email address not found", { field: "emailId" });
  return row;
}

/** Makes a verified address the primary one (User.email follows). */
export async function setPrimaryEmail(db: PrismaClient, actor: UserActor, input: { emailId: string }): Promise<User> {
  try {
    return await db.$transaction(async (tx) => {
      await lockUser(tx, actor.userId);
      const row = await ownEmail(tx, actor, input.emailId);
      if (!row.isVerified) throw invalid("emailId", "Only a verified address can become primary: sign in with it through your identity provider, or ask an operator");
      // A placeholder someone made for this address before it was verified here gives way.
      await absorbPlaceholder(tx, actor.userId, row.email);
      const before = await tx.user.findUniqueOrThrow({ where: { id: actor.userId } });
      await tx.userEmail.updateMany({ where: { userId: actor.userId, isPrimary: true }, data: { isPrimary: false } });
      await tx.userEmail.update({ where: { id: row.id }, data: { isPrimary: true } });
      const user = await tx.user.update({ where: { id: actor.userId }, data: { email: row.email } });
      await audit(tx, actor, "user.primary_email_changed", { email: row.email }, { email: before.email });
      return user;
    });
  } catch (error) {
    if (isUniqueViolation(error, "email")) throw conflict("Another account uses this address as its primary email", { field: "emailId" });
    throw error;
  }
}

/** Removes an address. The primary goes only when another verified address can take its place. */
export async function removeEmail(db: PrismaClient, actor: UserActor, input: { emailId: string }): Promise<User> {
  return db.$transaction(async (tx) => {
    await lockUser(tx, actor.userId);
    const row = await ownEmail(tx, actor, input.emailId);
    if (row.isPrimary) {
      const next = await tx.userEmail.findFirst({ where: { userId: actor.userId, isVerified: true, NOT: { id: row.id } }, orderBy: { createdAt: "asc" } });
      if (!next) throw conflict("This is your primary address and no other verified address can replace it", { field: "emailId" });
      await tx.userEmail.update({ where: { id: next.id }, data: { isPrimary: true } });
      await tx.user.update({ where: { id: actor.userId }, data: { email: next.email } });
    }
    await tx.userEmail.delete({ where: { id: row.id } });
    await audit(tx, actor, "user.email_removed", { email: row.email, wasPrimary: row.isPrimary });
    return tx.user.findUniqueOrThrow({ where: { id: actor.userId } });
  });
}

// ---- Phones -----------------------------------------------------------------------------------

export async function addPhone(db: PrismaClient, actor: UserActor, input: { phoneNumber: string }): Promise<UserPhone> {
  const phoneNumber = normalizePhone(input.phoneNumber);
  return db.$transaction(async (tx) => {
    await lockUser(tx, actor.userId);
    const own = await tx.userPhone.findMany({ where: { userId: actor.userId } });
    if (own.some((row) => row.phoneNumber === phoneNumber)) throw conflict(`${phoneNumber} is already one of your numbers`, { field: "phoneNumber" });
    if (own.length >= MAX_PHONES) throw conflict(`You can have at most ${MAX_PHONES} phone numbers`, { field: "phoneNumber" });
    // Added unverified, as addEmail does: no answer tells whether another account holds it.
    const row = await tx.userPhone.create({ data: { userId: actor.userId, phoneNumber, isPrimary: own.length === 0 } });
    await audit(tx, actor, "user.phone_added", { phoneNumber });
    return row;
  });
}

async function ownPhone(tx: Tx, actor: UserActor, phoneId: string): Promise<UserPhone> {
  const row = await tx.userPhone.findUnique({ where: { id: phoneId } });
  if (!row || row.userId !== actor.userId) throw new AppError("NOT_FOUND", "Phone number not found", { field: "phoneId" });
  return row;
}

/** Phones have no verification channel of their own yet, so any of the user's numbers may be primary. */
export async function setPrimaryPhone(db: PrismaClient, actor: UserActor, input: { phoneId: string }): Promise<User> {
  return db.$transaction(async (tx) => {
    await lockUser(tx, actor.userId);
    const row = await ownPhone(tx, actor, input.phoneId);
    await tx.userPhone.updateMany({ where: { userId: actor.userId, isPrimary: true }, data: { isPrimary: false } });
    await tx.userPhone.update({ where: { id: row.id }, data: { isPrimary: true } });
    await audit(tx, actor, "user.primary_phone_changed", { phoneNumber: row.phoneNumber });
    return tx.user.findUniqueOrThrow({ where: { id: actor.userId } });
  });
}

/** Removes a number; the primary only when it is the last one or another can take its place (the oldest does). */
export async function removePhone(db: PrismaClient, actor: UserActor, input: { phoneId: string }): Promise<User> {
  return db.$transaction(async (tx) => {
    await lockUser(tx, actor.userId);
    const row = await ownPhone(tx, actor, input.phoneId);
    await tx.userPhone.delete({ where: { id: row.id } });
    if (row.isPrimary) {
      const next = await tx.userPhone.findFirst({ where: { userId: actor.userId }, orderBy: [{ isVerified: "desc" }, { createdAt: "asc" }] });
      if (next) await tx.userPhone.update({ where: { id: next.id }, data: { isPrimary: true } });
    }
    await audit(tx, actor, "user.phone_removed", { phoneNumber: row.phoneNumber, wasPrimary: row.isPrimary });
    return tx.user.findUniqueOrThrow({ where: { id: actor.userId } });
  });
}

// ---- Username ---------------------------------------------------------------------------------

/** Sets or clears the username: 3-32 of a-z 0-9 _ . -, stored lower-cased, unique. */
export async function setUsername(db: PrismaClient, actor: UserActor, input: { username: string | null }): Promise<User> {
  const username = input.username === null ? null : input.username.trim().toLowerCase();
  if (username !== null && !USERNAME.test(username)) {
    throw invalid("username", "username must be 3-32 characters of letters, digits, _ . -, starting and ending with a letter or digit");
  }
  try {
    return await db.$transaction(async (tx) => {
      const before = await tx.user.findUniqueOrThrow({ where: { id: actor.userId } });
      const user = await tx.user.update({ where: { id: actor.userId }, data: { username } });
      await audit(tx, actor, "user.username_changed", { username }, { username: before.username });
      return user;
    });
  } catch (error) {
    if (isUniqueViolation(error, "username")) throw conflict(`The username "${username}" is taken`, { field: "username" });
    throw error;
  }
}

