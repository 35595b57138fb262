// Applies prisma/migrations the way `prisma migrate deploy` does, keeping Prisma's own
// bookkeeping table, so either tool can take over a database the other started.
// Prisma's migrate engine can't be downloaded on every machine; this needs nothing but SQL.
import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { SqlRunner } from "./sql.js";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));

/** Any fixed 64-bit number, shared by every instance of this service: the migration lock. */
const ADVISORY_LOCK_KEY = 72_707_369_001;

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

export function readMigrations(dir = MIGRATIONS_DIR): MigrationFile[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && fs.existsSync(path.join(dir, entry.name, "migration.sql")))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const bytes = fs.readFileSync(path.join(dir, name, "migration.sql"));
      return { name, sql: bytes.toString("utf8"), checksum: createHash("sha256").update(bytes).digest("hex") };
    });
}

const BOOKKEEPING_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
);`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

type Log = (message: string, fields?: Record<string, unknown>) => void;

/**
 * Applies every pending migration in name order, each in its own transaction.
 * Refuses to run when an applied migration's file changed (edited history) or when an
 * earlier attempt failed and was not marked as rolled back, as `prisma migrate deploy` does.
 */
export async function applyMigrations(
  sql: SqlRunner,
  options: { dir?: string; log?: Log } = {},
): Promise<MigrationResult> {
  const log: Log = options.log ?? (() => {});
  const files = readMigrations(options.dir);
  await sql.query("SELECT pg_advisory_lock($1)", [ADVISORY_LOCK_KEY]);
  try {
    await sql.exec(BOOKKEEPING_TABLE);
    const rows = await sql.query<AppliedRow>(
      `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at`,
    );
    const failed = rows.find((row) => row.finished_at === null && row.rolled_back_at === null);
    if (failed) {
      throw new MigrationError(
        `Migration ${failed.migration_name} failed earlier and the database may be half-migrated. ` +
          `Fix the cause (see the logs column of _prisma_migrations), then run ` +
          `\`npm run db:migrate -- --resolve-rolled-back ${failed.migration_name}\` and migrate again.`,
      );
    }
    const applied = new Map(rows.filter((row) => row.finished_at !== null).map((row) => [row.migration_name, row]));
    for (const file of files) {
      const row = applied.get(file.name);
      if (row && row.checksum !== file.checksum) {
        throw new MigrationError(
          `Migration ${file.name} was changed after it was applied to this database ` +
            `(checksum ${row.checksum.slice(0, 12)}… in the database, ${file.checksum.slice(0, 12)}… on disk). ` +
            `Restore the original file and put the change into a new migration.`,
        );
      }
    }
    const known = new Set(files.map((file) => file.name));
    for (const name of applied.keys()) {
      if (!known.has(name)) log("database has a migration this code does not know (newer code ran here?)", { migration: name });
    }

    const pending = files.filter((file) => !applied.has(file.name));
    for (const file of pending) {
      log("applying migration", { migration: file.name });
      const id = randomUUID();
      await sql.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)`,
        [id, file.checksum, file.name],
      );
      try {
        await sql.exec("BEGIN");
        await sql.exec(file.sql);
        await sql.query(`UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`, [id]);
        await sql.exec("COMMIT");
      } catch (error) {
        await sql.exec("ROLLBACK").catch(() => {});
        const message = error instanceof Error ? error.message : String(error);
        await sql.query(`UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1`, [id, message]);
        throw new MigrationError(`Migration ${file.name} failed: ${message}`);
      }
    }
    return { applied: pending.map((file) => file.name), alreadyApplied: files.length - pending.length };
  } finally {
    await sql.query("SELECT pg_advisory_unlock($1)", [ADVISORY_LOCK_KEY]).catch(() => {});
  }
}

/** Marks a failed migration as rolled back, like `prisma migrate resolve --rolled-back`. */
export async function resolveRolledBack(sql: SqlRunner, name: string): Promise<void> {
  const rows = await sql.query(
    `UPDATE "_prisma_migrations" SET rolled_back_at = now()
      WHERE migration_name = $1 AND finished_at IS NULL AND rolled_back_at IS NULL RETURNING id`,
    [name],
  );
  if (rows.length === 0) throw new MigrationError(`No failed migration named ${name} to mark as rolled back`);
}

/** Names of migrations on disk that the database has not applied. */
export async function pendingMigrations(sql: SqlRunner, dir?: string): Promise<string[]> {
  const files = readMigrations(dir);
  const exists = await sql.query<{ present: boolean }>(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS present`);
  if (!exists[0]?.present) return files.map((file) => file.name);
  const rows = await sql.query<{ migration_name: string }>(
    `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  );
  const done = new Set(rows.map((row) => row.migration_name));
  return files.filter((file) => !done.has(file.name)).map((file) => file.name);
}
