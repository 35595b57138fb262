// Rate limits: budgets per caller (the user when signed in, else the IP address) over a fixed
// window, with stricter ones for what attackers script: failed authentications (per IP),
// invitation token attempts, and the mutations that create people, invitations and tokens.
// Counters live in memory, or in Redis with REDIS_URL so that several instances share them.
// A request over its budget is HTTP 429 with Retry-After; a sensitive field over its budget is a
// GraphQL error RATE_LIMITED with extensions.retryAfterSeconds, and nothing of it runs.
import { Kind, GraphQLError, type DefinitionNode, type DocumentNode, type OperationDefinitionNode } from "graphql";
import type { Plugin } from "graphql-yoga";
import { Redis } from "ioredis";
import type { RateLimitConfig } from "../config.js";
import { AppError } from "../core/errors.js";
import type { Context } from "./context.js";

interface Hit {
  count: number;
  /** Milliseconds until the window ends. */
  resetMs: number;
}

interface CounterStore {
  /** Counts one more event for `key` in a window of `windowMs`. */
  hit(key: string, windowMs: number): Promise<Hit>;
  /** The count so far, without adding to it. */
  peek(key: string): Promise<Hit>;
  close(): Promise<void>;
}

class MemoryStore implements CounterStore {
  private readonly counters = new Map<string, { count: number; resetAt: number }>();
  private readonly sweeper = setInterval(() => {
    const now = Date.now();
    for (const [key, counter] of this.counters) if (counter.resetAt <= now) this.counters.delete(key);
  }, 60_000);

  constructor() {
    this.sweeper.unref();
  }

  async hit(key: string, windowMs: number): Promise<Hit> {
    const now = Date.now();
    let counter = this.counters.get(key);
    if (!counter || counter.resetAt <= now) {
      counter = { count: 0, resetAt: now + windowMs };
      this.counters.set(key, counter);
    }
    counter.count++;
    return { count: counter.count, resetMs: counter.resetAt - now };
  }

  async peek(key: string): Promise<Hit> {
    const counter = this.counters.get(key);
    const now = Date.now();
    return !counter || counter.resetAt <= now ? { count: 0, resetMs: 0 } : { count: counter.count, resetMs: counter.resetAt - now };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}

/** INCR and PEXPIRE in one step, so a counter can't be left without expiry. */
const HIT_SCRIPT = `local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {c, redis.call('PTTL', KEYS[1])}`;

class RedisStore implements CounterStore {
  private readonly redis: Redis;

