// Platform operators: people who run the service, outside any organization. The role is granted
// only with the CLI (never through the API). Operators list all users, suspend and unsuspend
// accounts, and read any organization for support (recorded in the audit trail); they can't
// change an organization they are not a member of, nor act as its owner.
import type { PrismaClient, User } from "../generated/prisma/client.js";
import { enforce, needOperator, notSelfUser } from "../core/rules.js";
import { lockUser } from "./access.js";
import type { UserActor } from "./actor.js";
import { recordAudit } from "./audit.js";
import { findUserByEmail, markEmailVerified, markPhoneVerified } from "./contacts.js";
import { AppError, notFound } from "../core/errors.js";
import { normalizeEmail } from "./validate.js";

/** CLI: grants or takes the operator role; returns the user. */
export async function setOperator(db: PrismaClient, email: string, isOperator: boolean): Promise<User> {
  return db.$transaction(async (tx) => {
    const user = await findUserByEmail(tx, normalizeEmail(email));
    if (!user) throw notFound(`User ${email}`);
    const updated = await tx.user.update({ where: { id: user.id }, data: { isOperator } });
    await recordAudit(tx, { userId: null, tokenId: null, requestId: null }, {
      organizationId: null,
      action: isOperator ? "user.operator_granted" : "user.operator_revoked",
      targetType: "User",
      targetId: user.id,
      after: { isOperator, by: "cli" },
    });
    return updated;
  });
}

async function setSuspended(db: PrismaClient, actor: UserActor, userId: string, suspend: boolean): Promise<User> {
  return db.$transaction(async (tx) => {
    const operator = await tx.user.findUniqueOrThrow({ where: { id: actor.userId } });
    enforce(needOperator(operator));
    if (suspend) enforce(notSelfUser(operator.id, userId, "You can't suspend your own account"));
    await lockUser(tx, userId);
    const target = await tx.user.findUnique({ where: { id: userId } });
    if (!target) throw new AppError("NOT_FOUND", "User not found", { field: "userId" });
    // A placeholder (made by addMember, never signed in) goes back to INVITED, not ACTIVE.
    const status = suspend ? "SUSPENDED" : target.isPlaceholder ? "INVITED" : "ACTIVE";
    if (target.status === status) return target;
    const user = await tx.user.update({ where: { id: userId }, data: { status } });
    await recordAudit(tx, actor, {
      organizationId: null,
      action: suspend ? "user.suspended" : "user.unsuspended",
      targetType: "User",
      targetId: userId,
      before: { status: target.status },
      after: { status },
    });
    return user;
  });
}

/** Suspends an account everywhere: its tokens and JWTs stop working with the next request; memberships stay but grant nothing. */
export const suspendUser = (db: PrismaClient, actor: UserActor, input: { userId: string }) => setSuspended(db, actor, input.userId, true);

export const unsuspendUser = (db: PrismaClient, actor: UserActor, input: { userId: string }) => setSuspended(db, actor, input.userId, false);

/** CLI: marks an address verified for the user whose primary address is `userEmail` (default: the address itself). */
export async function verifyEmailByOperator(db: PrismaClient, email: string, userEmail?: string): Promise<User> {
  return db.$transaction(async (tx) => {
    const address = normalizeEmail(email);
    const owner = userEmail ? await tx.user.findUnique({ where: { email: normalizeEmail(userEmail, "user") } }) : await findUserByEmail(tx, address);
    const holders = userEmail ? [] : await tx.userEmail.findMany({ where: { email: address }, select: { userId: true }, distinct: ["userId"] });
    if (!userEmail && holders.length > 1) throw new AppError("CONFLICT", `${address} is held by ${holders.length} accounts; name one with --user`);
    const user = owner ?? (holders[0] ? await tx.user.findUnique({ where: { id: holders[0].userId } }) : null);
    if (!user) throw notFound(`A user with ${userEmail ?? address}`);
    // A placeholder stands in for an address until its holder proves it; vouching for it would let it block them.
    if (user.isPlaceholder) {
      throw new AppError("CONFLICT", `${userEmail ?? address} is a placeholder made by addMember, not a person's account; name the account that holds the address with --user`);
    }
    if (!(await markEmailVerified(tx, user.id, address))) throw new AppError("CONFLICT", `${address} is already verified for another account`);
    await recordAudit(tx, { userId: null, tokenId: null, requestId: null }, {
      organizationId: null, action: "user.email_verified", targetType: "User", targetId: user.id, after: { email: address, by: "cli" },
    });
    return user;
  });
}

/** CLI: marks a phone number verified for the user whose primary address is `userEmail`. */
export async function verifyPhoneByOperator(db: PrismaClient, phone: string, userEmail: string): Promise<User> {
  return db.$transaction(async (tx) => {
    const user = await tx.user.findUnique({ where: { email: normalizeEmail(userEmail, "user") } });
    if (!user) throw notFound(`User ${userEmail}`);
    if (!(await markPhoneVerified(tx, user.id, phone))) throw new AppError("CONFLICT", `${phone} is already verified for another account`);
    await recordAudit(tx, { userId: null, tokenId: null, requestId: null }, {
      organizationId: null, action: "user.phone_verified", targetType: "User", targetId: user.id, after: { phoneNumber: phone, by: "cli" },
    });
    return user;
  });
}
