// Whether the service can serve: /healthz and /readyz, failing fast while the database is known
// to be unavailable, and logging the moments that changes.
import type { Plugin } from "graphql-yoga";
import type { Database } from "../db/client.js";
import type { DatabaseHealth, HealthProblem } from "../db/health.js";
import type { Logger } from "../logger.js";
import { factsOf } from "../observability/request-facts.js";

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8", ...headers } });
}

/**
 * /healthz: the process is alive (never touches the database, so an orchestrator doesn't restart
 * a healthy process because PostgreSQL is down). /readyz: it can serve requests now: not
 * shutting down, the database answers within a second, and its schema is not behind.
 */
export function healthRoutes(db: Database, health: DatabaseHealth, isShuttingDown: () => boolean): Plugin {
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
export function failFastWhileUnavailable(health: DatabaseHealth): Plugin {
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

/** Logs the moments the database becomes unusable and usable again (not every failed request). */
export function logHealthChange(logger: Logger) {
  return (problem: HealthProblem | null, cause?: unknown) =>
    problem
      ? logger.warn({ status: problem.status, pending: problem.pending, cause: cause instanceof Error ? cause.message : undefined }, `not ready: ${problem.message}`)
      : logger.info("database available: ready");
}
