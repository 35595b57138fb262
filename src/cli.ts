// Operator commands: npm run cli -- <migrate|seed|create-token|grant-operator|revoke-operator|verify-email|verify-phone|backup|restore|webhooks-worker> [options]
// Logs go to stderr; stdout carries only the command's result (the token for create-token, a JSON
// summary for backup and restore).
import http from "node:http";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./config.js";
import { BackupError, backupEmbedded, postgresBackupAdvice, restoreEmbedded } from "./db/backup.js";
import { databaseOptions, openDatabase, type Database } from "./db/client.js";
import { DataDirInUseError } from "./db/embedded-lock.js";
import { applyMigrations, MigrationError, pendingMigrations, resolveRolledBack } from "./db/migrate.js";
import { seedDemo } from "./domain/seed.js";
import { createApiToken } from "./domain/api-tokens.js";
import { AppError } from "./core/errors.js";
import { findOrCreateActiveUser } from "./domain/users.js";
import { setOperator, verifyEmailByOperator, verifyPhoneByOperator } from "./domain/operators.js";
import { createLogger } from "./logger.js";
import { useEmbeddedWebhookKey } from "./domain/webhook-secrets.js";
import { webhookSettings } from "./domain/webhooks.js";
import { createMetrics, metricsServer } from "./observability/metrics.js";
import { createWebhookWorker, webhookQueue } from "./webhooks/worker.js";

const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
  migrate [--resolve-rolled-back NAME]   apply pending migrations (or mark a failed one as rolled back)
  seed                                   load the demo dataset (idempotent)
  create-token --email EMAIL [--name NAME] [--expires-in-days DAYS]
                                         create the user if needed and print a new access token
  grant-operator --email EMAIL           make the user a platform operator
  revoke-operator --email EMAIL          take the operator role away
  verify-email --email ADDRESS [--user PRIMARY_EMAIL]
                                         mark an address verified (for the user holding it, or --user)
  verify-phone --phone +E164 --user PRIMARY_EMAIL
                                         mark a phone number verified for that user
  backup --out FILE [--force]            write a snapshot of the embedded database to FILE (a .tar.gz);
                                         --force replaces an existing FILE
  webhooks-worker                        deliver webhooks from this process alone (until SIGTERM or SIGINT);
                                         run servers with WEBHOOK_WORKER=false to leave delivery to it;
                                         with METRICS_PORT it serves its own /metrics there
  restore --from FILE [--force]          replace the embedded database with a backup; --force replaces
                                         an existing database, which is kept as pgdata.before-restore-<time>.
                                         Migrations the backup lacks are applied on the next start

The database is DATABASE_URL, or the embedded one in DATA_DIR (default ./.data), which must not
be in use by a running server. backup and restore are offline only: PGlite can't be read by a second
process while a server has it open, so stop the server first. With DATABASE_URL they refuse and
name the pg_dump / pg_restore commands to use instead.`;

class UsageError extends Error {}

async function withDatabase<T>(run: (db: Database) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const db = await openDatabase(databaseOptions(config, "cli"));
  try {
    return await run(db);
  } finally {
    await db.close();
  }
}

async function ensureMigrated(db: Database, log: (message: string) => void): Promise<void> {
  const sql = await db.sqlRunner();
  try {
    const pending = await pendingMigrations(sql);
    if (pending.length === 0) return;
    if (db.kind === "embedded") {
      await applyMigrations(sql, { log });
    } else {
      throw new MigrationError(`The database is missing migrations (${pending.join(", ")}): run \`npm run db:migrate\` first`);
    }
  } finally {
    sql.release();
  }
}

