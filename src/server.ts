// The HTTP application: GraphQL (and GraphiQL) at /graphql, /healthz and /readyz. Exported
// without a listening socket so tests drive it through yoga.fetch; main.ts listens.
import { randomUUID } from "node:crypto";
import { PothosValidationError } from "@pothos/core";
import { GraphQLError } from "graphql";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import { createYoga, type Plugin, type YogaServerInstance } from "graphql-yoga";
import { createAuthenticator } from "./auth/authenticate.js";
import type { Config } from "./config.js";
import type { Database } from "./db/client.js";
import { AppError } from "./domain/errors.js";
import { Prisma } from "./generated/prisma/client.js";
import { createContext, type Context } from "./graphql/context.js";
import { pageSizeLimit } from "./graphql/page-size.js";
import { bodySizeLimit, documentLimits, executionTimeout, rejectNulCharacters } from "./graphql/limits.js";
import { createRateLimiter, sensitiveFieldLimits } from "./graphql/rate-limit.js";
import { trustedDocuments } from "./graphql/trusted-documents.js";
import { getSchema } from "./graphql/schema.js";
import type { Logger } from "./logger.js";

export type App = YogaServerInstance<Record<string, unknown>, Context>;

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

const DEFAULT_QUERY = `# Welcome to Membership Graph.
# Put your token under Headers (below):
#   {"Authorization": "Bearer pat_..."}
# A fresh embedded database logs a demo token
# on its first start.

query Overview {
  viewer { email name }
  organizations(first: 10) {
    totalCount
    edges {
      node {
        id
        name
        slug
        memberCount
        viewerPermissions
        viewerCan { update addMember invite createRole }
        members(first: 5, orderBy: { field: JOINED_AT }) {
          totalCount
          edges { node { role { key } user { email name } viewerCan { updateRole remove } } }
        }
      }
    }
  }
}
`;

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } });
}

function healthRoutes(db: Database, isShuttingDown: () => boolean): Plugin {
  return {
    async onRequest({ url, endResponse }) {
      if (url.pathname === "/healthz") {
        endResponse(json({ status: "ok" }));
      } else if (url.pathname === "/readyz") {
        if (isShuttingDown()) return endResponse(json({ status: "shutting_down" }, 503));
        try {
          await db.ping();
          endResponse(json({ status: "ready", database: db.kind }));
        } catch (error) {
          endResponse(json({ status: "unavailable", database: db.kind, error: (error as Error).message }, 503));
        }
      }
    },
  };
}

function requestLogging(logger: Logger): Plugin {
  const started = new WeakMap<Request, number>();
  return {
    onRequest({ request }) {
      started.set(request, performance.now());
    },
    onResponse({ request, response, serverContext }) {
      const url = new URL(request.url);
      if (url.pathname === "/healthz" || url.pathname === "/readyz") return;
      const begin = started.get(request);
      const requestId = (serverContext as { requestId?: string } | undefined)?.requestId ?? request.headers.get("x-request-id");
      logger.info(
        {
          requestId,
          method: request.method,
          path: url.pathname,
          status: response.status,
          durationMs: begin === undefined ? undefined : Math.round((performance.now() - begin) * 10) / 10,
        },
        "request",
      );
    },
  };
}

/** Gives every request an id (the caller's X-Request-Id when well-formed) and echoes it back. */
function requestIds(): Plugin {
  const ids = new WeakMap<Request, string>();
  return {
    onRequest({ request, serverContext }) {
      const given = request.headers.get("x-request-id");
      const id = given && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
      ids.set(request, id);
      (serverContext as { requestId?: string }).requestId = id;
    },
    onResponse({ request, response }) {
      const id = ids.get(request);
      if (id) response.headers.set("x-request-id", id);
    },
  };
}

/**
 * A masked INTERNAL_SERVER_ERROR carries the request id, which finds the full error in the log
 * (the "unexpected error" entry and the request's own line both have it).
 */
function requestIdOnInternalErrors(logger: Logger): Plugin {
  return {
    onResultProcess({ result, serverContext }) {
      const requestId = (serverContext as { requestId?: string } | undefined)?.requestId;
      for (const each of Array.isArray(result) ? result : [result]) {
        for (const error of (each as { errors?: readonly GraphQLError[] }).errors ?? []) {
          if (error.extensions?.code !== "INTERNAL_SERVER_ERROR" || !requestId) continue;
          (error.extensions as Record<string, unknown>).requestId = requestId;
          logger.error({ requestId, path: error.path }, "request answered with INTERNAL_SERVER_ERROR (the unexpected error is logged just before)");
        }
      }
    },
  };
}

/** `x-sql-statements`: statements sent during the request (exact only when requests don't overlap). */
function sqlStatementsHeader(db: Database): Plugin {
  const before = new WeakMap<Request, number>();
  return {
    onRequest({ request }) {
      before.set(request, db.statementCount());
    },
    onResponse({ request, response }) {
      const start = before.get(request);
      if (start !== undefined) response.headers.set("x-sql-statements", String(db.statementCount() - start));
    },
  };
}

