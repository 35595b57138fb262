// Process entry: read config, open the database, migrate (always for the embedded database),
// seed the demo on a fresh embedded database, listen, and shut down gracefully.
import http from "node:http";
import { ConfigError, configWarnings, loadConfig } from "./config.js";
import { databaseOptions, openDatabase, type Database } from "./db/client.js";
import { DataDirInUseError } from "./db/embedded-lock.js";
import { createDatabaseHealth } from "./db/health.js";
import { applyMigrations, MigrationError, pendingMigrations } from "./db/migrate.js";
import { DEMO_OWNER_EMAIL, seedDemo } from "./domain/seed.js";
import { createApiToken } from "./domain/api-tokens.js";
import { purgeExpiredIdempotencyKeys } from "./domain/idempotency.js";
import { pruneEvents, pruneWebhookDeliveries } from "./domain/events.js";
import { createEventHub } from "./graphql/event-streams.js";
import { useEmbeddedWebhookKey } from "./domain/webhook-secrets.js";
import { webhookSettings } from "./domain/webhooks.js";
import { createWebhookWorker } from "./webhooks/worker.js";
import { attachWebSockets } from "./http/websocket.js";
import { findOrCreateActiveUser } from "./domain/users.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetrics, metricsServer } from "./observability/metrics.js";
import { startTracing } from "./observability/tracing.js";
import { logHealthChange } from "./http/health.js";
import { createApp } from "./server.js";

/**
 * Applies pending migrations (MIGRATE_ON_START, always for the embedded database) or lists the
 * ones missing; throws MigrationError when the history can't be trusted (edited, failed).
 */
