// Safe retries for mutations that create things. The client sends an idempotency key; the first
// request claims it inside the very transaction that creates the object and stores the new
// object's id with it. A retry with the same key and the same input gets that id back (the
// object is not created twice); the same key with another input is a CONFLICT. Two identical
// requests racing each other are serialised by the key's unique index: the second waits for
// the first to commit, then replays its result. Keys are per user and per operation and kept
// for 24 hours.
import { createHash } from "node:crypto";
import type { PrismaClient } from "../generated/prisma/client.js";
import type { Tx } from "./access.js";
import { AppError, conflict, invalid } from "../core/errors.js";
import { isUniqueViolation } from "./prisma-errors.js";

const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export interface IdempotentRequest {
  userId: string;
  /** The mutation's name. */
  operation: string;
  key: string;
  /** The mutation's input without the key; its hash tells a retry from a reuse. */
  input: unknown;
}

/** Passed into a domain function's transaction: claim first, complete with the created id last. */
export interface IdempotencyClaim {
  claim(tx: Tx): Promise<void>;
  complete(tx: Tx, resultId: string): Promise<void>;
}

export interface IdempotentOutcome {
  id: string;
  /** True when this request replayed an earlier one's result instead of creating anything. */
  replayed: boolean;
}

/** JSON with object keys sorted, so the same input always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

function requestHash(operation: string, input: unknown): string {
  return createHash("sha256").update(operation).update("\n").update(canonical(input)).digest("hex");
}

function validateIdempotencyKey(key: string): string {
  if (!KEY_PATTERN.test(key)) {
    throw invalid("idempotencyKey", "idempotencyKey must be 1-255 printable ASCII characters without spaces (a UUID is a good choice)");
  }
  return key;
}

async function replay(db: PrismaClient, request: IdempotentRequest, hash: string): Promise<IdempotentOutcome | null> {
  const stored = await db.idempotencyKey.findUnique({
    where: { userId_operation_key: { userId: request.userId, operation: request.operation, key: request.key } },
  });
  if (!stored) return null;
  if (stored.expiresAt <= new Date()) {
    await db.idempotencyKey.deleteMany({ where: { id: stored.id, expiresAt: { lte: new Date() } } });
    return null;
  }
  if (stored.requestHash !== hash) {
    throw conflict(
      `The idempotency key "${request.key}" was already used for ${request.operation} with different input; use a new key for a new request`,
      { field: "idempotencyKey" },
    );
  }
  if (!stored.resultId) throw new AppError("CONFLICT", "A request with this idempotency key is still in progress; retry shortly", { field: "idempotencyKey" });
  return { id: stored.resultId, replayed: true };
}

/**
 * Runs `create` once per (user, operation, key). Without a request (no key given) it simply
 * runs. `create` must call the claim's `claim` first and `complete` last, in its transaction.
 */
export async function runIdempotent(
  db: PrismaClient,
  request: IdempotentRequest | null,
  create: (claim: IdempotencyClaim | undefined) => Promise<{ id: string }>,
): Promise<IdempotentOutcome> {
  if (!request) return { id: (await create(undefined)).id, replayed: false };
  validateIdempotencyKey(request.key);
  const hash = requestHash(request.operation, request.input);
  const earlier = await replay(db, request, hash);
  if (earlier) return earlier;

  const claim: IdempotencyClaim = {
    async claim(tx) {
      await tx.idempotencyKey.create({
        data: {
          userId: request.userId,
          operation: request.operation,
          key: request.key,
          requestHash: hash,
          expiresAt: new Date(Date.now() + IDEMPOTENCY_TTL_MS),
        },
      });
    },
    async complete(tx, resultId) {
      await tx.idempotencyKey.update({
        where: { userId_operation_key: { userId: request.userId, operation: request.operation, key: request.key } },
        data: { resultId },
      });
    },
  };
  try {
    return { id: (await create(claim)).id, replayed: false };
  } catch (error) {
    // A concurrent request with the same key committed first: ours waited on the key's unique
    // index and failed; answer with what the first one created.
    if (isUniqueViolation(error, "operation")) {
      const first = await replay(db, request, hash);
      if (first) return first;
    }
    throw error;
  }
}

/** Deletes keys older than 24 hours; returns how many. */
export async function purgeExpiredIdempotencyKeys(db: PrismaClient): Promise<number> {
  const { count } = await db.idempotencyKey.deleteMany({ where: { expiresAt: { lte: new Date() } } });
  return count;
}
