// Opens the database: embedded PostgreSQL (PGlite) when no DATABASE_URL is set, a real
// PostgreSQL server through a bounded pg pool otherwise. Both give the same Prisma client.
import fs from "node:fs";
import path from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import type { Config } from "../config.js";
import { PrismaClient } from "../generated/prisma/client.js";
import { lockDataDir } from "./embedded-lock.js";
import { fsyncTree } from "./fsync.js";
import { pgliteRunner, pgRunner, type SqlRunner } from "./sql.js";


export interface Database {
  kind: "embedded" | "postgresql";
  /** Where the data lives, for logs: the folder, or the server without credentials. */
  location: string;
  prisma: PrismaClient;
  /** A runner on one connection; release() it when done. */
  sqlRunner(): Promise<SqlRunner>;
  /** Resolves when the database answers a trivial query (PostgreSQL: on a new connection, within timeoutMs). */
  ping(timeoutMs?: number): Promise<void>;
  /**
   * One statement through the driver itself, for the hot read paths (the token lookup, list
   * pages): no Prisma query building or decoding. Timestamps come back as Dates, like Prisma's;
   * enums should be selected as text. Counted, timed and traced like Prisma's statements. On the
   * embedded database it goes through Prisma's raw query, which orders it among Prisma's own.
   */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** SQL statements sent since the database was opened (for tests and benchmarks). */
  statementCount(): number;
  /** Calls listener after each statement Prisma sends, with its duration (for metrics). */
  onStatement(listener: (durationMs: number) => void): () => void;
  /** The pool's connections (PostgreSQL only; null for the embedded database, which has one). */
  poolStats(): PoolStats | null;
  /**
   * Closes the pool's connections opened before `time` (ms since the epoch): after an outage
   * they may be dead without knowing it (a peer that vanished sends no reset). Returns how many.
   */
  discardConnectionsOpenedBefore(time: number): number;
  /**
   * Calls onMessage with the payload of every NOTIFY on `channel` (an identifier, not user input),
   * on the process's one listening connection (PostgreSQL) that reconnects after a second when lost; onGap is
   * called whenever listening (re)starts, since notifications sent meanwhile are gone. Returns a
   * function that stops listening.
   */
  listen(channel: string, onMessage: (payload: string) => void, onGap?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

interface PoolStats {
  total: number;
  idle: number;
  /** Requests waiting for a connection. */
  waiting: number;
  max: number;
}

export interface OpenOptions {
  databaseUrl?: string;
  dataDir: string;
  poolSize?: number;
  /** In-memory embedded database (tests): no folder, no lock. */
  inMemory?: boolean;
  /**
   * In memory only: start from this data folder (a PGlite dumpDataDir tarball) instead of an
   * empty cluster, which skips initdb (seconds) — tests reuse one migrated template.
   */
  template?: Blob;
  /** PostgreSQL statement_timeout for the service's queries; migrations run without it. */
  statementTimeoutMs?: number;
  /** How long getting a connection (a new one, or a free one from a busy pool) may take. */
  connectTimeoutMs?: number;
  /** Print every statement to stderr, cut at this width (Config.traceSql). */
  traceSql?: { width: number } | null;
}

/** A pg client's socket: destroy() closes it without the goodbye a silent peer never answers. */
function socketOf(client: pg.Client | pg.PoolClient): { destroy(): void } | undefined {
  return (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
}

/**
 * Prisma's DateTime columns are `timestamp` without a time zone, holding UTC. pg would read them
 * in the process's local time zone; these parsers read them as UTC, as Prisma's adapter does.
 */
function generalTimestamp(value: string): Date {
  return new Date(`${value.replace(" ", "T")}Z`);
}

/** The number the digits value[start..end) spell, or -1 when one of them isn't a digit. */
function digitsAt(value: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/**
 * "YYYY-MM-DD HH:MM:SS[.ffffff]" read character by character (a member page reads thousands of
 * these; a regular expression's match arrays were 8% of what q2 allocated). Anything unusual
 * (infinity, BC, years before 100) takes the general parser; test/lean-timestamps.test.ts holds
 * both to the same dates.
 */
export function parseUtcTimestamp(value: string): Date {
  const length = value.length;
  if (length < 19 || length > 26 || value.charCodeAt(4) !== 45 || value.charCodeAt(7) !== 45 || value.charCodeAt(10) !== 32 || value.charCodeAt(13) !== 58 || value.charCodeAt(16) !== 58) {
    return generalTimestamp(value);
  }
  const year = digitsAt(value, 0, 4);
  const month = digitsAt(value, 5, 7);
  const day = digitsAt(value, 8, 10);
  const hour = digitsAt(value, 11, 13);
  const minute = digitsAt(value, 14, 16);
  const second = digitsAt(value, 17, 19);
  let ms = 0;
  if (length > 19) {
    if (value.charCodeAt(19) !== 46 || length === 20) return generalTimestamp(value);
    // Milliseconds: the first three fraction digits (".5" is 500), the rest cut as Prisma does.
    const fraction = digitsAt(value, 20, length);
    if (fraction < 0) return generalTimestamp(value);
    const digits = Math.min(length - 20, 3);
    ms = digitsAt(value, 20, 20 + digits) * (digits === 1 ? 100 : digits === 2 ? 10 : 1);
  }
  if (year < 100 || month < 1 || day < 1 || hour < 0 || minute < 0 || second < 0) return generalTimestamp(value);
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
}

const LEAN_TYPES = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === 1114 && format !== "binary") return parseUtcTimestamp;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Database.query through Prisma's raw query (the embedded database's, and the plain path's in tests). */
export function queryThroughPrisma(prisma: PrismaClient): Database["query"] {
  return async <Row>(sql: string, params: readonly unknown[] = []) => (await prisma.$queryRawUnsafe(sql, ...params)) as Row[];
}

function redactUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

type Statements = Pick<Database, "statementCount" | "onStatement"> & {
  /** Counts a statement sent past Prisma (Database.query). */
  record(query: string, durationMs: number): void;
};

function watchStatements(prisma: PrismaClient, trace: { width: number } | null | undefined): Statements {
  let count = 0;
  const listeners = new Set<(durationMs: number) => void>();
  const record = (query: string, durationMs: number) => {
    count++;
    for (const listener of listeners) listener(durationMs);
    if (trace) process.stderr.write(`[sql] ${query.replace(/\s+/g, " ").replace(/"public"\./g, "").replace(/SELECT .*? FROM/, "SELECT … FROM").slice(0, trace.width)}\n`);
  };
  prisma.$on("query" as never, (event: { query: string; duration: number }) => record(event.query, Number(event.duration)));
  return {
    record,
    statementCount: () => count,
    onStatement(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * The embedded database's modules (PGlite, its file system, its Prisma adapter), loaded when one
 * opens: a service on a PostgreSQL server never loads them.
 */
async function loadEmbedded() {
  const { PGlite } = await import("@electric-sql/pglite");
  const { NodeFS } = await import("@electric-sql/pglite/nodefs");
  const { PrismaPGlite } = await import("pglite-prisma-adapter");
  /** The extensions the migrations use. */
  const extensions = {
    pg_trgm: (await import("@electric-sql/pglite/contrib/pg_trgm")).pg_trgm,
    btree_gin: (await import("@electric-sql/pglite/contrib/btree_gin")).btree_gin,
  };

  /**
   * PGlite on a folder, with commits that reach the disk (README, "Embedded database durability").
   * PGlite's NodeFS hands PostgreSQL's writes straight to the files (fs.writeSync), so a commit is in
   * the OS when its query resolves and survives kill -9. But PGlite starts PostgreSQL with fsync off
   * (`-F`), and Emscripten's NODEFS has no fsync (fsync() is a no-op): nothing would reach the disk
   * before the OS flushes it, and a power loss could lose commits or corrupt the folder. So: NODEFS
   * gets a real fsync, and PostgreSQL runs with fsync on and wal_sync_method=fsync (fdatasync()
   * stays a no-op in Emscripten).
   */
  class FsyncingNodeFS extends NodeFS {
    override async init(pg: PGlite, options: Parameters<InstanceType<typeof NodeFS>["init"]>[1]) {
      const result = await super.init(pg, options);
      const patchFsync = (mod: { NODEFS: unknown }) => {
        const nodefs = mod.NODEFS as { stream_ops?: Record<string, unknown>; tryFSOperation?: (operation: () => void) => void };
        if (!nodefs?.stream_ops || typeof nodefs.tryFSOperation !== "function") {
          throw new Error("@electric-sql/pglite: Emscripten NODEFS has changed; createPGlite (src/db/client.ts) can't make fsync real");
        }
        // A failing fsync becomes an errno for PostgreSQL, which then stops rather than acknowledge.
        nodefs.stream_ops.fsync ??= (stream: { nfd: number }) => {
          nodefs.tryFSOperation!(() => fs.fsyncSync(stream.nfd));
          return 0;
        };
      };
      result.emscriptenOpts.preRun = [...(result.emscriptenOpts.preRun ?? []), patchFsync];
      return result;
    }
  }

  return { PGlite, PrismaPGlite, FsyncingNodeFS, extensions };
}
let embedded: ReturnType<typeof loadEmbedded> | undefined;
const embeddedModules = () => (embedded ??= loadEmbedded());

/**
 * The options Config gives: the server's pool with its timeouts, or the CLI's two connections
 * with none (migrations, backups and seeding may run long).
 */
export function databaseOptions(config: Config, use: "server" | "cli"): OpenOptions {
  const common = { databaseUrl: config.databaseUrl, dataDir: config.dataDir, traceSql: config.traceSql };
  return use === "cli"
    ? { ...common, poolSize: 2 }
    : { ...common, poolSize: config.databasePoolSize, statementTimeoutMs: config.limits.statementTimeoutMs, connectTimeoutMs: config.databaseConnectTimeoutMs };
}

/** An embedded PostgreSQL with the extensions the migrations use: in memory, or durable in dataPath. */
export async function createPGlite(dataPath?: string, template?: Blob): Promise<PGlite> {
  const { PGlite, FsyncingNodeFS, extensions } = await embeddedModules();
  if (!dataPath) return PGlite.create({ extensions, ...(template ? { loadDataDir: template } : {}) });
  const created = !fs.existsSync(path.join(dataPath, "PG_VERSION"));
  const pglite = await PGlite.create({
    dataDir: dataPath,
    fs: new FsyncingNodeFS(dataPath),
    extensions,
    startParams: [...PGlite.defaultStartParams.filter((param) => param !== "-F"), "-c", "wal_sync_method=fsync"],
  });
  // A new cluster is copied in from initdb's memory without fsync; PostgreSQL syncs only what it writes.
  if (created) fsyncTree(dataPath);
  return pglite;
}

interface Subscriber {
  onMessage: (payload: string) => void;
  onGap: () => void;
  /** Its listen() has returned: a gap is told to it by whoever reconnects (before, listen() tells it). */
  listening: boolean;
}

/**
 * Database.listen on PostgreSQL: one client of its own for every channel the process listens on
 * (so a process holds one LISTEN connection, however many channels and listeners), replaced a
 * second after it is lost; every listener's onGap is called when it is listening again.
 */
function postgresListener(connectionString: string, connectTimeoutMs: number): Database["listen"] {
  const subscribers = new Map<string, Set<Subscriber>>();
  let client: pg.Client | null = null;
  /** Resolves with the channels LISTENed on `client` once it is connected. */
  let ready: Promise<Set<string>> | null = null;
  let retry: NodeJS.Timeout | undefined;
  /** A connection was lost: whichever connects next tells every listener (what was sent meanwhile is gone). */
  let gapOwed = false;

  /** A listener's callback failing is its own affair, not the shared connection's. */
  const safely = (callback: () => void) => {
    try {
      callback();
    } catch {
      // ignored: the listener's own error
    }
  };
  const lost = (which: pg.Client) => {
    if (which !== client) return;
    client = null;
    ready = null;
    gapOwed = true;
    void which.end().catch(() => {});
    if (subscribers.size === 0) return;
    retry ??= setTimeout(() => {
      retry = undefined;
      if (subscribers.size > 0 && !client) connect().catch(() => {});
    }, 1_000);
    retry.unref();
  };
  const connect = (): Promise<Set<string>> => {
    const next = new pg.Client({
      connectionString,
      connectionTimeoutMillis: connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      // Named, so an operator (or a test) can find it in pg_stat_activity.
      application_name: `membership-graph-listen-${process.pid}`,
    });
    client = next;
    next.on("error", () => lost(next));
    next.on("end", () => lost(next));
    next.on("notification", (message) => {
      const payload = message.payload;
      if (payload === undefined) return;
      for (const subscriber of subscribers.get(message.channel) ?? []) safely(() => subscriber.onMessage(payload));
    });
    ready = (async () => {
      try {
        await next.connect();
        const listened = new Set<string>();
        for (const channel of subscribers.keys()) {
          await next.query(`LISTEN ${channel}`);
          listened.add(channel);
        }
        if (gapOwed) {
          gapOwed = false;
          for (const set of subscribers.values()) for (const subscriber of set) if (subscriber.listening) safely(subscriber.onGap);
        }
        return listened;
      } catch (error) {
        lost(next);
        throw error;
      }
    })();
    return ready;
  };

  return async (channel, onMessage, onGap = () => {}) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
    const subscriber: Subscriber = { onMessage, onGap, listening: false };
    const set = subscribers.get(channel) ?? new Set();
    subscribers.set(channel, set.add(subscriber));
    const on = client ?? (connect(), client!);
    try {
      const listened = await ready!;
      if (!listened.has(channel)) {
        await on.query(`LISTEN ${channel}`);
        listened.add(channel);
      }
    } catch {
      // Not reachable now: `lost` keeps trying in the background (readers poll meanwhile), and
      // calls onGap when it is listening.
      lost(on);
      subscriber.listening = true;
      return stop;
    }
    subscriber.listening = true;
    safely(onGap);
    return stop;

    async function stop() {
      if (!set.delete(subscriber) || set.size > 0) return;
      subscribers.delete(channel);
      const open = client;
      if (subscribers.size === 0) {
        clearTimeout(retry);
        retry = undefined;
        client = null;
        ready = null;
        await open?.end().catch(() => {});
      } else if (open && ready) {
        const listened = await ready.catch(() => new Set<string>());
        // Someone listened on it again meanwhile: keep it.
        if (subscribers.has(channel) || open !== client) return;
        listened.delete(channel);
        await open.query(`UNLISTEN ${channel}`).catch(() => {});
      }
    }
  };
}

/** How long a transaction waits for a connection before it fails with SERVICE_UNAVAILABLE (DATABASE_BUSY). */
const TRANSACTION_MAX_WAIT_MS = 10_000;

export async function openDatabase(options: OpenOptions): Promise<Database> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      // A database that can't be reached fails the request quickly (SERVICE_UNAVAILABLE), so a
      // caller retries instead of hanging on a connection that won't come.
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      // Dead peers (a host gone, a cut link) are noticed by the kernel, not only at the next query.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      // Every session of the service's pool: a runaway statement ends with an error, not a hung connection.
      ...(options.statementTimeoutMs ? { options: `-c statement_timeout=${options.statementTimeoutMs}` } : {}),
    });
    // An idle connection dropped by the server must not crash the process; the pool replaces it.
    pool.on("error", () => {});
    // Nor may a checked-out one: between two queries of a transaction (or after pool.query's
    // one-shot listener is gone) a terminated backend's FATAL message arrives as an 'error'
    // event, which without a listener is an uncaught exception. The query in flight still gets
    // the error, and the pool drops the dead connection when it is released.
    const opened = new Map<pg.PoolClient, number>();
    const inUse = new Set<pg.PoolClient>();
    const doomed = new Set<pg.PoolClient>();
    // Longer than any statement may run (statement_timeout), with room for a transaction's few.
    const inUseGraceMs = Math.max(options.statementTimeoutMs ?? 0, 5_000) + 5_000;
    pool.on("connect", (connection) => {
      connection.on("error", () => {});
      opened.set(connection, Date.now());
    });
    pool.on("acquire", (connection) => inUse.add(connection));
    pool.on("release", (_error, connection) => {
      inUse.delete(connection);
      // Doomed while in use (see discardConnectionsOpenedBefore): closed once given back.
      if (doomed.delete(connection)) setImmediate(() => socketOf(connection)?.destroy());
    });
    pool.on("remove", (connection) => {
      opened.delete(connection);
      inUse.delete(connection);
      doomed.delete(connection);
    });
    const prisma = new PrismaClient({
      adapter: new PrismaPg(pool),
      log: [{ emit: "event", level: "query" }],
      errorFormat: "minimal",
      // A burst of writes to one organization queues for its lock, each holding a connection: a
      // transaction waits for one up to this long (Prisma's default, 2 s, failed bursts of 200)
      // instead of failing; REQUEST_TIMEOUT_MS still bounds the request.
      transactionOptions: { maxWait: TRANSACTION_MAX_WAIT_MS },
    });
    const { record, ...statements } = watchStatements(prisma, options.traceSql);
    const max = options.poolSize ?? 10;
    return {
      kind: "postgresql",
      location: redactUrl(options.databaseUrl),
      prisma,
      async query<Row>(sql: string, params: readonly unknown[] = []) {
        const started = performance.now();
        const result = await pool.query({ text: sql, values: params as unknown[], types: LEAN_TYPES });
        record(sql, performance.now() - started);
        return result.rows as Row[];
      },
      sqlRunner: () => pgRunner(pool),
      async ping(timeoutMs = 1_000) {
        // On a connection of its own, not the pool's: a busy pool (every connection in use) is
        // not an outage, and a new connection is what proves the server can be reached now.
        // Bounded by timeoutMs both to connect and to answer, so no probe outlives its verdict.
        const probe = new pg.Client({ connectionString: options.databaseUrl, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
        probe.on("error", () => {});
        try {
          await probe.connect();
          await probe.query("SELECT 1");
        } finally {
          void probe.end().catch(() => {});
          // A silent peer never completes the goodbye: don't keep its socket.
          setTimeout(() => socketOf(probe)?.destroy(), 1_000).unref();
        }
      },
      ...statements,
      poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max }),
      listen: postgresListener(options.databaseUrl, options.connectTimeoutMs ?? 10_000),
      discardConnectionsOpenedBefore(time) {
        let count = 0;
        for (const [connection, at] of opened) {
          if (at >= time) continue;
          count++;
          // An idle one closes now (the pool replaces it). One in use may finish its work first;
          // if it is still busy after the grace period, it is waiting on a peer that is gone.
          if (inUse.has(connection)) {
            doomed.add(connection);
            setTimeout(() => doomed.has(connection) && socketOf(connection)?.destroy(), inUseGraceMs).unref();
          } else {
            socketOf(connection)?.destroy();
          }
        }
        return count;
      },
      async close() {
        await prisma.$disconnect();
        await pool.end();
      },
    };
  }

  const { PrismaPGlite } = await embeddedModules();
  const dataPath = options.inMemory ? undefined : path.join(options.dataDir, "pgdata");
  const unlock = options.inMemory ? () => {} : lockDataDir(options.dataDir);
  let pglite: PGlite;
  try {
    pglite = await createPGlite(dataPath, options.inMemory ? options.template : undefined);
  } catch (error) {
    unlock();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite), log: [{ emit: "event", level: "query" }], errorFormat: "minimal" });
  const { record: _counted, ...statements } = watchStatements(prisma, options.traceSql);
  const runner = pgliteRunner(pglite);
  return {
    kind: "embedded",
    location: dataPath ?? "memory",
    prisma,
    // Through Prisma (which counts it): PGlite has one session, which Prisma's transactions hold.
    query: queryThroughPrisma(prisma),
    sqlRunner: async () => runner,
    async ping() {
      await pglite.query("SELECT 1");
    },
    ...statements,
    poolStats: () => null,
    discardConnectionsOpenedBefore: () => 0,
    async listen(channel, onMessage, onGap) {
      // PGlite delivers the notifications of a committed transaction after the statement that committed it.
      const stop = await pglite.listen(channel, onMessage);
      onGap?.();
      return stop;
    },
    async close() {
      await prisma.$disconnect();
      await pglite.close();
      unlock();
    },
  };
}
