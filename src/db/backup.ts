// Backup and restore of the embedded database (DATA_DIR/pgdata), for `npm run cli -- backup|restore`.
// Both run offline: the folder belongs to one process at a time (embedded-lock.ts), so they take
// the same lock a server takes and refuse while one runs. A backup is PGlite's own dump of the data
// folder (dumpDataDir: a gzipped tar of PGDATA), so `tar tzf` can look into it and PGlite's
// loadDataDir can bring it back. With DATABASE_URL, PostgreSQL's pg_dump/pg_restore do this job.
import fs from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { PGlite } from "@electric-sql/pglite";
import { btree_gin } from "@electric-sql/pglite/contrib/btree_gin";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { createPGlite } from "./client.js";
import { DataDirInUseError, lockDataDir } from "./embedded-lock.js";
import { fsyncPath, fsyncTree } from "./fsync.js";
import { pendingMigrations } from "./migrate.js";
import { pgliteRunner } from "./sql.js";

export class BackupError extends Error {
  override name = "BackupError";
}

type Log = (message: string, fields?: Record<string, unknown>) => void;

export interface BackupOptions {
  /** DATA_DIR: the database is in its pgdata folder. */
  dataDir: string;
  /** The backup file to write. */
  out: string;
  /** Replace an existing file at `out`. */
  force?: boolean;
  log?: Log;
}

export interface RestoreOptions {
  dataDir: string;
  /** A file written by backupEmbedded. */
  from: string;
  /** Replace an existing database (kept as pgdata.before-restore-<timestamp>). */
  force?: boolean;
  log?: Log;
}

interface DatabaseSummary {
  migrationsApplied: number;
  lastMigration: string | null;
  counts: { organizations: number; users: number; members: number } | null;
}

export interface BackupSummary extends DatabaseSummary {
  file: string;
  bytes: number;
}

export interface RestoreSummary extends DatabaseSummary {
  file: string;
  dataDir: string;
  /** Where the replaced database was moved (null when there was none). */
  previous: string | null;
  /** Migrations of this version the backup lacks: the next start (or `cli migrate`) applies them. */
  pendingMigrations: string[];
}

/** Thrown by the CLI with DATABASE_URL set: a server database has better tools than ours. */
export function postgresBackupAdvice(command: "backup" | "restore"): string {
  return (
    `${command} works on the embedded database only, and DATABASE_URL is set. For PostgreSQL use its own tools:\n` +
    `  pg_dump --format=custom --file=membership.dump "$DATABASE_URL"\n` +
    `  pg_restore --clean --if-exists --no-owner --dbname="$DATABASE_URL" membership.dump`
  );
}

/** The lock, with the message saying why a backup can't just read alongside the server. */
function lockForOffline(dataDir: string, command: "backup" | "restore"): () => void {
  try {
    return lockDataDir(dataDir);
  } catch (error) {
    if (!(error instanceof DataDirInUseError)) throw error;
    // PGlite has no way for a second process to read a folder another one has open (no shared
    // memory, no server to connect to), and copying its files mid-write gives a torn copy.
    throw new DataDirInUseError(
      `${error.message} ${command === "backup" ? "Backup" : "Restore"} is offline only, as PGlite can't be opened by a second process: stop the server first, run ${command}, then start the server again.`,
    );
  }
}

function hasDatabase(pgdata: string): boolean {
  return fs.existsSync(path.join(pgdata, "PG_VERSION"));
}

async function summarize(pglite: PGlite): Promise<DatabaseSummary> {
  const present = async (table: string) =>
    (await pglite.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [`"${table}"`])).rows[0]?.present === true;
  let migrationsApplied = 0;
  let lastMigration: string | null = null;
  if (await present("_prisma_migrations")) {
    const rows = (
      await pglite.query<{ migration_name: string }>(
        `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name`,
      )
    ).rows;
    migrationsApplied = rows.length;
    lastMigration = rows.at(-1)?.migration_name ?? null;
  }
  let counts: DatabaseSummary["counts"] = null;
  if ((await present("Organization")) && (await present("User")) && (await present("Member"))) {
    const row = (
      await pglite.query<{ organizations: number; users: number; members: number }>(
        `SELECT (SELECT count(*) FROM "Organization")::int AS organizations,
                (SELECT count(*) FROM "User")::int AS users,
                (SELECT count(*) FROM "Member")::int AS members`,
      )
    ).rows[0]!;
    counts = { organizations: row.organizations, users: row.users, members: row.members };
  }
  return { migrationsApplied, lastMigration, counts };
}

