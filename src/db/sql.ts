// A minimal SQL runner over either database driver, for the work Prisma's client can't do:
// multi-statement migration scripts, advisory locks, readiness pings.
import type { PGlite } from "@electric-sql/pglite";
import type pg from "pg";

export interface SqlRunner {
  /** Runs one statement with $1-style parameters and returns its rows. */
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Runs a script of several statements (no parameters). */
  exec(script: string): Promise<void>;
  /** Gives back the connection (pool client) this runner holds, if any. */
  release(): void;
}

export function pgliteRunner(db: PGlite): SqlRunner {
  return {
    async query<Row>(sql: string, params: unknown[] = []) {
      return (await db.query<Row>(sql, params)).rows;
    },
    async exec(script) {
      await db.exec(script);
    },
    release() {},
  };
}

/** One dedicated pool connection, so session state (advisory locks, BEGIN) stays on it. */
export async function pgRunner(pool: pg.Pool): Promise<SqlRunner> {
  const client = await pool.connect();
  // A connection that fails between queries is given back as broken, not reused.
  let failed: Error | undefined;
  const noteFailure = (error: Error) => (failed = error);
  client.on("error", noteFailure);
  // Migrations and operator scripts may legitimately run long: no statement timeout here.
  try {
    await client.query("SET statement_timeout = 0");
  } catch (error) {
    client.removeListener("error", noteFailure);
    client.release(error as Error);
    throw error;
  }
  return {
    async query<Row>(sql: string, params: unknown[] = []) {
      return (await client.query(sql, params)).rows as Row[];
    },
    async exec(script) {
      await client.query(script);
    },
    release() {
      client.removeListener("error", noteFailure);
      if (failed) return client.release(failed);
      // Back to the pool with the session's configured timeout (RESET returns to the connect-time value).
      void client.query("RESET statement_timeout").then(
        () => client.release(),
        (error: Error) => client.release(error),
      );
    },
  };
}
