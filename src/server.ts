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
import { createContext, type Context } from "./graphql/context.js";
import { pageSizeLimit } from "./graphql/page-size.js";
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
    return error;
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

export function createApp({ config, db, logger, isShuttingDown = () => false }: AppOptions): App {
  const authenticate = createAuthenticator(db.prisma, config.jwt);
  return createYoga<Record<string, unknown>, Context>({
    cors: corsOptions(config.corsOrigins),
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
      healthRoutes(db, isShuttingDown),
      requestLogging(logger),
      pageSizeLimit(config.maxPageSize),
      ...(config.corsOrigins.length > 0 ? [varyOnOrigin()] : []),
      ...(config.sqlStatementsHeader ? [sqlStatementsHeader(db)] : []),
    ],
    context: async ({ request, ...serverContext }) => {
      const requestId = (serverContext as { requestId?: string }).requestId ?? randomUUID();
      try {
        const viewer = await authenticate(request.headers.get("authorization"), requestId);
        return createContext(db.prisma, config, requestId, viewer);
      } catch (error) {
        throw toGraphQLError(error, logger);
      }
    },
  });
}
