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
import { createDatabaseHealth, isDatabaseUnavailable, type DatabaseHealth, type HealthProblem } from "./db/health.js";
import { AppError } from "./domain/errors.js";
import { Prisma } from "./generated/prisma/client.js";
import { createContext, type Context } from "./graphql/context.js";
import { argumentLimits } from "./graphql/argument-limits.js";
import { schemaDiscovery } from "./graphql/introspection.js";
import { bodySizeLimit, documentLimits, executionTimeout, rejectNulCharacters } from "./graphql/limits.js";
import { createRateLimiter, sensitiveFieldLimits } from "./graphql/rate-limit.js";
import { trustedDocuments } from "./graphql/trusted-documents.js";
import { getSchema } from "./graphql/schema.js";
import type { Logger } from "./logger.js";
import { createMetrics, metricsRoute, type Metrics } from "./observability/metrics.js";
import { requestFacts, factsOf } from "./observability/request-facts.js";
import { tracingPlugin } from "./observability/tracing.js";

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

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8", ...headers } });
}

/**
 * /healthz: the process is alive (never touches the database, so an orchestrator doesn't restart
 * a healthy process because PostgreSQL is down). /readyz: it can serve requests now: not
 * shutting down, the database answers within a second, and its schema is not behind.
 */
function healthRoutes(db: Database, health: DatabaseHealth, isShuttingDown: () => boolean): Plugin {
  return {
    async onRequest({ url, endResponse }) {
      if (url.pathname === "/healthz") {
        endResponse(json({ status: "ok" }));
      } else if (url.pathname === "/readyz") {
        if (isShuttingDown()) return endResponse(json({ status: "shutting_down", database: db.kind }, 503));
        const problem = await health.check();
        if (problem) return endResponse(json({ ...problem, database: db.kind }, 503));
        endResponse(json({ status: "ready", database: db.kind }));
      }
    },
  };
}

/** While the database is known to be unreachable or behind, GraphQL requests fail at once with SERVICE_UNAVAILABLE. */
function failFastWhileUnavailable(health: DatabaseHealth): Plugin {
  return {
    onRequestParse({ request, url, endResponse }) {
      if (url.pathname !== "/graphql" || (request.method === "GET" && request.headers.get("accept")?.includes("text/html"))) return;
      const problem = health.problem();
      if (!problem) return;
      factsOf(request).errorCodes.push("SERVICE_UNAVAILABLE");
      const extensions = { code: "SERVICE_UNAVAILABLE", reason: problem.status.toUpperCase(), ...(problem.pending ? { pending: problem.pending } : {}) };
      endResponse(json({ errors: [{ message: problem.message, extensions }] }, 503, { "retry-after": "2" }));
    },
  };
}

/**
 * One JSON line per request: id, operation, viewer, status, duration and error codes. Never the
 * headers, the document's variables or the response body: that is where secrets travel.
 */
function requestLogging(logger: Logger): Plugin {
  return {
    onResponse({ request, response }) {
      const url = new URL(request.url);
      if (url.pathname === "/healthz" || url.pathname === "/readyz" || url.pathname === "/metrics") return;
      const facts = factsOf(request);
      logger.info(
        {
          requestId: facts.requestId,
          method: request.method,
          path: url.pathname,
          operationName: facts.operationName,
          operationType: facts.operationType,
          viewerId: facts.viewerId,
          status: response.status,
          durationMs: Math.round((performance.now() - facts.startedAt) * 10) / 10,
          ...(facts.errorCodes.length > 0 ? { errorCodes: facts.errorCodes } : {}),
        },
        "request",
      );
    },
  };
}

