// SQL_STATEMENTS_HEADER: how many statements a request cost, for the benchmark and debugging.
import type { Plugin } from "graphql-yoga";
import type { Database } from "../db/client.js";

/** `x-sql-statements`: statements sent during the request (exact only when requests don't overlap). */
export function sqlStatementsHeader(db: Database): Plugin {
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
