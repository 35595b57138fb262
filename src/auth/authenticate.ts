// Who is calling: the Authorization header resolved to a user, through a personal access token
// (`pat_…`) or a JWT from the configured identity provider. No header means anonymous; any
// header that does not resolve to an active user is refused. Either way the user's memberships
// and permissions are read from the database on every request, never taken from a token, so a
// role change or a removal applies to the very next request.
import type { PrismaClient, User } from "../generated/prisma/client.js";
import type { JwtConfig } from "../config.js";
import { unauthenticated } from "../core/errors.js";
import { isUniqueViolation } from "../domain/prisma-errors.js";
import { recordAudit } from "../domain/audit.js";
import { canonicalEmail, normalizeEmail } from "../domain/validate.js";
import { accountInsteadOf, addPrimaryEmail, findUserByEmail, markEmailVerified, markPhoneVerified } from "../domain/contacts.js";
import type { MembershipStatus } from "../core/rules.js";
import { createJwtVerifier, looksLikeJwt, type JwtIdentity, type JwtVerifier } from "./jwt.js";
import { hashesEqual, hashSecret, looksLikeToken } from "../core/tokens.js";

export interface Membership {
  organizationId: string;
  memberId: string;
  roleId: string;
  status: MembershipStatus;
  permissions: string[];
  /** The permissions of the member's roles at each of their locations. */
  locations: { locationId: string; permissions: string[] }[];
}

export interface Viewer {
  user: User;
  /** Addresses invitations may be sent to: the primary one and every verified one. */
  emails: string[];
  /** The access token this request came with; null for JWTs and in-process callers such as the CLI. */
  tokenId: string | null;
  /**
   * Every membership of the user (active or suspended), read together with the user (so most
   * requests need no separate permission query); null when there are more than MEMBERSHIPS_WITH_USER.
   */
  memberships?: Membership[] | null;
}

/** Up to this many memberships are read together with the user. */
export const MEMBERSHIPS_WITH_USER = 200;
/** Up to this many location roles per membership are read together with the user. */
const LOCATION_ROLES_WITH_USER = 500;

/** lastUsedAt is written at most this often per token, to keep reads read-only. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** What a membership row must hold to become a Membership (also used by the Policy's fallback loader). */
export const MEMBERSHIP_SELECT = {
  id: true,
  organizationId: true,
  roleId: true,
  status: true,
  role: { select: { permissions: true } },
  // Not those of a pending membership: they grant nothing, and strangers can make those.
  locationRoles: {
    where: { member: { status: { not: "PENDING" } } },
    select: { locationId: true, role: { select: { permissions: true } } },
    take: LOCATION_ROLES_WITH_USER + 1,
  },
} as const;

type MembershipRow = {
  id: string;
  organizationId: string;
  roleId: string;
  status: MembershipStatus;
  role: { permissions: string[] };
  locationRoles: { locationId: string; role: { permissions: string[] } }[];
};

export function membershipOf(m: MembershipRow): Membership {
  return {
    organizationId: m.organizationId,
    memberId: m.id,
    roleId: m.roleId,
    status: m.status,
    permissions: m.role.permissions,
    locations: m.locationRoles.map((l) => ({ locationId: l.locationId, permissions: l.role.permissions })),
  };
}

const WITH_MEMBERSHIPS = {
  memberships: { select: MEMBERSHIP_SELECT, take: MEMBERSHIPS_WITH_USER + 1 },
  emails: { where: { isVerified: true }, select: { email: true } },
  phones: { where: { isVerified: true }, select: { phoneNumber: true } },
} as const;

type UserWithMemberships = User & { memberships: MembershipRow[]; emails: { email: string }[]; phones: { phoneNumber: string }[] };

function assertActive(user: User): void {
  if (user.status === "SUSPENDED") throw unauthenticated("This account is suspended");
  if (user.status !== "ACTIVE") throw unauthenticated("This account is not active");
}

function viewerOf(loaded: UserWithMemberships, tokenId: string | null): Viewer {
  const { memberships, emails, phones: _phones, ...user } = loaded;
  return {
    user,
    emails: [...new Set([user.email, ...emails.map((row) => row.email)])],
    tokenId,
    memberships:
      memberships.length > MEMBERSHIPS_WITH_USER || memberships.some((m) => m.locationRoles.length > LOCATION_ROLES_WITH_USER)
        ? null
        : memberships.map(membershipOf),
  };
}

async function withAccessToken(prisma: PrismaClient, secret: string): Promise<Viewer> {
  if (!looksLikeToken(secret)) throw unauthenticated("The access token is not valid");
  const hash = hashSecret(secret);
  const token = await prisma.apiToken.findUnique({ where: { tokenHash: hash }, include: { user: { include: WITH_MEMBERSHIPS } } });
  if (!token || !hashesEqual(token.tokenHash, hash)) throw unauthenticated("The access token is not valid");
  if (token.revokedAt) throw unauthenticated("The access token has been revoked");
  const now = new Date();
  if (token.expiresAt && token.expiresAt <= now) throw unauthenticated("The access token has expired");
  assertActive(token.user);
  if (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await prisma.apiToken.update({ where: { id: token.id }, data: { lastUsedAt: now } });
  }
  return viewerOf(token.user, token.id);
}

/**
 * The user a verified JWT speaks for: the one linked to its subject; on the first sign-in, the
 * existing user with the token's email when the provider marks it verified (linking them), or
 * a new user. An email the provider has not verified is never trusted: it would let anyone
 * with an unverified address pick up invitations sent to it.
 */
async function userForIdentity(prisma: PrismaClient, identity: JwtIdentity, requestId: string | null): Promise<UserWithMemberships> {
  const linked = await prisma.user.findUnique({ where: { externalId: identity.subject }, include: WITH_MEMBERSHIPS });
  if (linked) {
    assertActive(linked);
    return (await verifyFromToken(prisma, linked, identity, requestId)) ? prisma.user.findUniqueOrThrow({ where: { id: linked.id }, include: WITH_MEMBERSHIPS }) : linked;
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
      return tx.user.findUniqueOrThrow({ where: { id: user.id }, include: WITH_MEMBERSHIPS });
    });
  } catch (error) {
    // Two first sign-ins at once: the other one linked or created the user; use it.
    if (isUniqueViolation(error)) {
      const user = await prisma.user.findUnique({ where: { externalId: identity.subject }, include: WITH_MEMBERSHIPS });
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
async function verifyFromToken(prisma: PrismaClient, user: UserWithMemberships, identity: JwtIdentity, requestId: string | null): Promise<boolean> {
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

export function createAuthenticator(prisma: PrismaClient, jwt: JwtConfig | null): Authenticator {
  const verify: JwtVerifier | null = jwt ? createJwtVerifier(jwt) : null;
  return async (authorization, requestId = null) => {
    if (authorization === null || authorization.trim() === "") return null;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>"');
    const secret = match[1]!;
    if (looksLikeJwt(secret)) {
      if (!verify) throw unauthenticated("This service does not accept JWTs (JWT sign-in is not configured); use an access token");
      const user = await userForIdentity(prisma, await verify(secret), requestId);
      assertActive(user);
      return viewerOf(user, null);
    }
    return withAccessToken(prisma, secret);
  };
}

