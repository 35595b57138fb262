// Opens the database: embedded PostgreSQL (PGlite) when no DATABASE_URL is set, a real
// PostgreSQL server through a bounded pg pool otherwise. Both give the same Prisma client.
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "../generated/prisma/client.js";
import { lockDataDir } from "./embedded-lock.js";
import { pgliteRunner, pgRunner, type SqlRunner } from "./sql.js";

export type Prisma = PrismaClient;

export interface Database {
  kind: "embedded" | "postgresql";
  /** Where the data lives, for logs: the folder, or the server without credentials. */
  location: string;
  prisma: PrismaClient;
  /** A runner on one connection; release() it when done. */
  sqlRunner(): Promise<SqlRunner>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** SQL statements Prisma has sent since the database was opened (for tests and benchmarks). */
  statementCount(): number;
  /** Starts enforcing statementTimeoutMs (the server calls it once migrations and the seed are done). */
  limitStatements(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  databaseUrl?: string;
  dataDir: string;
  poolSize?: number;
  /** In-memory embedded database (tests): no folder, no lock. */
  inMemory?: boolean;
  /** PostgreSQL statement_timeout for the service's queries; migrations run without it. */
  statementTimeoutMs?: number;
}

function redactUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

function countStatements(prisma: PrismaClient): () => number {
  let count = 0;
  const trace = process.env.TRACE_SQL === "1";
  prisma.$on("query" as never, (event: { query: string }) => {
    count++;
    if (trace) process.stderr.write(`[sql] ${event.query.replace(/\s+/g, " ").replace(/"public"\./g, "").replace(/SELECT .*? FROM/, "SELECT … FROM").slice(0, Number(process.env.TRACE_SQL_WIDTH ?? 400))}\n`);
  });
  return () => count;
}

/** An embedded PostgreSQL with the extensions the migrations use. */
export function createPGlite(dataPath?: string): Promise<PGlite> {
  return PGlite.create(dataPath, { extensions: { pg_trgm } });
}

export async function openDatabase(options: OpenOptions): Promise<Database> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      // Every session of the service's pool: a runaway statement ends with an error, not a hung connection.
      ...(options.statementTimeoutMs ? { options: `-c statement_timeout=${options.statementTimeoutMs}` } : {}),
    });
    // An idle connection dropped by the server must not crash the process; the pool replaces it.
    pool.on("error", () => {});
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool), log: [{ emit: "event", level: "query" }] });
    const statementCount = countStatements(prisma);
    return {
      kind: "postgresql",
      location: redactUrl(options.databaseUrl),
      prisma,
      sqlRunner: () => pgRunner(pool),
      async ping() {
        await pool.query("SELECT 1");
      },
      async limitStatements() {
        // Set for every pooled session at connect time (above).
      },
      statementCount,
      async close() {
        await prisma.$disconnect();
        await pool.end();
      },
    };
  }

  const dataPath = options.inMemory ? undefined : path.join(options.dataDir, "pgdata");
  const unlock = options.inMemory ? () => {} : lockDataDir(options.dataDir);
  let pglite: PGlite;
  try {
    pglite = await createPGlite(dataPath);
  } catch (error) {
    unlock();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite), log: [{ emit: "event", level: "query" }] });
  const statementCount = countStatements(prisma);
  const runner = pgliteRunner(pglite);
  return {
    kind: "embedded",
    location: dataPath ?? "memory",
    prisma,
    sqlRunner: async () => runner,
    async ping() {
      await pglite.query("SELECT 1");
    },
    async limitStatements() {
      // PGlite runs each statement to completion on this thread: it has no way to cancel one,
      // so statement_timeout is not available on the embedded database (README, Security).
    },
    statementCount,
    async close() {
      await prisma.$disconnect();
      await pglite.close();
      unlock();
    },
  };
}
