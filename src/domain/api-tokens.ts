// Personal access tokens: created for a user, shown once, revocable, optionally expiring.
import type { ApiToken, PrismaClient } from "../generated/prisma/client.js";
import { newSecret } from "../core/tokens.js";
import { operatorActor, type Actor } from "./actor.js";
import { recordAudit } from "./audit.js";
import { invalid, notFound } from "../core/errors.js";
import { requireText } from "./validate.js";

export interface CreateApiTokenInput {
  name: string;
  expiresInDays?: number | null;
}

const MAX_TOKEN_LIFETIME_DAYS = 3650;

/**
 * Creates a token for `userId`. The audit event (no organization: tokens belong to a user) names
 * `actor`: the user themselves through GraphQL, or the operator (CLI, first-start demo token).
 */
export async function createApiToken(
  db: PrismaClient,
  userId: string,
  input: CreateApiTokenInput,
  actor: Actor = operatorActor(),
): Promise<{ apiToken: ApiToken; token: string }> {
  const name = requireText(input.name, "name", { max: 100 });
  let expiresAt: Date | null = null;
  if (input.expiresInDays !== undefined && input.expiresInDays !== null) {
    const days = input.expiresInDays;
    if (!Number.isInteger(days) || days < 1 || days > MAX_TOKEN_LIFETIME_DAYS) {
      throw invalid("expiresInDays", `expiresInDays must be a whole number from 1 to ${MAX_TOKEN_LIFETIME_DAYS}`);
    }
    expiresAt = new Date(Date.now() + days * 86_400_000);
  }
  const secret = newSecret();
  const apiToken = await db.$transaction(async (tx) => {
    const created = await tx.apiToken.create({
      data: { userId, name, tokenHash: secret.hash, prefix: secret.displayPrefix, expiresAt },
    });
    await recordAudit(tx, actor, {
      organizationId: null,
      action: "api_token.created",
      targetType: "ApiToken",
      targetId: created.id,
      after: { userId, name, prefix: created.prefix, expiresAt: expiresAt?.toISOString() ?? null },
    });
    return created;
  });
  return { apiToken, token: secret.token };
}

/** Revokes one of the user's own tokens; anyone else's reads as not found. Revoking twice is harmless. */
export async function revokeApiToken(db: PrismaClient, actor: Actor & { userId: string }, apiTokenId: string): Promise<ApiToken> {
  const token = await db.apiToken.findUnique({ where: { id: apiTokenId } });
  if (!token || token.userId !== actor.userId) throw notFound("API token");
  if (token.revokedAt) return token;
  return db.$transaction(async (tx) => {
    const revoked = await tx.apiToken.update({ where: { id: token.id }, data: { revokedAt: new Date() } });
    await recordAudit(tx, actor, {
      organizationId: null,
      action: "api_token.revoked",
      targetType: "ApiToken",
      targetId: token.id,
      before: { name: token.name, prefix: token.prefix },
    });
    return revoked;
  });
}
