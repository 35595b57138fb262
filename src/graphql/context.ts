// Per-request context: who is calling, what they may do, the batch loaders, the request id.
import type { Config } from "../config.js";
import type { PrismaClient } from "../generated/prisma/client.js";
import type { Database } from "../db/client.js";
import type { Viewer } from "../auth/authenticate.js";
import { RequestCache } from "@pothos/plugin-scope-auth";
import { Policy, type StandingWithLocations } from "../auth/policy.js";
import type { UserActor } from "../domain/actor.js";
import { unauthenticated } from "../core/errors.js";
import { createLoaders, type Loaders } from "./loaders.js";
import type { StreamDeps } from "./event-streams.js";

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
  /**
   * The change-feed revision the latest mutation's change reached (null when it wrote no event:
   * a replay, an organization deleted). Mutations run one at a time and each calls actor() first,
   * so a payload reads its own mutation's revision.
   */
  revisionAfterChange(): number | null;
  /** Authenticates the request's credential again, as now (long-lived subscriptions re-check with it). */
  reauthenticate(): Promise<Viewer | null>;
  /** A hash of the request's credential (null without one): streams with the same credential share its re-check. */
  credentialKey(): string | null;
  /** What subscriptions stream from (event-streams.ts). */
  live: StreamDeps;
  /**
   * A subscription's re-check (event-streams.ts): the fields after it see `standing` in the
   * organization, rows loaded afresh and scope checks evaluated again, not what this context
   * read before (a stream's context lives for hours).
   */
  startAfresh(this: Context, organizationId: string, standing: StandingWithLocations): void;
}

export interface ContextOptions {
  clientIp?: string;
  plainPaths?: boolean;
  reauthenticate?: () => Promise<Viewer | null>;
  credentialKey?: () => string | null;
  live: StreamDeps;
}

export function createContext(
  db: Pick<Database, "prisma" | "query">,
  config: Config,
  requestId: string,
  viewer: Viewer | null,
  { clientIp = "local", plainPaths = false, reauthenticate = async () => viewer, credentialKey = () => null, live }: ContextOptions,
): Context {
  const { prisma } = db;
  const policy = new Policy(db, viewer, requestId, { vouching: !plainPaths });
  let revisions = new Map<string, number>();
  return {
    prisma,
    config,
    requestId,
    clientIp,
    viewer,
    policy,
    loaders: createLoaders(db, config),
    // On `this`: the context the fields get is Yoga's, which has this one's properties copied in.
    startAfresh(this: Context, organizationId, standing) {
      policy.refreshWith(organizationId, standing);
      // (once a loader has been used: a stream whose results others computed has read nothing)
      if (!this.loaders.pristine) this.loaders = createLoaders(db, config);
      RequestCache.clearForContext(this);
    },
    actor() {
      if (!viewer) throw unauthenticated("Sign in first: send an Authorization: Bearer <token> header");
      policy.forget();
      revisions = new Map();
      return { userId: viewer.user.id, tokenId: viewer.tokenId, requestId, revisions };
    },
    reauthenticate,
    credentialKey,
    live,
    revisionAfterChange() {
      let last: number | null = null;
      for (const revision of revisions.values()) last = revision;
      return last;
    },
  };
}
