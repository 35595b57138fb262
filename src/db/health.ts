// Whether requests may use the database now, for /readyz and for failing fast: a database that
// can't be reached, or whose schema is behind the code's migrations, answers 503 at once
// instead of letting every request wait for a connection that won't come.
import type { Database } from "./client.js";

export interface HealthProblem {
  status: "unavailable" | "migrations_pending";
  message: string;
  pending?: string[];
}

export interface DatabaseHealth {
  /** null when requests may use the database; otherwise why they may not. */
  problem(): HealthProblem | null;
  /** Pings the database now (bounded by the ping timeout) and returns the resulting problem. */
  check(): Promise<HealthProblem | null>;
  /** A request failed because the database could not be reached: ping, and if that fails too, fail fast until a ping answers. */
  reportUnavailable(error: unknown): void;
  /** The schema is behind: not ready until `pending()` returns no migration (checked every few seconds). */
  waitForMigrations(pending: string[], recheck: () => Promise<string[]>): void;
  close(): void;
}

export interface HealthOptions {
  /** A ping that takes longer counts as a failure. */
  pingTimeoutMs?: number;
  /** How often an unavailable database is pinged until it answers. */
  retryIntervalMs?: number;
  migrationRecheckMs?: number;
  onChange?: (problem: HealthProblem | null, cause?: unknown) => void;
}

// Prisma's own codes for the same: can't reach (P1001), timed out (P1002, P1008), closed (P1017), pool timeout (P2024).
const UNAVAILABLE_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);
// SQLSTATE: connection exceptions (08…), the server shutting down or a backend killed (57P01-3),
// too many connections (53300), and the server starting up (57P03).
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-3]|53300)$/;
// A driver adapter's own error (DriverAdapterError), thrown as is when a transaction's BEGIN,
// COMMIT or ROLLBACK meets a dead connection: its cause names the kind, with no code or message.
const UNAVAILABLE_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection timeout|Client has encountered a connection error|Connection ended unexpectedly|Query read timeout|terminating connection due to administrator command|server closed the connection unexpectedly|the database system is (starting up|shutting down|in recovery mode)|Can't reach database server|Server has closed the connection|Cannot use a pool after calling end/;

interface ErrorLike {
  code?: unknown;
  kind?: unknown;
  message?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: unknown };
  originalCode?: unknown;
  originalError?: unknown;
}

/** Whether `test` holds for the error or for one it wraps (its cause, Prisma's driver adapter error, the original error), a few levels down. */
function anyCause(error: unknown, test: (value: ErrorLike) => boolean, depth = 0): boolean {
  if (!error || typeof error !== "object" || depth > 5) return false;
  const value = error as ErrorLike;
  return test(value) || [value.cause, value.meta?.driverAdapterError, value.originalError].some((inner) => anyCause(inner, test, depth + 1));
}