/** A timestamp that sorts and is safe in a file name on every OS: 20250101T120000Z. */
function fileTimestamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/**
 * Writes a consistent snapshot of DATA_DIR/pgdata to options.out. Refuses while a server holds
 * the folder, and never leaves a half-written file at out: it writes beside it and renames.
 */
export async function backupEmbedded(options: BackupOptions): Promise<BackupSummary> {
  const log: Log = options.log ?? (() => {});
  const out = path.resolve(options.out);
  const pgdata = path.join(options.dataDir, "pgdata");
  // Checked before the (slow) dump, and again before the rename below.
  if (fs.existsSync(out)) {
    if (fs.statSync(out).isDirectory()) throw new BackupError(`--out ${out} is a folder; give a file name`);
    if (!options.force) throw new BackupError(`${out} already exists; pass --force to replace it`);
  }
  if (!fs.existsSync(path.dirname(out))) throw new BackupError(`The folder ${path.dirname(out)} does not exist`);
  if (!hasDatabase(pgdata)) throw new BackupError(`There is no embedded database in ${pgdata} to back up`);

  const unlock = lockForOffline(options.dataDir, "backup");
  let dump: Uint8Array;
  let summary: DatabaseSummary;
  try {
    log("opening the embedded database", { dataDir: pgdata });
    const pglite = await createPGlite(pgdata);
    try {
      // Holding the lock, this process is the only writer, so the counts and the dump describe
      // the same state. The checkpoint writes every change into the data files, so the restored
      // copy starts without replaying the write-ahead log.
      summary = await summarize(pglite);
      await pglite.exec("CHECKPOINT");
      log("dumping the data folder", { migrationsApplied: summary.migrationsApplied, ...summary.counts });
      dump = new Uint8Array(await (await pglite.dumpDataDir("gzip")).arrayBuffer());
    } finally {
      await pglite.close();
    }
  } finally {
    unlock();
  }

  const partial = `${out}.partial-${process.pid}`;
  try {
    const fd = fs.openSync(partial, "wx");
    try {
      fs.writeSync(fd, dump);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    // Someone may have created out during the dump; only --force may replace it.
    if (!options.force && fs.existsSync(out)) throw new BackupError(`${out} already exists; pass --force to replace it`);
    fs.renameSync(partial, out);
    fsyncPath(path.dirname(out));
  } catch (error) {
    fs.rmSync(partial, { force: true });
    throw error;
  }
  log("backup written", { file: out, bytes: dump.byteLength });
  return { file: out, bytes: dump.byteLength, ...summary };
}

/** The entries of a tar archive, or why the bytes are not one (a few checks, no extraction). */
function tarEntryNames(tar: Uint8Array): string[] {
  const names: string[] = [];
  const text = (from: number, to: number) => Buffer.from(tar.subarray(from, to)).toString("latin1").replace(/\0[\s\S]*$/, "");
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) return names; // the end-of-archive blocks
    // The header checksum: the sum of its bytes with the checksum field counted as spaces.
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
    const recorded = Number.parseInt(text(offset + 148, offset + 156).trim(), 8);
    if (recorded !== sum) throw new BackupError(names.length ? "the archive is damaged" : "it is not a tar archive");
    const size = Number.parseInt(text(offset + 124, offset + 136).trim() || "0", 8);
    const prefix = text(offset + 345, offset + 500);
    names.push((prefix ? `${prefix}/` : "") + text(offset, offset + 100));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new BackupError(names.length ? "the archive is cut short" : "it is not a tar archive");
}

/** The backup's tar bytes, checked to hold a PostgreSQL data folder; BackupError otherwise. */
function readBackup(file: string): Uint8Array<ArrayBuffer> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new BackupError(`Can't read ${file}: ${(error as Error).message}`);
  }
  try {
    // PGlite writes gzip; a plain tar (dumpDataDir("none")) is accepted too.
    let tar = bytes;
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      try {
        tar = gunzipSync(bytes);
      } catch (error) {
        throw new BackupError(`the gzip stream is damaged (${(error as Error).message})`);
      }
    }
    const names = tarEntryNames(tar).map((name) => name.replace(/^\/+/, ""));
    if (!names.includes("PG_VERSION")) throw new BackupError("the archive holds no PostgreSQL data folder (no PG_VERSION)");
    return tar;
  } catch (error) {
    if (error instanceof BackupError) throw new BackupError(`${file} is not a usable backup: ${error.message}`);
    throw error;
  }
}

