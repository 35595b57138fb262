// `npm run cli -- backup` / `restore` as an operator runs them: real CLI processes on a real
// embedded database folder, a data folder locked by a live process, damaged backup files.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupEmbedded, restoreEmbedded, type BackupSummary, type RestoreSummary } from "../src/db/backup.js";
import { createPGlite, openDatabase } from "../src/db/client.js";
import { readMigrations } from "../src/db/migrate.js";
import { runCli } from "./fixtures/server-process.js";
import { TEST_DATABASE_URL } from "./helpers.js";

const cli = runCli;

/** stdout must be exactly one JSON line: scripts parse it. */
function summaryOf<T>(stdout: string): T {
  expect(stdout).toMatch(/^\{.*\}\n$/);
  return JSON.parse(stdout) as T;
}

/** Every file's path and content under dir: equal hashes mean nothing was touched. */
function fingerprint(dir: string): string {
  const hash = createHash("sha256");
  const entries = fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((entry) => entry.isFile());
  for (const name of entries.map((entry) => path.join(entry.parentPath, entry.name)).sort()) {
    hash.update(path.relative(dir, name)).update(fs.readFileSync(name));
  }
  return hash.digest("hex");
}

async function usersIn(dataDir: string): Promise<string[]> {
  const db = await openDatabase({ dataDir, poolSize: 1 });
  try {
    return (await db.prisma.user.findMany({ select: { email: true } })).map((user) => user.email);
  } finally {
    await db.close();
  }
}

