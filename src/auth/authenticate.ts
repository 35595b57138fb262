// Who is calling: the Authorization header resolved to a user, through a personal access token
// (`pat_…`) or a JWT from the configured identity provider. No header means anonymous; any
// header that does not resolve to an active user is refused. An access token costs one indexed
// statement (token, user, verified addresses); the user's memberships and permissions are read
// later, only for the organizations the request touches (auth/policy.ts), and always from the
// database, never taken from a token or a cache, so a role change, a removal or a revocation
// applies to the very next request on every instance.
import type { PrismaClient, User } from "../generated/prisma/client.js";
import type { Database } from "../db/client.js";
import { columnsOf, rowOf, selectList } from "../db/queries/columns.js";
import type { JwtConfig } from "../config.js";
import { unauthenticated, type AppError } from "../core/errors.js";
import { isUniqueViolation } from "../domain/prisma-errors.js";
import { recordAudit } from "../domain/audit.js";
import { canonicalEmail, normalizeEmail } from "../domain/validate.js";
import { accountInsteadOf, addPrimaryEmail, findUserByEmail, markEmailVerified, markPhoneVerified } from "../domain/contacts.js";
import { createJwtVerifier, looksLikeJwt, type JwtIdentity, type JwtVerifier } from "./jwt.js";
import { hashesEqual, hashSecret, looksLikeToken } from "../core/tokens.js";

export interface Viewer {
  user: User;
  /** Addresses invitations may be sent to: the primary one and every verified one. */
  emails: string[];
  /** The access token this request came with; null for JWTs and in-process callers such as the CLI. */
  tokenId: string | null;
}

/** lastUsedAt is written at most this often per token, to keep reads read-only. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** What a JWT sign-in reads with the user: the verified addresses (to verify new ones from the token). */
const WITH_CONTACTS = {
  emails: { where: { isVerified: true }, select: { email: true } },
  phones: { where: { isVerified: true }, select: { phoneNumber: true } },
} as const;

type UserWithContacts = User & { emails: { email: string }[]; phones: { phoneNumber: string }[] };

/** Why an account may not sign in (null: it may). */
function inactive(status: User["status"]): AppError | null {
  if (status === "SUSPENDED") return unauthenticated("This account is suspended");
  if (status !== "ACTIVE") return unauthenticated("This account is not active");
  return null;
}

function assertActive(user: User): void {
  const refusal = inactive(user.status);
  if (refusal) throw refusal;
}

/** Why a found access token no longer signs anyone in (null: it still does). */
function tokenRefusal(revokedAt: Date | null, expiresAt: Date | null, now: Date): AppError | null {
  if (revokedAt) return unauthenticated("The access token has been revoked");
  if (expiresAt && expiresAt <= now) return unauthenticated("The access token has expired");
  return null;
}

/**
 * Whether access tokens that signed in earlier still do, by id, in one statement (a process's
 * subscriptions re-check theirs together every second): the same refusals as a sign-in with
 * them (revoked, expired, account not active, token gone).
 */
export async function recheckTokens(db: Pick<Database, "query">, tokenIds: readonly string[], now = new Date()): Promise<Map<string, AppError | null>> {
  const rows = await db.query<{ id: string; revokedAt: Date | null; expiresAt: Date | null; status: User["status"] }>(
    `SELECT t.id, t."revokedAt", t."expiresAt", u.status::text AS status FROM "ApiToken" t JOIN "User" u ON u.id = t."userId" WHERE t.id = ANY($1::uuid[])`,
    [tokenIds],
  );
  const byId = new Map(rows.map((row) => [row.id, tokenRefusal(row.revokedAt, row.expiresAt, now) ?? inactive(row.status)]));
  return new Map(tokenIds.map((id) => [id, byId.has(id) ? byId.get(id)! : unauthenticated("The access token is not valid")]));
}

function viewerOf(user: User, verifiedEmails: readonly string[], tokenId: string | null): Viewer {
  return { user, emails: [...new Set([user.email, ...verifiedEmails])], tokenId };
}

