// The migration applier keeps Prisma's bookkeeping exactly, refuses edited or half-applied
// history, serialises concurrent starts, and builds the same database as prisma/schema.prisma.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { PGlite } from "@electric-sql/pglite";
import { createPGlite } from "../src/db/client.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALL_PERMISSIONS, SYSTEM_ROLES } from "../src/core/permissions.js";
import { applyMigrations, MIGRATIONS_DIR, MigrationError, pendingMigrations, readMigrations, resolveRolledBack } from "../src/db/migrate.js";
import { pgliteRunner, type SqlRunner } from "../src/db/sql.js";
import { databaseKind, openTestDatabase, type TestDatabase } from "./helpers.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

let test: TestDatabase;
let sql: SqlRunner;

beforeAll(async () => {
  test = await openTestDatabase({ migrate: false });
  sql = await test.db.sqlRunner();
});
afterAll(async () => {
  sql.release();
  await test.close();
});

function copyMigrations(extra: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mg-migrations-"));
  fs.cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  for (const [name, body] of Object.entries(extra)) {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, "migration.sql"), body);
  }
  return dir;
}

describe("applyMigrations", () => {
  it("applies every migration once and records it as prisma migrate deploy does", async () => {
    expect(await pendingMigrations(sql)).toEqual(readMigrations().map((file) => file.name));
    const first = await applyMigrations(sql);
    expect(first.applied).toEqual(readMigrations().map((file) => file.name));
    const rows = await sql.query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number; logs: string | null; id: string }>(
      `SELECT * FROM "_prisma_migrations" ORDER BY started_at`,
    );
    for (const file of readMigrations()) {
      const row = rows.find((r) => r.migration_name === file.name)!;
      const bytes = fs.readFileSync(path.join(MIGRATIONS_DIR, file.name, "migration.sql"));
      expect(row.checksum).toBe(createHash("sha256").update(bytes).digest("hex"));
      expect(row.finished_at).not.toBeNull();
      expect(row.applied_steps_count).toBe(1);
      expect(row.logs).toBeNull();
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
    }
    const again = await applyMigrations(sql);
    expect(again).toEqual({ applied: [], alreadyApplied: readMigrations().length });
    expect(await pendingMigrations(sql)).toEqual([]);
  });

  it("creates the system roles with exactly the catalogue's permissions", async () => {
    const roles = await sql.query<{ id: string; key: string; permissions: string[]; isSystem: boolean; isDefault: boolean; organizationId: string | null }>(
      `SELECT id, key, permissions, "isSystem", "isDefault", "organizationId" FROM "Role" WHERE "isSystem" ORDER BY id`,
    );
    expect(roles.map((role) => role.key)).toEqual(["owner", "admin", "member"]);
    for (const role of roles) {
      const expected = SYSTEM_ROLES[role.key as keyof typeof SYSTEM_ROLES];
      expect(role.id).toBe(expected.id);
      expect([...role.permissions].sort()).toEqual([...expected.permissions].sort());
      expect(role.organizationId).toBeNull();
    }
    expect(roles.filter((role) => role.isDefault).map((role) => role.key)).toEqual(["member"]);
    for (const role of roles) expect(role.permissions.every((p) => (ALL_PERMISSIONS as string[]).includes(p))).toBe(true);
  });

  it("refuses to run when an applied migration's file was edited", async () => {
    const name = readMigrations()[0]!.name;
    await sql.query(`UPDATE "_prisma_migrations" SET checksum = 'abc123' WHERE migration_name = $1`, [name]);
    await expect(applyMigrations(sql)).rejects.toThrow(/was changed after it was applied/);
    await sql.query(`UPDATE "_prisma_migrations" SET checksum = $2 WHERE migration_name = $1`, [name, readMigrations()[0]!.checksum]);
  });

  it("records a failed migration, rolls back its changes and refuses to go on until resolved", async () => {
    const dir = copyMigrations({
      "29990101000000_broken": `CREATE TABLE "ShouldNotExist" (id int);\nSELECT * FROM "no_such_table";\n`,
    });
    await expect(applyMigrations(sql, { dir })).rejects.toBeInstanceOf(MigrationError);
    const [row] = await sql.query<{ finished_at: Date | null; logs: string | null }>(
      `SELECT finished_at, logs FROM "_prisma_migrations" WHERE migration_name = '29990101000000_broken'`,
    );
    expect(row!.finished_at).toBeNull();
    expect(row!.logs).toContain("no_such_table");
    const [table] = await sql.query<{ present: boolean }>(`SELECT to_regclass('"ShouldNotExist"') IS NOT NULL AS present`);
    expect(table!.present).toBe(false);

    await expect(applyMigrations(sql)).rejects.toThrow(/failed earlier/);
    await resolveRolledBack(sql, "29990101000000_broken");
    await expect(applyMigrations(sql)).resolves.toMatchObject({ applied: [] });
    await expect(resolveRolledBack(sql, "29990101000000_broken")).rejects.toThrow(/No failed migration/);
  });

  it.runIf(databaseKind === "postgresql")("lets only one of several starting instances apply a migration", async () => {
    const dir = copyMigrations({ "29990102000000_concurrent": `CREATE TABLE "Concurrent" (id int primary key);\nSELECT pg_sleep(0.3);\n` });
    const runners = await Promise.all([0, 1, 2].map(() => test.db.sqlRunner()));
    try {
      const results = await Promise.all(runners.map((runner) => applyMigrations(runner, { dir })));
      expect(results.map((result) => result.applied.length).sort()).toEqual([0, 0, 1]);
    } finally {
      runners.forEach((runner) => runner.release());
    }
    const rows = await sql.query(`SELECT 1 FROM "_prisma_migrations" WHERE migration_name = '29990102000000_concurrent'`);
    expect(rows).toHaveLength(1);
  });
});

