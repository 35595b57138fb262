// Process entry: read config, open the database, migrate (always for the embedded database),
// seed the demo on a fresh embedded database, listen, and shut down gracefully.
import http from "node:http";
import { ConfigError, loadConfig } from "./config.js";
import { openDatabase, type Database } from "./db/client.js";
import { DataDirInUseError } from "./db/embedded-lock.js";
import { applyMigrations, MigrationError, pendingMigrations } from "./db/migrate.js";
import { DEMO_OWNER_EMAIL, seedDemo } from "./db/seed.js";
import { createApiToken } from "./domain/api-tokens.js";
import { purgeExpiredIdempotencyKeys } from "./domain/idempotency.js";
import { findOrCreateActiveUser } from "./domain/users.js";
import { createLogger, type Logger } from "./logger.js";
import { createApp } from "./server.js";

/** Applies pending migrations (or, without MIGRATE_ON_START, checks there are none); returns what stops the start. */
async function migrateOrCheck(
  db: Database,
  migrate: boolean,
  logger: Logger,
): Promise<{ message: string; fields?: Record<string, unknown> } | null> {
  const sql = await db.sqlRunner();
  try {
    if (migrate) {
      const result = await applyMigrations(sql, { log: (message, fields) => logger.info(fields ?? {}, message) });
      logger.info({ applied: result.applied, alreadyApplied: result.alreadyApplied }, "migrations up to date");
      return null;
    }
    const pending = await pendingMigrations(sql);
    if (pending.length === 0) return null;
    return {
      message: "the database is missing migrations: run `npm run db:migrate` (or start with MIGRATE_ON_START=1)",
      fields: { pending },
    };
  } catch (error) {
    if (error instanceof MigrationError) return { message: error.message };
    throw error;
  } finally {
    sql.release();
  }
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Configuration error: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);

  let db;
  try {
    db = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      poolSize: config.databasePoolSize,
      statementTimeoutMs: config.limits.statementTimeoutMs,
    });
  } catch (error) {
    if (error instanceof DataDirInUseError) {
      logger.fatal(error.message);
      process.exit(1);
    }
    throw error;
  }
  logger.info({ database: db.kind, location: db.location }, "database opened");

  const problem = await migrateOrCheck(db, config.migrateOnStart, logger);
  if (problem) {
    logger.fatal(problem.fields ?? {}, problem.message);
    await db.close();
    process.exit(1);
  }

  if (config.seedDemo && (await db.prisma.user.count()) === 0) {
    logger.info("empty database: seeding the demo dataset");
    await seedDemo(db.prisma, (message) => logger.info(message));
    const demo = await findOrCreateActiveUser(db.prisma, DEMO_OWNER_EMAIL);
    const { token } = await createApiToken(db.prisma, demo.id, { name: "demo token (first start)" });
    logger.info(
      { email: DEMO_OWNER_EMAIL, graphiqlHeaders: { Authorization: `Bearer ${token}` } },
      `demo owner token for ${DEMO_OWNER_EMAIL}; paste into GraphiQL's Headers tab: {"Authorization": "Bearer ${token}"}`,
    );
  }

  await db.limitStatements();

  // Idempotency keys live 24 hours: purge expired ones now and every hour.
  const purge = () =>
    purgeExpiredIdempotencyKeys(db.prisma)
      .then((count) => count > 0 && logger.info({ count }, "purged expired idempotency keys"))
      .catch((error: unknown) => logger.warn({ err: error }, "could not purge expired idempotency keys"));
  void purge();
  const purgeTimer = setInterval(purge, 60 * 60_000);
  purgeTimer.unref();

  let shuttingDown = false;
  let app;
  try {
    app = createApp({ config, db, logger, isShuttingDown: () => shuttingDown });
  } catch (error) {
    // e.g. a trusted-documents manifest that can't be read: say which setting, not a stack.
    if (!(error instanceof ConfigError)) throw error;
    logger.fatal(`Configuration error: ${error.message}`);
    await db.close();
    process.exit(1);
  }
  const server = http.createServer(app);
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const shownHost = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  logger.info({ port, graphiql: config.graphiql }, `Membership Graph listening on http://${shownHost}:${port}/graphql`);

  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    clearInterval(purgeTimer);
    logger.info({ signal }, "shutting down: no new connections, finishing in-flight requests");
    const forced = setTimeout(() => {
      logger.warn({ timeoutMs: config.shutdownTimeoutMs }, "in-flight requests did not finish in time; closing them");
      server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    forced.unref();
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    clearTimeout(forced);
    await db.close();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
