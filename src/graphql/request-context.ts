// The context of each GraphQL request, made before any field runs: the caller's address, the
// rate limits that come before and after authentication, the caller (access token or JWT), and
// the per-request context (graphql/context.ts). Refusals here answer the whole request.
import { createHash, randomUUID } from "node:crypto";
import type { Authenticator } from "../auth/authenticate.js";
import type { Config } from "../config.js";
import type { Database } from "../db/client.js";
import { AppError } from "../core/errors.js";
import { createContext, type Context } from "./context.js";
import { toGraphQLError } from "./errors.js";
import type { Logger } from "../logger.js";
import type { RateLimiter } from "./rate-limit.js";
import type { StreamDeps } from "./event-streams.js";

/** The caller's IP: the socket's peer, or with TRUST_PROXY the first X-Forwarded-For entry. */
function clientIp(request: Request, serverContext: Record<string, unknown>, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = request.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
    if (forwarded) return forwarded;
  }
  const socket = (serverContext.req as { socket?: { remoteAddress?: string } } | undefined)?.socket;
  return socket?.remoteAddress ?? "local";
}

export interface RequestContextDeps {
  config: Config;
  db: Database;
  authenticate: Authenticator;
  limiter: RateLimiter;
  logger: Logger;
  /** Told when the database turned out unreachable (DatabaseHealth.reportUnavailable). */
  onDatabaseUnavailable: (cause: unknown) => void;
  /** Every object's type check, also in lists authorized as a whole (AppOptions.plainPaths). */
  plainPaths?: boolean;
  live: StreamDeps;
}

/** Yoga's `context` option. */
export function requestContext({ config, db, authenticate, limiter, logger, onDatabaseUnavailable, plainPaths = false, live }: RequestContextDeps) {
  return async ({ request, ...serverContext }: { request: Request } & Record<string, unknown>): Promise<Context> => {
    const requestId = (serverContext as { requestId?: string }).requestId ?? randomUUID();
    const ip = clientIp(request, serverContext, config.rateLimits.trustProxy);
    try {
      const authorization = request.headers.get("authorization");
      if (authorization) await limiter.beforeAuthentication(ip);
      const viewer = await authenticate(authorization, requestId).catch(async (error: unknown) => {
        if (error instanceof AppError && error.code === "UNAUTHENTICATED") await limiter.authenticationFailed(ip);
        throw error;
      });
      await limiter.request(viewer ? `user:${viewer.user.id}` : `ip:${ip}`);
      // Without the rate limit: a subscription re-checks its caller every second.
      const reauthenticate = () => authenticate(authorization, requestId);
      const credentialKey = () => (authorization ? createHash("sha256").update(authorization).digest("hex") : null);
      return createContext(db, config, requestId, viewer, { clientIp: ip, plainPaths, reauthenticate, credentialKey, live });
    } catch (error) {
      throw toGraphQLError(error, logger, onDatabaseUnavailable);
    }
  };
}
