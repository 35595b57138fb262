// The GraphQL side of safe retries: the `idempotencyKey` input field, and running a create
// mutation through domain/idempotency.ts with the rest of its input as the request to compare.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { runIdempotent, type IdempotencyClaim, type IdempotentOutcome } from "../domain/idempotency.js";
import type { Context } from "./context.js";
import { RefusedGlobalId } from "./global-id-args.js";

export const IDEMPOTENCY_KEY_DESCRIPTION =
  "Makes retries safe: a retry with the same key and input within 24 hours returns the first result (replayed: true) instead of creating again; the same key with other input is a CONFLICT. Use a new UUID per intended creation.";

export const REPLAYED_DESCRIPTION = "True when this answer is the stored result of an earlier request with the same idempotencyKey";

/**
 * The input as the request hash takes it: global IDs arrive decoded ({ typename, id }) and are
 * hashed as their ID strings; a refused one (refused when the mutation reads it) apart from any ID.
 */
function asSent(input: Record<string, unknown>): Record<string, unknown> {
  const sent = (value: unknown) => (value instanceof RefusedGlobalId ? { refused: value.typename } : isGlobalId(value) ? encodeGlobalID(value.typename, value.id) : value);
  return Object.fromEntries(Object.entries(input).map(([name, value]) => [name, sent(value)]));
}

function isGlobalId(value: unknown): value is { typename: string; id: string } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const { typename, id, ...rest } = value as Record<string, unknown>;
  return typeof typename === "string" && typeof id === "string" && Object.keys(rest).length === 0;
}

export function idempotently(
  context: Context,
  operation: string,
  input: { idempotencyKey?: string | null } & Record<string, unknown>,
  create: (claim: IdempotencyClaim | undefined) => Promise<{ id: string }>,
): Promise<IdempotentOutcome> {
  const { idempotencyKey, ...rest } = input;
  const actor = context.actor();
  const request = idempotencyKey == null ? null : { userId: actor.userId, operation, key: idempotencyKey, input: asSent(rest) };
  return runIdempotent(context.prisma, request, create);
}