/** Gives every request an id (the caller's X-Request-Id when well-formed) and echoes it back. */
function requestIds(): Plugin {
  return {
    onRequest({ request, serverContext }) {
      const given = request.headers.get("x-request-id");
      const id = given && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
      factsOf(request).requestId = id;
      (serverContext as { requestId?: string }).requestId = id;
    },
    onResponse({ request, response }) {
      const id = factsOf(request).requestId;
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

export function toGraphQLError(error: unknown, logger: Logger, onDatabaseUnavailable?: (error: unknown) => void): GraphQLError {
  const original = error instanceof GraphQLError ? (error.originalError ?? undefined) : error;
  if (original instanceof AppError) {
    return new GraphQLError(original.message, {
      path: error instanceof GraphQLError ? error.path : undefined,
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
  // Request parameters that aren't JSON (GET ?variables=…, a form's extensions=…): Yoga parses
  // them with JSON.parse before anything runs and lets the SyntaxError through. The caller's mistake.
  if (original instanceof SyntaxError && !(error instanceof GraphQLError && error.path)) {
    return new GraphQLError("The request's variables or extensions are not valid JSON", { extensions: { code: "BAD_REQUEST", http: { status: 400 } } });
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
  // The database could not be reached or dropped the connection: retriable, and the service
  // fails fast until a ping answers again (DatabaseHealth).
  if (isDatabaseUnavailable(original)) {
    onDatabaseUnavailable?.(original);
    logger.warn({ errorName: (original as Error).name, message: (original as Error).message, path: error instanceof GraphQLError ? error.path : undefined }, "database unavailable");
    return new GraphQLError("The database is unavailable right now; retry shortly", {
      path: error instanceof GraphQLError ? error.path : undefined,
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      extensions: { code: "SERVICE_UNAVAILABLE", reason: "DATABASE_UNAVAILABLE", http: { status: 503, headers: { "retry-after": "2" } } },
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

/** Logs the moments the database becomes unusable and usable again (not every failed request). */
export function logHealthChange(logger: Logger) {
  return (problem: HealthProblem | null, cause?: unknown) =>
    problem
      ? logger.warn({ status: problem.status, pending: problem.pending, cause: cause instanceof Error ? cause.message : undefined }, `not ready: ${problem.message}`)
      : logger.info("database available: ready");
}

export interface AppOptions {
  config: Config;
  db: Database;
  logger: Logger;
  isShuttingDown?: () => boolean;
  /** The app's metrics; by default its own when METRICS is on (main.ts passes them to serve on METRICS_PORT). */
  metrics?: Metrics | null;
  /** Whether the database may be used now (main.ts shares it with the migration check). */
  health?: DatabaseHealth;
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

export function createApp({ config, db, logger, isShuttingDown = () => false, metrics = config.metrics.enabled ? createMetrics(db) : null, health = createDatabaseHealth(db, { onChange: logHealthChange(logger) }) }: AppOptions): App {
  const authenticate = createAuthenticator(db.prisma, config.jwt);
  const limiter = createRateLimiter(config.rateLimits, (error) => logger.warn({ err: error }, "rate-limit store unavailable; limits not applied"));
  return createYoga<Record<string, unknown>, Context>({
    cors: corsOptions(config.corsOrigins),
    // Batched requests (a JSON array of operations) only when GRAPHQL_MAX_BATCH allows them.
    batching: config.limits.maxBatch > 0 ? { limit: config.limits.maxBatch } : false,
    // No file uploads: nothing here takes a file, and a multipart body could smuggle one into a JSON variable.
    multipart: false,
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
      // Yoga logs each error it masks, message included, and those messages may quote a
      // request's variables (secrets). toGraphQLError has already logged the unexpected ones
      // without the caller's input, so only errors that aren't GraphQL errors pass, by name.
      error: (...args) => {
        if (args.some((arg) => arg instanceof GraphQLError || arg instanceof AppError)) return;
        const unexpected = args.find((arg): arg is Error => arg instanceof Error);
        if (unexpected) logger.error({ errorName: unexpected.name }, "yoga reported an unexpected error (see the preceding entry)");
        else logger.error(args.map(String).join(" "));
      },
    },
    maskedErrors: { maskError: (error) => toGraphQLError(error, logger, (cause) => health.reportUnavailable(cause)) },
    plugins: [
      requestFacts(),
      tracingPlugin(),
      requestIds(),
      requestIdOnInternalErrors(logger),
      ...trustedDocuments(config.trustedDocuments),
      healthRoutes(db, health, isShuttingDown),
      failFastWhileUnavailable(health),
      { onDispose: () => health.close() },
      ...(metrics ? [metrics.plugin, { onDispose: () => metrics.close() }] : []),
      ...(metrics && config.metrics.port === null ? [metricsRoute(metrics)] : []),
      requestLogging(logger),
      bodySizeLimit(config.limits.maxBodyBytes),
      ...documentLimits(config.limits),
      ...(config.limits.requestTimeoutMs > 0 ? [executionTimeout(config.limits.requestTimeoutMs)] : []),
      rejectNulCharacters(),
      argumentLimits({ maxPageSize: config.maxPageSize, maxNodes: config.maxNodes }),
      ...schemaDiscovery(config.introspection),
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
        throw toGraphQLError(error, logger, (cause) => health.reportUnavailable(cause));
      }
    },
  });
}
