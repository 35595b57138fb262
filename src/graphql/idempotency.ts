// The GraphQL side of safe retries: the `idempotencyKey` input field, and running a create
// mutation through domain/idempotency.ts with the rest of its input as the request to compare.
import { runIdempotent, type IdempotencyClaim, type IdempotentOutcome } from "../domain/idempotency.js";
import type { Context } from "./context.js";

export const IDEMPOTENCY_KEY_DESCRIPTION =
  "Makes retries safe: a retry with the same key and input within 24 hours returns the first result (replayed: true) instead of creating again; the same key with other input is a CONFLICT. Use a new UUID per intended creation.";

export const REPLAYED_DESCRIPTION = "True when this answer is the stored result of an earlier request with the same idempotencyKey";

export function idempotently(
  context: Context,
  operation: string,
  input: { idempotencyKey?: string | null } & Record<string, unknown>,
  create: (claim: IdempotencyClaim | undefined) => Promise<{ id: string }>,
): Promise<IdempotentOutcome> {
  const { idempotencyKey, ...rest } = input;
  const actor = context.actor();
  const request = idempotencyKey == null ? null : { userId: actor.userId, operation, key: idempotencyKey, input: rest };
  return runIdempotent(context.prisma, request, create);
}
