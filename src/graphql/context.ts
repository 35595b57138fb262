// Per-request context: who is calling, what they may do, the batch loaders, the request id.
import type { Config } from "../config.js";
import type { PrismaClient } from "../generated/prisma/client.js";
import type { Database } from "../db/client.js";
import type { Viewer } from "../auth/authenticate.js";
import { Policy } from "../auth/policy.js";
import type { UserActor } from "../domain/actor.js";
import { unauthenticated } from "../core/errors.js";
import { createLoaders, type Loaders } from "./loaders.js";

export interface Context {
  prisma: PrismaClient;
  config: Config;
  requestId: string;
  /** The caller's address (for rate limits of anonymous callers). */
  clientIp: string;
  viewer: Viewer | null;
  policy: Policy;
  loaders: Loaders;
  /**
   * The acting user for domain functions; throws UNAUTHENTICATED for anonymous callers.
   * Mutations call it before they change anything, so it also drops the permissions cached
   * for this request: what the payload shows is checked against the state after the change.
   */
  actor(): UserActor;
}

export function createContext(db: Pick<Database, "prisma" | "query">, config: Config, requestId: string, viewer: Viewer | null, clientIp = "local", plainPaths = false): Context {
  const { prisma } = db;
  const policy = new Policy(db, viewer, requestId, { vouching: !plainPaths });
  return {
    prisma,
    config,
    requestId,
    clientIp,
    viewer,
    policy,
    loaders: createLoaders(db, config),
    actor() {
      if (!viewer) throw unauthenticated("Sign in first: send an Authorization: Bearer <token> header");
      policy.forget();
      return { userId: viewer.user.id, tokenId: viewer.tokenId, requestId };
    },
  };
}