const USER_COLUMNS = columnsOf("User");

/**
 * The token lookup: one statement over the unique index on tokenHash, with the token's user and
 * their verified addresses. Read through the driver (Database.query), as the request's first and
 * most frequent statement.
 */
const TOKEN_LOOKUP = `SELECT t.id AS "t_id", t."tokenHash" AS "t_tokenHash", t."revokedAt" AS "t_revokedAt", t."expiresAt" AS "t_expiresAt",
  t."lastUsedAt" AS "t_lastUsedAt", ${selectList("u", USER_COLUMNS).join(", ")},
  ARRAY(SELECT e.email FROM "UserEmail" e WHERE e."userId" = u.id AND e."isVerified") AS "t_verifiedEmails"
FROM "ApiToken" t JOIN "User" u ON u.id = t."userId"
WHERE t."tokenHash" = $1`;

interface TokenRow {
  t_id: string;
  t_tokenHash: string;
  t_revokedAt: Date | null;
  t_expiresAt: Date | null;
  t_lastUsedAt: Date | null;
  t_verifiedEmails: string[];
}

async function withAccessToken(db: Pick<Database, "prisma" | "query">, secret: string): Promise<Viewer> {
  if (!looksLikeToken(secret)) throw unauthenticated("The access token is not valid");
  const hash = hashSecret(secret);
  const [row] = await db.query<TokenRow & Record<string, unknown>>(TOKEN_LOOKUP, [hash]);
  if (!row || !hashesEqual(row.t_tokenHash, hash)) throw unauthenticated("The access token is not valid");
  const now = new Date();
  const refusal = tokenRefusal(row.t_revokedAt, row.t_expiresAt, now);
  if (refusal) throw refusal;
  const user = rowOf<User>(row, USER_COLUMNS);
  assertActive(user);
  if (!row.t_lastUsedAt || now.getTime() - row.t_lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await db.prisma.apiToken.update({ where: { id: row.t_id }, data: { lastUsedAt: now } });
  }
  return viewerOf(user, row.t_verifiedEmails, row.t_id);
}

/**
 * The user a verified JWT speaks for: the one linked to its subject; on the first sign-in, the
 * existing user with the token's email when the provider marks it verified (linking them), or
 * a new user. An email the provider has not verified is never trusted: it would let anyone
 * with an unverified address pick up invitations sent to it.
 */