/**
 * The input field a variable-coercion error is about, as forms name it: for
 * `Variable "$input" got invalid value "x" at "input.email"; …` that is "email" (the path
 * inside the input object); for a bare `$email` variable, "email".
 */
export function variableErrorField(message: string): string | null {
  const variable = /^Variable "\$([A-Za-z_][A-Za-z0-9_]*)"/.exec(message);
  if (!variable) return null;
  const at = /\bat "([^"]+)"/.exec(message);
  const path = at ? at[1]!.replace(/\[\d+\]/g, "").split(".").slice(1).join(".") : "";
  const named = /Field "([A-Za-z_][A-Za-z0-9_]*)" (?:of required type .* was not provided|is not defined)/.exec(message);
  const field = [path, named?.[1]].filter(Boolean).join(".");
  return field || variable[1]!;
}

/** CORS: exact origins from CORS_ORIGINS may call with credentials; "*" any origin without; otherwise no cross-origin access. */
function corsOptions(origins: string[]) {
  if (origins.length === 0) return false as const;
  const allowAny = origins.includes("*");
  const allowed = new Set(origins);
  return (request: Request) => {
    const origin = request.headers.get("origin");
    if (!origin || (!allowAny && !allowed.has(origin))) return false as const;
    return {
      origin: [origin],
      credentials: !allowAny,
      methods: ["GET", "POST", "OPTIONS"],
      exposedHeaders: ["x-request-id", "retry-after"],
      maxAge: 600,
    };
  };
}

const DEFAULT_REASONS: Partial<Record<string, string>> = { FORBIDDEN: "MISSING_PERMISSION", NOT_FOUND: "NOT_FOUND", LAST_OWNER: "LAST_OWNER" };
// CONFLICT gets a reason only from a rule (INVALID_STATE); other conflicts (duplicates) have none.

/** Responses differ by Origin when CORS is on: caches must keep them apart. */
function varyOnOrigin(): Plugin {
  return {
    onResponse({ response }) {
      const vary = response.headers.get("vary");
      if (!vary) response.headers.set("vary", "Origin");
      else if (!/\borigin\b/i.test(vary)) response.headers.set("vary", `${vary}, Origin`);
    },
  };
}

export function toGraphQLError(error: unknown, logger: Logger, path?: readonly (string | number)[]): GraphQLError {
  const original = error instanceof GraphQLError ? (error.originalError ?? undefined) : error;
  if (original instanceof AppError) {
    return new GraphQLError(original.message, {
      path: path ?? (error instanceof GraphQLError ? error.path : undefined),
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      extensions: {
        ...original.details,
        code: original.code,
        // Refusals say which rule refused, as viewerCan and the checks report it.
        ...(DEFAULT_REASONS[original.code] && original.details.reason === undefined ? { reason: DEFAULT_REASONS[original.code] } : {}),
        ...(original.code === "UNAUTHENTICATED" ? { http: { status: 401, headers: { "www-authenticate": "Bearer" } } } : {}),
        ...(original.code === "SERVICE_UNAVAILABLE" ? { http: { status: 503, headers: { "retry-after": "5" } } } : {}),
      },
    });
  }
  if (original instanceof PothosValidationError) {
    return new GraphQLError(original.message, {
      path: error instanceof GraphQLError ? error.path : undefined,
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      extensions: { code: "BAD_USER_INPUT" },
    });
  }
  if (error instanceof GraphQLError && (original === undefined || original instanceof GraphQLError)) {
    // graphql-js leaves variable-coercion errors (a malformed email, a wrong type) without a code.
    if (error.extensions?.code === undefined && /^Variable "\$/.test(error.message)) {
      const field = variableErrorField(error.message);
      return new GraphQLError(error.message, {
        nodes: error.nodes,
        path: error.path,
        extensions: { ...error.extensions, code: "BAD_USER_INPUT", ...(field ? { field } : {}) },
      });
    }
    // An execution error graphql-js or a plugin raised without a code. Relay's node(id:) with an
    // ID naming no type is the caller's mistake; anything else is ours and is masked below.
    if (error.extensions?.code === undefined && error.path) {
      if ((error.path[0] === "node" || error.path[0] === "nodes") && /has not been implemented/.test(error.message)) {
        return new GraphQLError("id is not a valid global ID", { nodes: error.nodes, path: error.path, extensions: { code: "BAD_USER_INPUT", field: "id" } });
      }
    } else {
      return error;
    }
  }
  // A constraint the domain didn't see coming (a race): the stable codes, never the database's words.
  if (original instanceof Prisma.PrismaClientKnownRequestError && (original.code === "P2002" || original.code === "P2025" || original.code === "P2003")) {
    const unique = original.code === "P2002";
    return new GraphQLError(unique ? "This conflicts with a change made at the same time; reload and try again" : original.code === "P2025" ? "Not found" : "This refers to something that no longer exists; reload and try again", {
      path: error instanceof GraphQLError ? error.path : undefined,
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      extensions: { code: original.code === "P2025" ? "NOT_FOUND" : "CONFLICT" },
    });
  }
  // PostgreSQL's statement_timeout (SQLSTATE 57014) ended a query: the request was too expensive.
  if (original instanceof Error && /57014|statement timeout/.test(`${original.message} ${JSON.stringify((original as { meta?: unknown }).meta ?? {})}`)) {
    logger.warn({ path: error instanceof GraphQLError ? error.path : undefined }, "statement timeout");
    return new GraphQLError("A database statement took too long and was stopped (STATEMENT_TIMEOUT_MS)", {
      path: error instanceof GraphQLError ? error.path : undefined,
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      extensions: { code: "TIMEOUT" },
    });
  }
  logger.error({ err: original, path: error instanceof GraphQLError ? error.path : undefined }, "unexpected error");
  return new GraphQLError("Unexpected error.", {
    path: error instanceof GraphQLError ? error.path : undefined,
    nodes: error instanceof GraphQLError ? error.nodes : undefined,
    extensions: { code: "INTERNAL_SERVER_ERROR" },
  });
}

