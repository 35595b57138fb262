// Every environment variable the service reads, parsed and validated once. Nothing else in
// src/ reads process.env: a misspelt or out-of-range value stops the process at start with a
// message naming the variable, instead of surfacing later as odd behaviour.
import path from "node:path";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface Config {
  /** "production" turns off GraphiQL by default and the planner's unused-query check. */
  nodeEnv: string;
  host: string;
  port: number;
  /** PostgreSQL connection string; absent means the embedded database in dataDir. */
  databaseUrl: string | undefined;
  /** Folder of the embedded database (only used without databaseUrl). */
  dataDir: string;
  /** Most connections the PostgreSQL pool opens. */
  databasePoolSize: number;
  /** Apply pending migrations when the server starts (always true for the embedded database). */
  migrateOnStart: boolean;
  /** Seed the demo dataset when the embedded database is empty at start. */
  seedDemo: boolean;
  logLevel: LogLevel;
  graphiql: boolean;
  /** How long a graceful shutdown waits for in-flight requests before it closes them. */
  shutdownTimeoutMs: number;
  /** Largest `first`/`last` a connection accepts. */
  maxPageSize: number;
  /** Page size when a connection gets neither `first` nor `last`. */
  defaultPageSize: number;
  /**
   * Add `x-sql-statements` to every response: the statements Prisma sent while the request ran
   * (exact when requests don't overlap). For the benchmark and debugging; off by default.
   */
  sqlStatementsHeader: boolean;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function intVar(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function boolVar(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if (["1", "true", "yes", "on"].includes(raw)) return true;
  if (["0", "false", "no", "off"].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false (1/0, yes/no), got "${env[name]}"`);
}

const LOG_LEVELS: LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = env.NODE_ENV?.trim() || "development";
  const production = nodeEnv === "production";

  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(databaseUrl);
    } catch {
      throw new ConfigError("DATABASE_URL is not a valid URL (expected postgresql://user:password@host:5432/database)");
    }
    if (url.protocol !== "postgresql:" && url.protocol !== "postgres:") {
      throw new ConfigError(`DATABASE_URL must start with postgresql:// (got ${url.protocol}//)`);
    }
  }

  const logLevel = (env.LOG_LEVEL?.trim().toLowerCase() || (env.VITEST ? "silent" : "info")) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got "${env.LOG_LEVEL}"`);
  }

  const maxPageSize = intVar(env, "MAX_PAGE_SIZE", 100, 1, 10_000);
  const defaultPageSize = intVar(env, "DEFAULT_PAGE_SIZE", 20, 1, 10_000);
  if (defaultPageSize > maxPageSize) {
    throw new ConfigError(`DEFAULT_PAGE_SIZE (${defaultPageSize}) can't be larger than MAX_PAGE_SIZE (${maxPageSize})`);
  }

  return {
    nodeEnv,
    host: env.HOST?.trim() || "0.0.0.0",
    port: intVar(env, "PORT", 4000, 0, 65_535),
    databaseUrl,
    dataDir: path.resolve(env.DATA_DIR?.trim() || ".data"),
    databasePoolSize: intVar(env, "DATABASE_POOL_SIZE", 10, 1, 1_000),
    migrateOnStart: databaseUrl === undefined ? true : boolVar(env, "MIGRATE_ON_START", false),
    seedDemo: boolVar(env, "SEED_DEMO", databaseUrl === undefined),
    logLevel,
    graphiql: boolVar(env, "GRAPHIQL", !production),
    shutdownTimeoutMs: intVar(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    maxPageSize,
    defaultPageSize,
    sqlStatementsHeader: boolVar(env, "SQL_STATEMENTS_HEADER", false),
  };
}