// prisma/schema.prisma and prisma/migrations must describe the same database. Prisma's own
// schema engine (via ../shared/tools/prisma-migration-sql) turns the schema into SQL; we build
// one database from that and one from the migrations, and compare their catalogues.
const toolPath = process.env.PRISMA_MIGRATION_SQL ?? path.resolve(ROOT, "../shared/tools/prisma-migration-sql");
const toolAvailable = fs.existsSync(toolPath);
const mustCheckDrift = process.env.REQUIRE_SCHEMA_DRIFT_CHECK === "1";

async function catalogue(db: PGlite) {
  const q = async (text: string) => (await db.query(text)).rows;
  return {
    columns: await q(`SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, character_maximum_length
      FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations' ORDER BY 1, 2`),
    indexes: await q(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY 1, 2`),
    constraints: await q(`SELECT c.conrelid::regclass::text AS table_name, c.conname, c.contype, pg_get_constraintdef(c.oid) AS definition
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public' AND c.conrelid::regclass::text NOT IN ('_prisma_migrations', '"_prisma_migrations"') ORDER BY 1, 2`),
    enums: await q(`SELECT t.typname, e.enumlabel, e.enumsortorder FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid ORDER BY 1, 3`),
  };
}

describe("schema and migrations", () => {
  it.skipIf(!toolAvailable && !mustCheckDrift)("prisma/schema.prisma and prisma/migrations build the same database", async () => {
    expect(toolAvailable, `REQUIRE_SCHEMA_DRIFT_CHECK=1 but ${toolPath} is missing`).toBe(true);
    const expectedSql = execFileSync(toolPath, ["--from-empty", path.join(ROOT, "prisma/schema.prisma")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 240_000,
      // Under `npm test` / `npx -p node@24`, npm_* variables would steer the tool's own npx.
      env: Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_"))),
    });
    const fromSchema = await createPGlite();
    const fromMigrations = await createPGlite();
    try {
      await fromSchema.exec(expectedSql);
      await applyMigrations(pgliteRunner(fromMigrations));
      expect(await catalogue(fromMigrations)).toEqual(await catalogue(fromSchema));
    } finally {
      await fromSchema.close();
      await fromMigrations.close();
    }
  }, 300_000);
});