describe.runIf(!TEST_DATABASE_URL)("backup and restore of the embedded database", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "mg-backup-"));
  const dataDir = path.join(work, "data");
  const pgdata = path.join(dataDir, "pgdata");
  const env = { DATA_DIR: dataDir, DATABASE_URL: undefined };
  const backups = path.join(work, "backups");
  const backupFile = path.join(backups, "membership.tar.gz");
  let backedUp: BackupSummary;

  beforeAll(() => {
    fs.mkdirSync(backups);
    const seed = cli(["seed"], env);
    expect(seed.status, seed.stderr).toBe(0);
  }, 180_000);
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it("backs up: a one-line JSON summary on stdout, progress on stderr, no partial file left", () => {
    const result = cli(["backup", "--out", backupFile], env);
    expect(result.status, result.stderr).toBe(0);
    backedUp = summaryOf<BackupSummary>(result.stdout);
    const migrations = readMigrations();
    expect(backedUp).toEqual({
      file: backupFile,
      bytes: fs.statSync(backupFile).size,
      migrationsApplied: migrations.length,
      lastMigration: migrations.at(-1)!.name,
      counts: { organizations: 3, users: expect.any(Number), members: expect.any(Number) },
    });
    expect(backedUp.counts!.users).toBeGreaterThan(30);
    expect(result.stderr).toContain('"msg":"backup written"');
    expect(fs.readdirSync(backups)).toEqual(["membership.tar.gz"]);
    // A gzipped tar of the data folder: operators can look into it with tar.
    expect([...fs.readFileSync(backupFile).subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(fs.existsSync(path.join(dataDir, "lock.pid"))).toBe(false);
  }, 90_000);

  it("refuses to overwrite an existing backup unless --force", () => {
    const before = fingerprint(backups);
    const refused = cli(["backup", "--out", backupFile], env);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("already exists; pass --force");
    expect(refused.stdout).toBe("");
    expect(fingerprint(backups)).toBe(before);

    const forced = cli(["backup", "--out", backupFile, "--force"], env);
    expect(forced.status, forced.stderr).toBe(0);
    backedUp = summaryOf<BackupSummary>(forced.stdout);
    expect(fs.readdirSync(backups)).toEqual(["membership.tar.gz"]);
  }, 90_000);

  it("refuses backup and restore while a live process holds the data folder", async () => {
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
    const lockPath = path.join(dataDir, "lock.pid");
    try {
      fs.writeFileSync(lockPath, `${holder.pid}\n`);
      // In-process: the CLI's exit code and stderr for a refusal are covered above.
      const other = path.join(backups, "while-running.tar.gz");
      await expect(backupEmbedded({ dataDir, out: other })).rejects.toThrow(new RegExp(`in use by process ${holder.pid}.*stop the server first`));
      expect(fs.readdirSync(backups)).toEqual(["membership.tar.gz"]);

      const before = fingerprint(pgdata);
      await expect(restoreEmbedded({ dataDir, from: backupFile, force: true })).rejects.toThrow(/in use by process \d+.*stop the server first/);
      expect(fingerprint(pgdata)).toBe(before);
      expect(fs.readdirSync(dataDir).sort()).toEqual(["lock.pid", "pgdata"]);
    } finally {
      fs.rmSync(lockPath, { force: true });
      holder.kill("SIGKILL");
    }
  }, 90_000);

  it("restore --force brings back the data as it was at backup time and keeps the replaced database", async () => {
    const token = cli(["create-token", "--email", "after.backup@example.com"], env);
    expect(token.status, token.stderr).toBe(0);
    expect(await usersIn(dataDir)).toContain("after.backup@example.com");

    const before = fingerprint(pgdata);
    const refused = cli(["restore", "--from", backupFile], env);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("already holds a database; pass --force");
    expect(fingerprint(pgdata)).toBe(before);

    const restored = cli(["restore", "--from", backupFile, "--force"], env);
    expect(restored.status, restored.stderr).toBe(0);
    const summary = summaryOf<RestoreSummary>(restored.stdout);
    expect(summary).toMatchObject({
      file: backupFile,
      dataDir: pgdata,
      pendingMigrations: [],
      migrationsApplied: backedUp.migrationsApplied,
      lastMigration: backedUp.lastMigration,
      counts: backedUp.counts,
    });
    expect(summary.previous).toMatch(/pgdata\.before-restore-\d{8}T\d{6}Z$/);
    expect(restored.stderr).toContain(summary.previous!);

    const users = await usersIn(dataDir);
    expect(users).toHaveLength(backedUp.counts!.users);
    expect(users).toContain("demo@example.com");
    expect(users).not.toContain("after.backup@example.com");
    // The replaced database is whole and still has the later change.
    const previous = await createPGlite(summary.previous!);
    try {
      const rows = await previous.query(`SELECT email FROM "User" WHERE email = 'after.backup@example.com'`);
      expect(rows.rows).toHaveLength(1);
    } finally {
      await previous.close();
    }
    expect(fs.readdirSync(dataDir).sort()).toEqual(["pgdata", path.basename(summary.previous!)]);
  }, 180_000);

  it("restores into an empty DATA_DIR without --force", async () => {
    const fresh = path.join(work, "fresh");
    const restored = cli(["restore", "--from", backupFile], { ...env, DATA_DIR: fresh });
    expect(restored.status, restored.stderr).toBe(0);
    expect(summaryOf<RestoreSummary>(restored.stdout).previous).toBeNull();
    expect(fs.readdirSync(fresh)).toEqual(["pgdata"]);
    expect(await usersIn(fresh)).toHaveLength(backedUp.counts!.users);
  }, 90_000);

  it("a damaged or foreign file fails with a clear message and leaves the database untouched", async () => {
    const garbage = path.join(work, "garbage.tar.gz");
    fs.writeFileSync(garbage, "this is not a backup\n".repeat(100));
    const truncated = path.join(work, "truncated.tar.gz");
    const whole = fs.readFileSync(backupFile);
    fs.writeFileSync(truncated, whole.subarray(0, whole.length / 2));
    // A real PostgreSQL data folder, but not this service's database.
    const foreign = path.join(work, "foreign.tar.gz");
    const stranger = await PGlite.create();
    try {
      await stranger.exec("CREATE TABLE t (x int)");
      fs.writeFileSync(foreign, new Uint8Array(await (await stranger.dumpDataDir("gzip")).arrayBuffer()));
    } finally {
      await stranger.close();
    }

    const entriesBefore = fs.readdirSync(dataDir).sort();
    const before = fingerprint(pgdata);
    for (const [file, message] of [
      [garbage, "is not a usable backup: it is not a tar archive"],
      [truncated, "is not a usable backup: the gzip stream is damaged"],
      [foreign, 'is not a backup of this service: its database has no "_prisma_migrations" table'],
      [path.join(work, "missing.tar.gz"), "Can't read"],
    ] as const) {
      // In-process (each CLI start costs seconds); the CLI's handling of a refusal is covered above.
      await expect(restoreEmbedded({ dataDir, from: file, force: true }), file).rejects.toThrow(message);
      expect(fingerprint(pgdata)).toBe(before);
      expect(fs.readdirSync(dataDir).sort()).toEqual(entriesBefore);
    }
  }, 180_000);
});

describe("backup and restore with DATABASE_URL", () => {
  it.each([
    [["backup", "--out", "x.tar.gz"]],
    [["restore", "--from", "x.tar.gz"]],
  ])("refuses %j and names the pg_dump / pg_restore commands", (args) => {
    const result = cli(args, { DATABASE_URL: "postgresql://user@127.0.0.1:5432/membership" });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('pg_dump --format=custom --file=membership.dump "$DATABASE_URL"');
    expect(result.stderr).toContain('pg_restore --clean --if-exists --no-owner --dbname="$DATABASE_URL" membership.dump');
    expect(result.stdout).toBe("");
  });
});