/**
 * Replaces DATA_DIR/pgdata with the database in options.from. The backup is loaded into a folder
 * beside pgdata and opened before anything is replaced, so a bad file leaves the database as it was.
 */
export async function restoreEmbedded(options: RestoreOptions): Promise<RestoreSummary> {
  const log: Log = options.log ?? (() => {});
  const file = path.resolve(options.from);
  const pgdata = path.join(options.dataDir, "pgdata");
  const tar = readBackup(file);

  const unlock = lockForOffline(options.dataDir, "restore");
  try {
    const existing = fs.existsSync(pgdata) && fs.readdirSync(pgdata).length > 0;
    if (existing && !options.force) {
      throw new BackupError(`${pgdata} already holds a database; pass --force to replace it (it is kept as pgdata.before-restore-<timestamp>)`);
    }
    // Leftovers of a restore that was killed midway: nobody else can be using them while we hold the lock.
    for (const name of fs.readdirSync(options.dataDir)) {
      if (name.startsWith("pgdata.restore-tmp-")) fs.rmSync(path.join(options.dataDir, name), { recursive: true, force: true });
    }

    const staging = path.join(options.dataDir, `pgdata.restore-tmp-${process.pid}`);
    let summary: DatabaseSummary;
    let pending: string[];
    try {
      fs.mkdirSync(staging);
      log("loading the backup", { file, into: staging });
      try {
        // Extracts the tar into the folder and starts PostgreSQL on it once, which finishes any
        // recovery the copy needs; the shutdown checkpoint then leaves clean files.
        const loader = await PGlite.create({
          dataDir: staging,
          // The extensions the migrations use, as createPGlite loads them.
          extensions: { pg_trgm, btree_gin },
          loadDataDir: new Blob([tar], { type: "application/x-tar" }),
        });
        await loader.close();
      } catch (error) {
        throw new BackupError(`${file} is not a usable backup: PGlite could not start on it (${(error as Error).message})`);
      }
      // PGlite wrote the files without fsync; they must be on disk before they replace the database.
      fsyncTree(staging);

      log("verifying the restored database");
      const pglite = await createPGlite(staging).catch((error: Error) => {
        throw new BackupError(`${file} is not a usable backup: the restored database does not open (${error.message})`);
      });
      try {
        await pglite.query(`SELECT migration_name FROM "_prisma_migrations" LIMIT 1`).catch(() => {
          throw new BackupError(`${file} is not a backup of this service: its database has no "_prisma_migrations" table`);
        });
        summary = await summarize(pglite);
        pending = await pendingMigrations(pgliteRunner(pglite));
      } finally {
        await pglite.close();
      }
    } catch (error) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw error;
    }

    // The swap: two renames in one folder. Between them there is no pgdata; a process killed
    // exactly there leaves the old database in pgdata.before-restore-* and the new one in
    // pgdata.restore-tmp-*, both whole (a server started then would create an empty database).
    let previous: string | null = null;
    if (existing) {
      const stamp = fileTimestamp();
      previous = path.join(options.dataDir, `pgdata.before-restore-${stamp}`);
      for (let n = 2; fs.existsSync(previous); n++) previous = path.join(options.dataDir, `pgdata.before-restore-${stamp}-${n}`);
      fs.renameSync(pgdata, previous);
    } else {
      fs.rmSync(pgdata, { recursive: true, force: true }); // an empty folder, if any
    }
    try {
      fs.renameSync(staging, pgdata);
    } catch (error) {
      if (previous) fs.renameSync(previous, pgdata);
      fs.rmSync(staging, { recursive: true, force: true });
      throw error;
    }
    fsyncPath(options.dataDir);
    log("database restored", { dataDir: pgdata, previous, pendingMigrations: pending });
    return { file, dataDir: pgdata, previous, pendingMigrations: pending, ...summary };
  } finally {
    unlock();
  }
}
