// How every error leaves the service: the domain's AppErrors with their codes and the rule's
// reason, the caller's mistakes that graphql-js or Yoga report without a code, races the database
// caught, outages and timeouts; anything else is logged and masked as INTERNAL_SERVER_ERROR.
import { PothosValidationError } from "@pothos/core";
import { GraphQLError } from "graphql";
import { defaultReason } from "../core/rules.js";
import { isDatabaseBusy, isDatabaseUnavailable, isTransactionExpired } from "../db/health.js";
import { AppError } from "../core/errors.js";
import { Prisma } from "../generated/prisma/client.js";
import type { Logger } from "../logger.js";

/**
 * The input field a variable-coercion error is about, as forms name it: for
 * `Variable "$input" got invalid value "x" at "input.email"; …` that is "email" (the path
 * inside the input object); for a bare `$email` variable, "email".
 */
function variableErrorField(message: string): string | null {
  const variable = /^Variable "\$([A-Za-z_][A-Za-z0-9_]*)"/.exec(message);
  if (!variable) return null;
  const at = /\bat "([^"]+)"/.exec(message);
  const path = at ? at[1]!.replace(/\[\d+\]/g, "").split(".").slice(1).join(".") : "";
  const named = /Field "([A-Za-z_][A-Za-z0-9_]*)" (?:of required type .* was not provided|is not defined)/.exec(message);
  const field = [path, named?.[1]].filter(Boolean).join(".");
  return field || variable[1]!;
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
        ...(defaultReason(original.code) && original.details.reason === undefined ? { reason: defaultReason(original.code) } : {}),
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
  /** The database couldn't serve the request now: HTTP 503, retriable after `retryAfter` seconds, `reason` saying why. */
  const retryLater = (message: string, reason: string, retryAfter: number) =>
    new GraphQLError(message, {
      path: error instanceof GraphQLError ? error.path : undefined,
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      extensions: { code: "SERVICE_UNAVAILABLE", reason, http: { status: 503, headers: { "retry-after": String(retryAfter) } } },
    });
  // A transaction past its timeout was rolled back: retriable, but logged as an error, since
  // outside a burst it means a transaction doing too much.
  if (isTransactionExpired(original)) {
    logger.error({ err: original, path: error instanceof GraphQLError ? error.path : undefined }, "a transaction ran past its timeout and was rolled back");
    return retryLater("The change took too long and was rolled back; nothing was stored. Retry shortly", "TRANSACTION_TIMEOUT", 1);
  }
  // Every connection busy for longer than a request may wait for one (a burst): retriable,
  // but no outage, so the service doesn't fail fast for it.
  if (isDatabaseBusy(original)) {
    logger.warn({ message: (original as Error).message, path: error instanceof GraphQLError ? error.path : undefined }, "no database connection free in time");
    return retryLater("The database is busy right now; retry shortly", "DATABASE_BUSY", 1);
  }
  // The database could not be reached or dropped the connection: retriable, and the service
  // fails fast until a ping answers again (DatabaseHealth).
  if (isDatabaseUnavailable(original)) {
    onDatabaseUnavailable?.(original);
    logger.warn({ errorName: (original as Error).name, message: (original as Error).message, path: error instanceof GraphQLError ? error.path : undefined }, "database unavailable");
    return retryLater("The database is unavailable right now; retry shortly", "DATABASE_UNAVAILABLE", 2);
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
