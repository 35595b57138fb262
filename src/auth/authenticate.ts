// Who is calling: the Authorization header resolved to a user through a personal access token.
// No header means anonymous; any header that does not resolve to an active user is refused.
import type { PrismaClient, User } from "../generated/prisma/client.js";
import { unauthenticated } from "../domain/errors.js";
import { hashesEqual, hashSecret, looksLikeToken } from "./tokens.js";

export interface ActiveMembership {
  organizationId: string;
  memberId: string;
  roleId: string;
  permissions: string[];
}

export interface Viewer {
  user: User;
  /** The token this request came with; null for in-process callers such as the CLI. */
  tokenId: string | null;
  /**
   * Every active membership of the user, read with the token (so most requests need no
   * separate permission query); null when there are more than MEMBERSHIPS_WITH_TOKEN.
   */
  memberships?: ActiveMembership[] | null;
}

/** Up to this many active memberships are read together with the token. */
export const MEMBERSHIPS_WITH_TOKEN = 200;

/** lastUsedAt is written at most this often per token, to keep reads read-only. */
const LAST_USED_RESOLUTION_MS = 60_000;

export async function authenticate(prisma: PrismaClient, authorization: string | null): Promise<Viewer | null> {
  if (authorization === null || authorization.trim() === "") return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>"');
  const secret = match[1]!;
  if (!looksLikeToken(secret)) throw unauthenticated("The access token is not valid");

  const hash = hashSecret(secret);
  const token = await prisma.apiToken.findUnique({
    where: { tokenHash: hash },
    include: {
      user: {
        include: {
          memberships: {
            where: { status: "ACTIVE" },
            select: { id: true, organizationId: true, roleId: true, role: { select: { permissions: true } } },
            take: MEMBERSHIPS_WITH_TOKEN + 1,
          },
        },
      },
    },
  });
  if (!token || !hashesEqual(token.tokenHash, hash)) throw unauthenticated("The access token is not valid");
  if (token.revokedAt) throw unauthenticated("The access token has been revoked");
  const now = new Date();
  if (token.expiresAt && token.expiresAt <= now) throw unauthenticated("The access token has expired");
  if (token.user.status === "SUSPENDED") throw unauthenticated("This account is suspended");
  if (token.user.status !== "ACTIVE") throw unauthenticated("This account is not active");

  if (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await prisma.apiToken.update({ where: { id: token.id }, data: { lastUsedAt: now } });
  }
  const { memberships, ...user } = token.user;
  return {
    user,
    tokenId: token.id,
    memberships:
      memberships.length > MEMBERSHIPS_WITH_TOKEN
        ? null
        : memberships.map((m) => ({ organizationId: m.organizationId, memberId: m.id, roleId: m.roleId, permissions: m.role.permissions })),
  };
}