async function migrateOrCheck(db: Database, migrate: boolean, logger: Logger): Promise<string[]> {
  const sql = await db.sqlRunner();
  try {
    if (migrate) {
      const result = await applyMigrations(sql, { log: (message, fields) => logger.info(fields ?? {}, message) });
      logger.info({ applied: result.applied, alreadyApplied: result.alreadyApplied }, "migrations up to date");
      return [];
    }
    return await pendingMigrations(sql);
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
  for (const warning of configWarnings(config)) logger.warn(warning);
  // Before the database opens, so Prisma's instrumentation is in place for every query.
  const tracing = startTracing(config.tracing);
  if (tracing) logger.info({ tracesUrl: config.tracing.tracesUrl, serviceName: config.tracing.serviceName }, "tracing on: sending spans over OTLP/HTTP");

  let db;
  try {
    db = await openDatabase(databaseOptions(config, "server"));
  } catch (error) {
    if (error instanceof DataDirInUseError) {
      logger.fatal(error.message);
      process.exit(1);
    }
    throw error;
  }
  logger.info({ database: db.kind, location: db.location }, "database opened");

  const health = createDatabaseHealth(db, { onChange: logHealthChange(logger) });
  let pending: string[];
  try {
    pending = await migrateOrCheck(db, config.migrateOnStart, logger);
  } catch (error) {
    if (!(error instanceof MigrationError)) throw error;
    logger.fatal(error.message);
    await db.close();
    process.exit(1);
  }
  // Behind on migrations (and not told to apply them): serve, but not ready, and say why, until
  // someone runs `npm run db:migrate`; then ready without a restart.
  health.waitForMigrations(pending, () => migrateOrCheck(db, false, logger));

  if (pending.length === 0 && config.seedDemo && (await db.prisma.user.count()) === 0) {
    logger.info("empty database: seeding the demo dataset");
    await seedDemo(db.prisma, (message) => logger.info(message));
    const demo = await findOrCreateActiveUser(db.prisma, DEMO_OWNER_EMAIL);
    const { token } = await createApiToken(db.prisma, demo.id, { name: "demo token (first start)" });
    logger.info(
      { email: DEMO_OWNER_EMAIL, graphiqlHeaders: { Authorization: `Bearer ${token}` } },
      `demo owner token for ${DEMO_OWNER_EMAIL}; paste into GraphiQL's Headers tab: {"Authorization": "Bearer ${token}"}`,
    );
  }

  // Idempotency keys live 24 hours, change-feed events and the webhook log EVENT_RETENTION_DAYS: purge them now and every hour.
  const purge = async () => {
    await purgeExpiredIdempotencyKeys(db.prisma)
      .then((count) => count > 0 && logger.info({ count }, "purged expired idempotency keys"))
      .catch((error: unknown) => logger.warn({ err: error }, "could not purge expired idempotency keys"));
    await pruneEvents(db.prisma, config.eventRetentionDays)
      .then((count) => count > 0 && logger.info({ count, retentionDays: config.eventRetentionDays }, "pruned change-feed events past retention"))
      .catch((error: unknown) => logger.warn({ err: error }, "could not prune change-feed events"));
    await pruneWebhookDeliveries(db.prisma, config.eventRetentionDays)
      .then((count) => count > 0 && logger.info({ count, retentionDays: config.eventRetentionDays }, "pruned webhook deliveries past retention"))
      .catch((error: unknown) => logger.warn({ err: error }, "could not prune webhook deliveries"));
  };
  void purge();
  const purgeTimer = setInterval(purge, 60 * 60_000);
  purgeTimer.unref();

  let shuttingDown = false;
  const eventHub = createEventHub(db, logger);
  if (useEmbeddedWebhookKey(config, db.kind)) logger.info({ file: `${config.dataDir}/webhook-secret.key` }, "webhook signing secrets are encrypted with the embedded database's own key (set WEBHOOK_SECRET_KEY to use yours)");
  // Delivery needs the tables: an instance behind on migrations delivers once restarted after them.
  const webhookWorker =
    config.webhooks.worker && pending.length === 0 ? createWebhookWorker(db, { config: config.webhooks, secrets: webhookSettings(config.webhooks).secrets, logger }) : null;
  if (config.webhooks.worker && pending.length > 0) logger.warn("webhook deliveries wait for the pending migrations: restart after `npm run db:migrate`");
  const metrics = config.metrics.enabled ? createMetrics(db) : null;
  let app;
  try {
    app = createApp({ config, db, logger, isShuttingDown: () => shuttingDown, metrics, health, eventHub, webhookWorker });
  } catch (error) {
    // e.g. a trusted-documents manifest that can't be read: say which setting, not a stack.
    if (!(error instanceof ConfigError)) throw error;
    logger.fatal(`Configuration error: ${error.message}`);
    await db.close();
    process.exit(1);
  }
  const server = http.createServer(app);
  server.keepAliveTimeout = 65_000;
  const websockets = attachWebSockets(server, (request, serverContext) => app.fetch(request, serverContext), logger, { maxPayload: config.limits.maxBodyBytes });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const shownHost = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  logger.info({ port, graphiql: config.graphiql }, `Membership Graph listening on http://${shownHost}:${port}/graphql`);
  webhookWorker?.start();

  let metricsListener: http.Server | null = null;
  if (metrics && config.metrics.port !== null) {
    metricsListener = metricsServer(metrics);
    await new Promise<void>((resolve, reject) => {
      metricsListener!.once("error", reject);
      metricsListener!.listen(config.metrics.port!, config.metrics.host, () => resolve());
    });
    const metricsAddress = metricsListener.address();
    logger.info({ metricsPort: typeof metricsAddress === "object" && metricsAddress ? metricsAddress.port : config.metrics.port }, "metrics served on their own port at /metrics");
  }

  // SIGTERM: /readyz answers 503 at once (on connections already open), the listener stops
  // accepting, requests in flight finish (at most SHUTDOWN_TIMEOUT_MS), then the pool closes.
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    const began = Date.now();
    clearInterval(purgeTimer);
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, "shutting down: no new connections, finishing in-flight requests");
    const forced = setTimeout(() => {
      logger.warn({ timeoutMs: config.shutdownTimeoutMs }, "in-flight requests did not finish in time; closing them");
      server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    forced.unref();
    // Subscriptions end first (their clients reconnect elsewhere with their last cursor), then sockets close.
    await eventHub.close();
    // Attempts in flight finish (at most WEBHOOK_TIMEOUT_MS); nothing new is claimed.
    await webhookWorker?.close();
    await websockets.close().catch((error: unknown) => logger.warn({ err: error }, "could not close websockets cleanly"));
    // The last resort: whatever hangs after the requests (a connection never given back, a
    // collector that doesn't answer), the process is gone before an orchestrator's grace ends.
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs + 5_000 }, "shutdown did not complete; exiting anyway");
      process.exit(1);
    }, config.shutdownTimeoutMs + 5_000);
    deadline.unref();
    // Keep-alive connections: closed as soon as they have no request running.
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    clearInterval(idle);
    clearTimeout(forced);
    metricsListener?.close();
    health.close();
    let clean = true;
    await db.close().catch((error: unknown) => {
      clean = false;
      logger.error({ err: error }, "could not close the database cleanly");
    });
    await tracing?.shutdown().catch((error: unknown) => logger.warn({ err: error }, "could not send the last spans"));
    logger.info({ durationMs: Date.now() - began }, "stopped");
    process.exit(clean ? 0 : 1);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