/** True when the error says the database could not be reached (retriable), not that the query was wrong. */
export const isDatabaseUnavailable = (error: unknown): boolean =>
  anyCause(
    error,
    (value) =>
      [value.code, value.originalCode].some((code) => typeof code === "string" && (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) ||
      (typeof value.kind === "string" && UNAVAILABLE_KINDS.has(value.kind)) ||
      (typeof value.message === "string" && UNAVAILABLE_MESSAGE.test(value.message)),
  );

// pg-pool's words for a request that waited DATABASE_CONNECT_TIMEOUT_MS in its queue: every
// connection in use (a burst), or still connecting — so in an outage under load most requests
// say "busy"; the connections being made fail with a connection timeout, which is an outage and
// starts failing fast. Prisma's when a transaction's maxWait passed.
const BUSY_MESSAGE = /^timeout exceeded when trying to connect$|Unable to start a transaction in the given time/;
// Prisma's when a transaction outlived its timeout and was rolled back: under load, waiting for
// an organization's lock; otherwise too much work in one transaction (a bug worth an error log).
const EXPIRED_MESSAGE = /cannot be executed on an expired transaction/;

const saying = (pattern: RegExp) => (value: ErrorLike) => typeof value.message === "string" && pattern.test(value.message);

/** True when every connection was busy for longer than the caller may wait (a burst): retriable, and no outage. */
export const isDatabaseBusy = (error: unknown): boolean => anyCause(error, saying(BUSY_MESSAGE));

/** True when a transaction ran past its timeout and was rolled back (nothing of it stored): retriable. */
export const isTransactionExpired = (error: unknown): boolean => anyCause(error, saying(EXPIRED_MESSAGE));

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the database did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function createDatabaseHealth(db: Pick<Database, "ping" | "kind" | "discardConnectionsOpenedBefore">, options: HealthOptions = {}): DatabaseHealth {
  // The embedded database can't be unreachable, only busy: its one connection answers a ping
  // after the statements queued before it, so only a long wait counts as a failure there.
  const pingTimeoutMs = options.pingTimeoutMs ?? (db.kind === "embedded" ? 10_000 : 1_000);
  const retryIntervalMs = options.retryIntervalMs ?? 500;
  const migrationRecheckMs = options.migrationRecheckMs ?? 5_000;
  /** A ping answered this recently is answer enough: a flood of /readyz opens no connection each. */
  const freshForMs = 250;
  let unavailable: HealthProblem | null = null;
  let migrations: HealthProblem | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let migrationTimer: NodeJS.Timeout | null = null;
  let closed = false;
  let inFlight: Promise<void> | null = null;
  let lastPingAt = 0;
  let downSince = 0;

  const problem = () => unavailable ?? migrations;
  const setUnavailable = (next: HealthProblem | null, cause?: unknown) => {
    const changed = (next === null) !== (unavailable === null);
    if (changed && next) downSince = Date.now();
    // Back: connections from before the outage may be dead without knowing it; new ones replace them.
    if (changed && !next) db.discardConnectionsOpenedBefore(downSince);
    unavailable = next;
    if (changed) options.onChange?.(problem(), cause);
    if (next && !retryTimer && !closed) scheduleRetry();
  };

  // One ping at a time, shared by everyone asking (readyz, a failed request, the retry timer):
  // results can't arrive out of order, and callers can't multiply connections.
  const ping = (): Promise<void> => {
    if (inFlight) return inFlight;
    if (Date.now() - lastPingAt < freshForMs) return Promise.resolve();
    inFlight = withTimeout(db.ping(pingTimeoutMs), pingTimeoutMs + 100)
      .then(
        () => setUnavailable(null),
        // The public message names no host, address or user; the cause goes to the log (onChange).
        (error: unknown) => setUnavailable({ status: "unavailable", message: "The database can't be reached" }, error),
      )
      .finally(() => {
        lastPingAt = Date.now();
        inFlight = null;
      });
    return inFlight;
  };

  function scheduleRetry() {
    retryTimer = setTimeout(() => {
      void ping().finally(() => {
        retryTimer = null;
        if (unavailable && !closed) scheduleRetry();
      });
    }, retryIntervalMs);
    retryTimer.unref();
  }

  return {
    problem,
    async check() {
      await ping();
      return problem();
    },
    reportUnavailable() {
      // One dropped connection (a backend terminated, a pool connection gone stale) is not an
      // outage: confirm with a ping before every request is failed fast.
      if (!unavailable) void ping();
    },
    waitForMigrations(pending, recheck) {
      if (pending.length === 0) return;
      const set = (names: string[]) => {
        migrations = {
          status: "migrations_pending",
          message: "The database is behind this version's migrations: run `npm run db:migrate` (or restart with MIGRATE_ON_START=1)",
          pending: names,
        };
      };
      set(pending);
      options.onChange?.(problem());
      const again = () => {
        migrationTimer = setTimeout(async () => {
          try {
            const still = await recheck();
            if (still.length === 0) {
              migrations = null;
              options.onChange?.(problem());
              return;
            }
            set(still);
          } catch {
            // the database itself is down: the ping reports that; look again later
          }
          if (!closed) again();
        }, migrationRecheckMs);
        migrationTimer.unref();
      };
      again();
    },
    close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (migrationTimer) clearTimeout(migrationTimer);
    },
  };
}