async function userForIdentity(prisma: PrismaClient, identity: JwtIdentity, requestId: string | null): Promise<UserWithContacts> {
  const linked = await prisma.user.findUnique({ where: { externalId: identity.subject }, include: WITH_CONTACTS });
  if (linked) {
    assertActive(linked);
    return (await verifyFromToken(prisma, linked, identity, requestId)) ? prisma.user.findUniqueOrThrow({ where: { id: linked.id }, include: WITH_CONTACTS }) : linked;
  }
  if (!identity.email) throw unauthenticated("The first sign-in needs the token to carry an email claim");
  if (!identity.emailVerified) {
    throw unauthenticated("The identity provider has not verified this token's email address (email_verified); verify it, then sign in again");
  }
  const email = normalizeEmail(identity.email);
  try {
    return await prisma.$transaction(async (tx) => {
      const found = await findUserByEmail(tx, email);
      const profile = { externalId: identity.subject, firstName: identity.firstName, lastName: identity.lastName, imageUrl: identity.imageUrl };
      // A placeholder someone's addMember made for the address is nobody's account: it gives way
      // to a new one (its memberships stay pending, theirs to answer).
      const existing = found?.isPlaceholder ? null : found;
      if (existing?.externalId) throw unauthenticated("This email address is already linked to another sign-in identity");
      // Operators are made with the CLI; an identity provider's say-so never takes one over.
      if (existing?.isOperator) throw unauthenticated("This account can't be linked to a sign-in identity automatically; ask an operator");
      let user: User;
      if (existing) {
        // Only if still unlinked: two first sign-ins racing for one account can't both win.
        const { count } = await tx.user.updateMany({
          where: { id: existing.id, externalId: null },
          data: { externalId: identity.subject, ...(existing.status === "INVITED" ? { status: "ACTIVE" as const } : {}) },
        });
        if (count === 0) throw unauthenticated("This email address is already linked to another sign-in identity");
        user = await tx.user.findUniqueOrThrow({ where: { id: existing.id } });
        await markEmailVerified(tx, user.id, email);
      } else if (found) {
        user = await accountInsteadOf(tx, found, profile);
      } else {
        user = await tx.user.create({ data: { email, ...profile } });
        await addPrimaryEmail(tx, user, true);
      }
      if (identity.phoneNumber && identity.phoneNumberVerified) await markPhoneVerified(tx, user.id, identity.phoneNumber).catch(() => false);
      await recordAudit(tx, { userId: user.id, tokenId: null, requestId }, {
        organizationId: null,
        action: existing ? "user.identity_linked" : "user.created_by_sign_in",
        targetType: "User",
        targetId: user.id,
        after: { externalId: identity.subject, email },
      });
      return tx.user.findUniqueOrThrow({ where: { id: user.id }, include: WITH_CONTACTS });
    });
  } catch (error) {
    // Two first sign-ins at once: the other one linked or created the user; use it.
    if (isUniqueViolation(error)) {
      const user = await prisma.user.findUnique({ where: { externalId: identity.subject }, include: WITH_CONTACTS });
      if (user) return user;
      throw unauthenticated("This email address is already linked to another sign-in identity");
    }
    throw error;
  }
}

/**
 * A later sign-in whose provider vouches for an email or phone number the user doesn't hold
 * verified yet verifies it (when no other user holds it verified). Returns whether anything changed.
 */
async function verifyFromToken(prisma: PrismaClient, user: UserWithContacts, identity: JwtIdentity, requestId: string | null): Promise<boolean> {
  const email = identity.email && identity.emailVerified ? canonicalEmail(identity.email) : null;
  const phone = identity.phoneNumber && identity.phoneNumberVerified ? identity.phoneNumber : null;
  const newEmail = email !== null && !user.emails.some((row) => row.email === email);
  const newPhone = phone !== null && !user.phones.some((row) => row.phoneNumber === phone);
  if (!newEmail && !newPhone) return false;
  return prisma.$transaction(async (tx) => {
    const emailDone = newEmail ? await markEmailVerified(tx, user.id, email!).catch(() => false) : false;
    const phoneDone = newPhone ? await markPhoneVerified(tx, user.id, phone!).catch(() => false) : false;
    if (emailDone || phoneDone) {
      await recordAudit(tx, { userId: user.id, tokenId: null, requestId }, {
        organizationId: null,
        action: "user.verified_by_sign_in",
        targetType: "User",
        targetId: user.id,
        after: { ...(emailDone ? { email } : {}), ...(phoneDone ? { phoneNumber: phone } : {}) },
      });
    }
    return emailDone || phoneDone;
  });
}

export type Authenticator = (authorization: string | null, requestId?: string | null) => Promise<Viewer | null>;

export function createAuthenticator(db: Pick<Database, "prisma" | "query">, jwt: JwtConfig | null): Authenticator {
  const { prisma } = db;
  const verify: JwtVerifier | null = jwt ? createJwtVerifier(jwt) : null;
  return async (authorization, requestId = null) => {
    if (authorization === null || authorization.trim() === "") return null;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>"');
    const secret = match[1]!;
    if (looksLikeJwt(secret)) {
      if (!verify) throw unauthenticated("This service does not accept JWTs (JWT sign-in is not configured); use an access token");
      const { emails, phones: _phones, ...user } = await userForIdentity(prisma, await verify(secret), requestId);
      assertActive(user);
      return viewerOf(user, emails.map((row) => row.email), null);
    }
    return withAccessToken(db, secret);
  };
}