export interface AppOptions {
  config: Config;
  db: Database;
  logger: Logger;
  isShuttingDown?: () => boolean;
}

/** The caller's IP: the socket's peer, or with TRUST_PROXY the first X-Forwarded-For entry. */
function clientIp(request: Request, serverContext: Record<string, unknown>, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = request.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
    if (forwarded) return forwarded;
  }
  const socket = (serverContext.req as { socket?: { remoteAddress?: string } } | undefined)?.socket;
  return socket?.remoteAddress ?? "local";
}

export function createApp({ config, db, logger, isShuttingDown = () => false }: AppOptions): App {
  const authenticate = createAuthenticator(db.prisma, config.jwt);
  const limiter = createRateLimiter(config.rateLimits, (error) => logger.warn({ err: error }, "rate-limit store unavailable; limits not applied"));
  return createYoga<Record<string, unknown>, Context>({
    cors: corsOptions(config.corsOrigins),
    // Batched requests (a JSON array of operations) only when GRAPHQL_MAX_BATCH allows them.
    batching: config.limits.maxBatch > 0 ? { limit: config.limits.maxBatch } : false,
    schema: getSchema(),
    graphqlEndpoint: "/graphql",
    landingPage: false,
    graphiql: config.graphiql ? { title: "Membership Graph", defaultQuery: DEFAULT_QUERY } : false,
    // The self-contained GraphiQL page: no CDN, so it also works on machines without internet.
    renderGraphiQL,
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(" ")),
      info: (...args) => logger.info(args.map(String).join(" ")),
      warn: (...args) => logger.warn(args.map(String).join(" ")),
      error: (...args) => logger.error(args.map(String).join(" ")),
    },
    maskedErrors: { maskError: (error) => toGraphQLError(error, logger) },
    plugins: [
      requestIds(),
      requestIdOnInternalErrors(logger),
      ...trustedDocuments(config.trustedDocuments),
      healthRoutes(db, isShuttingDown),
      requestLogging(logger),
      bodySizeLimit(config.limits.maxBodyBytes),
      ...documentLimits(config.limits),
      ...(config.limits.requestTimeoutMs > 0 ? [executionTimeout(config.limits.requestTimeoutMs)] : []),
      rejectNulCharacters(),
      pageSizeLimit(config.maxPageSize),
      sensitiveFieldLimits(limiter, (context) => (context.viewer ? `user:${context.viewer.user.id}` : `ip:${context.clientIp}`)),
      { onDispose: () => limiter.store.close() },
      ...(config.corsOrigins.length > 0 ? [varyOnOrigin()] : []),
      ...(config.sqlStatementsHeader ? [sqlStatementsHeader(db)] : []),
    ],
    context: async ({ request, ...serverContext }) => {
      const requestId = (serverContext as { requestId?: string }).requestId ?? randomUUID();
      const ip = clientIp(request, serverContext as Record<string, unknown>, config.rateLimits.trustProxy);
      try {
        const authorization = request.headers.get("authorization");
        if (authorization) await limiter.beforeAuthentication(ip);
        const viewer = await authenticate(authorization, requestId).catch(async (error: unknown) => {
          if (error instanceof AppError && error.code === "UNAUTHENTICATED") await limiter.authenticationFailed(ip);
          throw error;
        });
        await limiter.request(viewer ? `user:${viewer.user.id}` : `ip:${ip}`);
        return createContext(db.prisma, config, requestId, viewer, ip);
      } catch (error) {
        throw toGraphQLError(error, logger);
      }
    },
  });
}