async function run(argv: string[]): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel === "silent" ? "silent" : config.logLevel, "stderr");
  const log = (message: string, fields: Record<string, unknown> = {}) => logger.info(fields, message);
  const [command, ...rest] = argv;

  switch (command) {
    case "migrate": {
      const { values } = parseArgs({ args: rest, options: { "resolve-rolled-back": { type: "string" } } });
      await withDatabase(async (db) => {
        const sql = await db.sqlRunner();
        try {
          if (values["resolve-rolled-back"]) {
            await resolveRolledBack(sql, values["resolve-rolled-back"]);
            log("marked as rolled back", { migration: values["resolve-rolled-back"] });
            return;
          }
          const result = await applyMigrations(sql, { log });
          log(result.applied.length ? `applied ${result.applied.length} migration(s)` : "no pending migrations", {
            applied: result.applied,
            alreadyApplied: result.alreadyApplied,
          });
        } finally {
          sql.release();
        }
      });
      return;
    }
    case "seed": {
      parseArgs({ args: rest, options: {} });
      await withDatabase(async (db) => {
        await ensureMigrated(db, log);
        const result = await seedDemo(db.prisma, log);
        log(result.created ? "demo data loaded" : "demo data already present", { ...result });
      });
      return;
    }
    case "create-token": {
      const { values } = parseArgs({
        args: rest,
        options: { email: { type: "string" }, name: { type: "string" }, "expires-in-days": { type: "string" } },
      });
      if (!values.email) throw new UsageError("create-token needs --email");
      let expiresInDays: number | undefined;
      if (values["expires-in-days"] !== undefined) {
        expiresInDays = Number(values["expires-in-days"]);
        if (!Number.isInteger(expiresInDays)) throw new UsageError("--expires-in-days must be a whole number");
      }
      const token = await withDatabase(async (db) => {
        await ensureMigrated(db, log);
        const user = await findOrCreateActiveUser(db.prisma, values.email!);
        if (user.status === "SUSPENDED") throw new UsageError(`${user.email} is suspended; no token created`);
        const created = await createApiToken(db.prisma, user.id, { name: values.name ?? "cli token", expiresInDays });
        log("token created", { email: user.email, tokenId: created.apiToken.id, expiresAt: created.apiToken.expiresAt });
        return created.token;
      });
      process.stdout.write(`${token}\n`);
      return;
    }
    case "grant-operator":
    case "revoke-operator": {
      const { values } = parseArgs({ args: rest, options: { email: { type: "string" } } });
      if (!values.email) throw new UsageError(`${command} needs --email`);
      const granted = command === "grant-operator";
      await withDatabase(async (db) => {
        await ensureMigrated(db, log);
        const user = await setOperator(db.prisma, values.email!, granted);
        log(granted ? "operator role granted" : "operator role revoked", { email: user.email, userId: user.id });
      });
      return;
    }
    case "verify-email": {
      const { values } = parseArgs({ args: rest, options: { email: { type: "string" }, user: { type: "string" } } });
      if (!values.email) throw new UsageError("verify-email needs --email");
      await withDatabase(async (db) => {
        await ensureMigrated(db, log);
        const user = await verifyEmailByOperator(db.prisma, values.email!, values.user);
        log("email verified", { email: values.email, user: user.email });
      });
      return;
    }
    case "verify-phone": {
      const { values } = parseArgs({ args: rest, options: { phone: { type: "string" }, user: { type: "string" } } });
      if (!values.phone || !values.user) throw new UsageError("verify-phone needs --phone and --user");
      await withDatabase(async (db) => {
        await ensureMigrated(db, log);
        const user = await verifyPhoneByOperator(db.prisma, values.phone!, values.user!);
        log("phone verified", { phone: values.phone, user: user.email });
      });
      return;
    }
    case "backup": {
      const { values } = parseArgs({ args: rest, options: { out: { type: "string" }, force: { type: "boolean" } } });
      if (config.databaseUrl) throw new BackupError(postgresBackupAdvice("backup"));
      if (!values.out) throw new UsageError("backup needs --out FILE");
      const summary = await backupEmbedded({ dataDir: config.dataDir, out: values.out, force: values.force, log });
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      return;
    }
    case "restore": {
      const { values } = parseArgs({ args: rest, options: { from: { type: "string" }, force: { type: "boolean" } } });
      if (config.databaseUrl) throw new BackupError(postgresBackupAdvice("restore"));
      if (!values.from) throw new UsageError("restore needs --from FILE");
      const summary = await restoreEmbedded({ dataDir: config.dataDir, from: values.from, force: values.force, log });
      if (summary.previous) log(`the replaced database is kept in ${summary.previous}; delete it once you no longer need it`);
      if (summary.pendingMigrations.length) log("the backup predates some migrations; the next start (or `cli migrate`) applies them", { pending: summary.pendingMigrations });
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      return;
    }
    case "webhooks-worker": {
      parseArgs({ args: rest, options: {} });
      await withDatabase(async (db) => {
        await ensureMigrated(db, log);
        useEmbeddedWebhookKey(config, db.kind);
        const worker = createWebhookWorker(db, { config: config.webhooks, secrets: webhookSettings(config.webhooks).secrets, logger });
        worker.start();
        log("delivering webhooks; stop with SIGTERM or Ctrl-C", { concurrency: config.webhooks.concurrency });
        // With METRICS_PORT: this worker's attempts and the shared queue, at GET /metrics on that port.
        const metrics = config.metrics.enabled && config.metrics.port !== null ? createMetrics(db) : null;
        let listener: http.Server | null = null;
        if (metrics) {
          metrics.observeWebhooks({ onAttempt: worker.stats.onAttempt, queue: () => webhookQueue(db) });
          listener = metricsServer(metrics);
          await new Promise<void>((resolve, reject) => listener!.once("error", reject).listen(config.metrics.port!, config.metrics.host, resolve));
          const address = listener.address();
          log("metrics served at /metrics", { metricsPort: typeof address === "object" && address ? address.port : config.metrics.port });
        }
        const signal = await new Promise<string>((resolve) => {
          process.once("SIGTERM", () => resolve("SIGTERM"));
          process.once("SIGINT", () => resolve("SIGINT"));
        });
        log("stopping: finishing the attempts in flight", { signal });
        await worker.close();
        listener?.close();
        metrics?.close();
      });
      return;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      if (command === undefined) process.exitCode = 2;
      return;
    default:
      throw new UsageError(`Unknown command "${command}"`);
  }
}

run(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (error instanceof ConfigError || error instanceof DataDirInUseError || error instanceof BackupError || error instanceof MigrationError || error instanceof AppError) {
    console.error(`Error: ${error.message}`);
    process.exit(1);
  }
  if (error instanceof TypeError && "code" in error && String((error as { code: unknown }).code).startsWith("ERR_PARSE_ARGS")) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(error);
  process.exit(1);
});
