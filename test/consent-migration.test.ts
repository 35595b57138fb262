// The consent migrations on a database holding what the earlier code made: placeholders with
// active memberships, an owner role given to an existing account without consent, a placeholder
// left behind an address its holder had since verified, and member.added events naming accounts.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import { applyMigrations, MIGRATIONS_DIR } from "../src/db/migrate.js";
import type { SqlRunner } from "../src/db/sql.js";
import { openTestDatabase, type TestDatabase } from "./helpers.js";

const FIRST_CONSENT_MIGRATION = "20261201120000_membership_consent";

let test: TestDatabase;
let sql: SqlRunner;

/** The migrations folder as it was before consent. */
function migrationsBefore(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mg-before-consent-"));
  for (const entry of fs.readdirSync(MIGRATIONS_DIR)) {
    if (entry >= name && !entry.endsWith(".toml")) continue;
    fs.cpSync(path.join(MIGRATIONS_DIR, entry), path.join(dir, entry), { recursive: true });
  }
  return dir;
}

const ids = {
  owner: "01900000-0000-7000-8000-00000000000a",
  placeholder: "01900000-0000-7000-8000-00000000000b",
  victim: "01900000-0000-7000-8000-00000000000c",
  holder: "01900000-0000-7000-8000-00000000000d",
  stuck: "01900000-0000-7000-8000-00000000000e",
  worker: "01900000-0000-7000-8000-00000000000f",
  org: "01900000-0000-7000-8000-0000000000a1",
  mPlaceholder: "01900000-0000-7000-8000-0000000000b1",
  mVictim: "01900000-0000-7000-8000-0000000000b2",
  mStuck: "01900000-0000-7000-8000-0000000000b3",
  mOwner: "01900000-0000-7000-8000-0000000000b4",
  mWorker: "01900000-0000-7000-8000-0000000000b5",
};

beforeAll(async () => {
  test = await openTestDatabase({ migrate: false });
  sql = await test.db.sqlRunner();
  await applyMigrations(sql, { dir: migrationsBefore(FIRST_CONSENT_MIGRATION) });
  const owner = SYSTEM_ROLES.owner.id;
  const member = SYSTEM_ROLES.member.id;
  await sql.exec(`
    INSERT INTO "User" (id, email, status, "externalId", "updatedAt") VALUES
      ('${ids.owner}', 'owner@legacy.example', 'ACTIVE', NULL, now()),
      ('${ids.placeholder}', 'new@legacy.example', 'INVITED', NULL, now()),
      ('${ids.victim}', 'victim@legacy.example', 'ACTIVE', 'idp|victim', now()),
      ('${ids.holder}', 'holder@legacy.example', 'ACTIVE', NULL, now()),
      ('${ids.stuck}', 'stuck@legacy.example', 'INVITED', NULL, now()),
      ('${ids.worker}', 'worker@legacy.example', 'ACTIVE', NULL, now());
    INSERT INTO "UserEmail" (id, "userId", email, "isPrimary", "isVerified", "verifiedEmail") VALUES
      ('01900000-0000-7000-8000-0000000000c1', '${ids.holder}', 'stuck@legacy.example', false, true, 'stuck@legacy.example');
    INSERT INTO "Organization" (id, slug, name, "createdById", "ownerId", "updatedAt") VALUES
      ('${ids.org}', 'legacy', 'Legacy', '${ids.owner}', '${ids.owner}', now());
    INSERT INTO "Member" (id, "organizationId", "userId", "roleId", status, consented, "updatedAt") VALUES
      ('${ids.mOwner}', '${ids.org}', '${ids.owner}', '${owner}', 'ACTIVE', true, now()),
      ('${ids.mPlaceholder}', '${ids.org}', '${ids.placeholder}', '${member}', 'ACTIVE', true, now()),
      ('${ids.mVictim}', '${ids.org}', '${ids.victim}', '${owner}', 'ACTIVE', false, now()),
      ('${ids.mStuck}', '${ids.org}', '${ids.stuck}', '${member}', 'ACTIVE', true, now()),
      ('${ids.mWorker}', '${ids.org}', '${ids.worker}', '${owner}', 'ACTIVE', false, now());
    INSERT INTO "AuditEvent" (id, "organizationId", "actorUserId", action, "targetType", "targetId", after) VALUES
      ('01900000-0000-7000-8000-0000000000d1', '${ids.org}', '${ids.owner}', 'member.added', 'Member', '${ids.mVictim}', '{"email":"victim@personal.example","userId":"${ids.victim}"}'),
      ('01900000-0000-7000-8000-0000000000d2', '${ids.org}', '${ids.worker}', 'organization.updated', 'Organization', '${ids.org}', '{}');
  `);
  await applyMigrations(sql);
});
afterAll(async () => {
  sql.release();
  await test.close();
});

const member = async (id: string) =>
  (await sql.query<{ userId: string; status: string; pendingEmail: string; consented: boolean }>(`SELECT "userId", status::text AS status, "pendingEmail", consented FROM "Member" WHERE id = $1`, [id]))[0];

describe("the consent migrations on earlier data", () => {
  it("marks placeholders and makes their memberships pending for the address", async () => {
    expect(await member(ids.mPlaceholder)).toEqual({ userId: ids.placeholder, status: "PENDING", pendingEmail: "new@legacy.example", consented: false });
    const [user] = await sql.query<{ isPlaceholder: boolean }>(`SELECT "isPlaceholder" FROM "User" WHERE id = $1`, [ids.placeholder]);
    expect(user!.isPlaceholder).toBe(true);
  });

  it("an owner role given without consent, never used, waits for an answer at the address typed; one that was used stays", async () => {
    expect(await member(ids.mVictim)).toEqual({ userId: ids.victim, status: "PENDING", pendingEmail: "victim@personal.example", consented: false });
    expect(await member(ids.mWorker)).toMatchObject({ status: "ACTIVE", pendingEmail: "" });
    expect(await member(ids.mOwner)).toMatchObject({ status: "ACTIVE", pendingEmail: "" });
  });

  it("a placeholder behind an address its holder had verified gives way: the membership follows the holder, pending", async () => {
    expect(await member(ids.mStuck)).toEqual({ userId: ids.holder, status: "PENDING", pendingEmail: "stuck@legacy.example", consented: false });
    expect(await sql.query(`SELECT id FROM "User" WHERE id = $1`, [ids.stuck])).toEqual([]);
  });

  it("member.added events no longer name the account", async () => {
    const [event] = await sql.query<{ after: Record<string, unknown> }>(`SELECT after FROM "AuditEvent" WHERE action = 'member.added'`);
    expect(event!.after).toEqual({ email: "victim@personal.example" });
  });
});