  constructor(url: string, private readonly prefix: string) {
    // Commands wait for the connection (first one included); with Redis away they fail after one
    // retry, and the limiter then lets requests through (failOpen) instead of hanging them.
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 2_000 });
    this.redis.on("error", () => {});
  }

  async hit(key: string, windowMs: number): Promise<Hit> {
    const [count, ttl] = (await this.redis.eval(HIT_SCRIPT, 1, this.prefix + key, String(windowMs))) as [number, number];
    return { count, resetMs: Math.max(ttl, 0) };
  }

  async peek(key: string): Promise<Hit> {
    const [count, ttl] = await Promise.all([this.redis.get(this.prefix + key), this.redis.pttl(this.prefix + key)]);
    return { count: Number(count ?? 0), resetMs: Math.max(ttl, 0) };
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

const retryAfterSeconds = (hit: Hit) => Math.max(1, Math.ceil(hit.resetMs / 1000));

function tooMany(message: string, hit: Hit): AppError {
  const seconds = retryAfterSeconds(hit);
  return new AppError("RATE_LIMITED", `${message}; retry in ${seconds} s`, {
    retryAfterSeconds: seconds,
    http: { status: 429, headers: { "retry-after": String(seconds) } },
  });
}

export interface RateLimiter {
  config: RateLimitConfig;
  store: CounterStore;
  /** Before authenticating: refuses an address that failed to authenticate too often. */
  beforeAuthentication(ip: string): Promise<void>;
  /** After a failed authentication: counts it against the address. */
  authenticationFailed(ip: string): Promise<void>;
  /** Every request: counts it against the caller's budget. */
  request(caller: string): Promise<void>;
}

/**
 * A counter store that never fails a request: if Redis can't be reached, the limits are not
 * applied (the service stays up; `onError` logs it) rather than refusing everyone.
 */
function failOpen(store: CounterStore, onError: (error: unknown) => void): CounterStore {
  const none: Hit = { count: 0, resetMs: 0 };
  return {
    hit: (key, windowMs) => store.hit(key, windowMs).catch((error: unknown) => (onError(error), none)),
    peek: (key) => store.peek(key).catch((error: unknown) => (onError(error), none)),
    close: () => store.close(),
  };
}

export function createRateLimiter(config: RateLimitConfig, onError: (error: unknown) => void = () => {}): RateLimiter {
  const store = failOpen(config.redisUrl ? new RedisStore(config.redisUrl, config.keyPrefix) : new MemoryStore(), onError);
  const window = config.windowMs;
  return {
    config,
    store,
    async beforeAuthentication(ip) {
      if (!config.enabled) return;
      const so = await store.peek(`authfail:${ip}`);
      if (so.count >= config.authFailures) throw tooMany("Too many failed sign-in attempts from this address", so);
    },
    async authenticationFailed(ip) {
      if (config.enabled) await store.hit(`authfail:${ip}`, window);
    },
    async request(caller) {
      if (!config.enabled) return;
      const hit = await store.hit(`req:${caller}`, window);
      if (hit.count > config.requests) throw tooMany("Too many requests", hit);
    },
  };
}

/** The budget of each sensitive root field, per caller and window. */
function sensitiveBudgets(config: RateLimitConfig): Record<string, number> {
  return {
    acceptInvitation: config.invitationAttempts,
    declineInvitation: config.invitationAttempts,
    createInvitation: config.sensitiveWrites,
    resendInvitation: config.sensitiveWrites,
    addMember: config.sensitiveWrites,
    createApiToken: config.sensitiveWrites,
    // Each resolves the URL's host; each redelivery is a request to somebody's server.
    createWebhookEndpoint: config.sensitiveWrites,
    updateWebhookEndpoint: config.sensitiveWrites,
    redeliverWebhook: config.sensitiveWrites,
  };
}

/**
 * Counts each sensitive root field of a mutation (aliases count separately) before the
 * operation runs; over budget, the whole operation is answered with RATE_LIMITED and nothing runs.
 */
export function sensitiveFieldLimits(limiter: RateLimiter, callerOf: (context: Context) => string): Plugin {
  const budgets = sensitiveBudgets(limiter.config);
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      if (!limiter.config.enabled) return;
      const operation = (args.document as DocumentNode).definitions.find(
        (definition: DefinitionNode): definition is OperationDefinitionNode =>
          definition.kind === Kind.OPERATION_DEFINITION && (!args.operationName || definition.name?.value === args.operationName),
      );
      if (operation?.operation !== "mutation") return;
      const caller = callerOf(args.contextValue as unknown as Context);
      for (const selection of operation.selectionSet.selections) {
        if (selection.kind !== Kind.FIELD) continue;
        const budget = budgets[selection.name.value];
        if (budget === undefined) continue;
        const hit = await limiter.store.hit(`field:${selection.name.value}:${caller}`, limiter.config.windowMs);
        if (hit.count > budget) {
          const seconds = retryAfterSeconds(hit);
          setResultAndStopExecution({
            errors: [
              new GraphQLError(`Too many ${selection.name.value} attempts; retry in ${seconds} s`, {
                path: [selection.alias?.value ?? selection.name.value],
                extensions: { code: "RATE_LIMITED", retryAfterSeconds: seconds, field: selection.name.value },
              }),
            ],
          });
          return;
        }
      }
    },
  };
}
