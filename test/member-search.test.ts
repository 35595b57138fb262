// Member search reads "Member".search, which the database keeps current with triggers (migration
// member_search_column). It must find exactly what the search found before the column existed —
// the user's email and names for accepted members, only the typed address for pending ones,
// case-insensitively, with LIKE's metacharacters taken literally — and follow every change of
// what it depends on, on the embedded database and on PostgreSQL alike.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import { applyMigrations, MIGRATIONS_DIR } from "../src/db/migrate.js";
import type { Organization } from "../src/generated/prisma/client.js";
import { addMembership, createTestApp, databaseKind, globalId, openTestDatabase, organizationOf, userWithToken, type TestApp, type TestUser } from "./helpers.js";

const SEARCH_MIGRATION = "20261202120000_member_search_column";

let t: TestApp;
let owner: TestUser;
let org: Organization;
let orgGid: string;
let quentin: TestUser;
/** Quentin's pending membership (added by his second address), until he accepts it. */
let quentinMember: string;

const MEMBERS = `query($org: ID!, $search: String, $first: Int) { organization(id: $org) {
  members(first: $first, filter: { search: $search }) { totalCount edges { node { id status user { email } } } } } }`;
const ADD = `mutation($input: AddMemberInput!) { addMember(input: $input) { member { id status } } }`;
const ACCEPT = `mutation($m: ID!) { acceptMembership(input: { memberId: $m }) { member { id status } } }`;

const rawId = (gid: string) => Buffer.from(gid, "base64").toString().split(":")[1]!;

/** The search as member-pages.ts wrote it before the column: the fields themselves. */
async function searchedTheOldWay(organizationId: string, term: string): Promise<string[]> {
  const pattern = `%${term.trim().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows = await t.db.prisma.$queryRawUnsafe<{ id: string }[]>(
    `SELECT m.id FROM "Member" m JOIN "User" u ON u.id = m."userId"
      WHERE m."organizationId" = $1::uuid
        AND (((u.email ILIKE $2 OR u."firstName" ILIKE $2 OR u."lastName" ILIKE $2) AND NOT m.status = 'PENDING')
             OR (m.status = 'PENDING' AND m."pendingEmail" ILIKE $2))
      ORDER BY m."joinedAt", m.id`,
    organizationId,
    pattern,
  );
  return rows.map((row) => row.id);
}

async function search(term: string, first = 100, organization = orgGid) {
  const result = await t.gql(MEMBERS, { org: organization, search: term, first }, owner.token);
  expect(result.errors).toBeUndefined();
  const members = result.data.organization.members;
  return { totalCount: members.totalCount as number, ids: members.edges.map((e: any) => rawId(e.node.id)) as string[] };
}

async function expectOldSemantics(term: string) {
  const expected = await searchedTheOldWay(org.id, term);
  const all = await search(term);
  expect({ term, ...all }).toEqual({ term, totalCount: expected.length, ids: expected });
  // A short page counts all the same.
  const page = await search(term, 2);
  expect({ term, ...page }).toEqual({ term, totalCount: expected.length, ids: expected.slice(0, 2) });
}

/** Every member's search text is what the triggers promise, whatever happened before. */
async function expectAllSearchTextsCurrent() {
  const stale = await t.db.prisma.$queryRawUnsafe<{ id: string; search: string; expected: string }[]>(
    `SELECT m.id, m.search, CASE WHEN m.status = 'PENDING' THEN m."pendingEmail"
              ELSE concat_ws(E'\\x1F', u.email, u."firstName", u."lastName") END AS expected
       FROM "Member" m JOIN "User" u ON u.id = m."userId"
      WHERE m.search IS DISTINCT FROM CASE WHEN m.status = 'PENDING' THEN m."pendingEmail"
              ELSE concat_ws(E'\\x1F', u.email, u."firstName", u."lastName") END`,
  );
  expect(stale).toEqual([]);
}

async function person(email: string, firstName: string | null, lastName: string | null) {
  const user = await t.db.prisma.user.create({ data: { email, firstName, lastName } });
  return addMembership(t.db, org, user, "member");
}

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMITS: "false" });
  owner = await userWithToken(t.db, "owner@search.example");
  org = await organizationOf(t.db, owner.user, "Search", "search");
  orgGid = globalId("Organization", org.id);
  await person("ann.lee@search.example", "Ann", "Lee");
  await person("anna_b@search.example", "Anna", "Bell");
  await person("annxb@search.example", "Annx", null);
  await person("percent@search.example", "100%", "Sure");
  await person("back@search.example", "Back\\slash", "O'Neil");
  await person("upper@search.example", "ÉLODIE", "MÜLLER");
  await person("noname@search.example", null, null);
  // Fields that would match a term across their boundary if the text were matched naively.
  await person("sep@search.example", "Joe", "Sep");
  const suspended = await person("sus@search.example", "Sus", "Pended");
  await t.db.prisma.member.update({ where: { id: suspended.id }, data: { status: "SUSPENDED" } });
  // Pending: found by the typed address only, never by the account's email or name.
  quentin = await userWithToken(t.db, "quentin@work.example");
  await t.db.prisma.user.update({ where: { id: quentin.user.id }, data: { firstName: "Quentin", lastName: "Zebra" } });
  await t.db.prisma.userEmail.create({ data: { userId: quentin.user.id, email: "q.z@home.example", isVerified: true, verifiedAt: new Date(), verifiedEmail: "q.z@home.example" } });
  const added = await t.gql(ADD, { input: { organizationId: orgGid, email: "q.z@home.example" } }, owner.token);
  expect(added.errors).toBeUndefined();
  expect(added.data.addMember.member.status).toBe("PENDING");
  quentinMember = added.data.addMember.member.id;
  const stranger = await t.gql(ADD, { input: { organizationId: orgGid, email: "New_Comer%1@Elsewhere.example" } }, owner.token);
  expect(stranger.errors).toBeUndefined();
  // Another organization's members are never counted.
  const elsewhere = await organizationOf(t.db, (await t.db.prisma.user.create({ data: { email: "ann.other@else.example", firstName: "Ann" } })), "Else", "else");
  expect(elsewhere.id).not.toBe(org.id);
});
afterAll(() => t.close());

describe("member search on the search column", () => {
  it("finds exactly what the fields themselves match, case-insensitively", async () => {
    for (const term of ["ann", "ANN", "Ann Lee", "lee", "search.example", "@", "élodie", "ÉLODIE", "müller", "MÜLLER", "sus", "owner", "zzz"]) {
      await expectOldSemantics(term);
    }
    expect((await search("ANN")).totalCount).toBe(3);
  });

  it("takes LIKE's metacharacters literally", async () => {
    for (const term of ["%", "_", "\\", "a_b", "ann_", "100%", "0%", "%1@", "back\\s", "\\slash", "o'neil", "n_x", "n%x", "new_comer%1"]) {
      await expectOldSemantics(term);
    }
    expect((await search("_")).totalCount).toBe(2); // anna_b and the pending new_comer%1
    expect((await search("n_x")).totalCount).toBe(0); // not annxb
    expect((await search("\\")).totalCount).toBe(1);
    expect((await search("%")).totalCount).toBe(2);
  });

  it("doesn't match across two fields, even with the separator in the term", async () => {
    for (const term of ["example\u001fJoe", "Joe\u001fSep", "\u001f", "example joe"]) await expectOldSemantics(term);
    expect((await search("Joe\u001fSep")).totalCount).toBe(0);
  });

  it("finds a pending member by the typed address only, not by the account's email or name", async () => {
    for (const term of ["quentin", "Zebra", "quentin@work", "q.z@home", "Q.Z@HOME", "elsewhere", "new_comer"]) await expectOldSemantics(term);
    expect((await search("Quentin")).totalCount).toBe(0);
    expect((await search("q.z@HOME")).ids).toEqual([rawId(quentinMember)]);
  });

  it("follows acceptance: the member is then found by the account's email and name", async () => {
    const accepted = await t.gql(ACCEPT, { m: quentinMember }, quentin.token);
    expect(accepted.errors).toBeUndefined();
    expect(accepted.data.acceptMembership.member.status).toBe("ACTIVE");
    expect((await search("Quentin")).ids).toEqual([rawId(quentinMember)]);
    expect((await search("quentin@work")).ids).toEqual([rawId(quentinMember)]);
    expect((await search("q.z@home")).totalCount).toBe(0);
    for (const term of ["quentin", "zebra", "q.z@home"]) await expectOldSemantics(term);
  });

  it("follows a user's new email and names, through Prisma and through plain SQL", async () => {
    const ann = await t.db.prisma.user.findUniqueOrThrow({ where: { email: "ann.lee@search.example" } });
    await t.db.prisma.user.update({ where: { id: ann.id }, data: { email: "ann.kim@search.example", lastName: "Kim" } });
    expect((await search("lee")).totalCount).toBe(0);
    expect((await search("ann.kim")).totalCount).toBe(1);
    await t.db.prisma.$executeRawUnsafe(`UPDATE "User" SET "firstName" = 'Annabel' WHERE id = $1::uuid`, ann.id);
    expect((await search("annabel")).totalCount).toBe(1);
    // Names removed: no longer found by them.
    await t.db.prisma.user.update({ where: { id: ann.id }, data: { firstName: null, lastName: null } });
    expect((await search("annabel")).totalCount).toBe(0);
    expect((await search("kim")).totalCount).toBe(1); // still the email
    for (const term of ["ann", "kim", "lee", "annabel"]) await expectOldSemantics(term);
  });

  it("follows a membership moving to another account, and can't be written from outside", async () => {
    const member = await t.db.prisma.member.findFirstOrThrow({ where: { organizationId: org.id, user: { email: "noname@search.example" } } });
    const other = await t.db.prisma.user.create({ data: { email: "moved@search.example", firstName: "Mover" } });
    await t.db.prisma.member.update({ where: { id: member.id }, data: { userId: other.id } });
    expect((await search("mover")).ids).toEqual([member.id]);
    expect((await search("noname")).totalCount).toBe(0);
    await t.db.prisma.$executeRawUnsafe(`UPDATE "Member" SET search = 'forged' WHERE id = $1::uuid`, member.id);
    expect((await search("forged")).totalCount).toBe(0);
    expect((await search("mover")).ids).toEqual([member.id]);
  });

  it("keeps every member's text current, and a bad user id still fails on the foreign key", async () => {
    await expectAllSearchTextsCurrent();
    await expect(
      t.db.prisma.member.create({ data: { organizationId: org.id, userId: "00000000-0000-7000-8000-00000000dead", roleId: (await t.db.prisma.member.findFirstOrThrow()).roleId } }),
    ).rejects.toMatchObject({ code: "P2003" });
  });
});

// Two sessions at once (PostgreSQL only: the embedded database has one): a change of the user's
// email racing a membership that is created, accepted or moved to them never leaves a stale text.
describe.runIf(databaseKind === "postgresql")("concurrent changes", () => {
  async function session() {
    const client = new pg.Client({ connectionString: t.url });
    await client.connect();
    return client;
  }
  const searchOf = async (memberId: string) =>
    (await t.db.prisma.$queryRawUnsafe<{ search: string }[]>(`SELECT search FROM "Member" WHERE id = $1::uuid`, memberId))[0]!.search;

  /** Runs `first` up to its commit, then `second` in another session, commits `first`, then `second`. */
  async function interleave(first: string[], second: string[]) {
    const [a, b] = [await session(), await session()];
    try {
      await a.query("BEGIN");
      for (const statement of first) await a.query(statement);
      await b.query("BEGIN");
      const running = (async () => {
        for (const statement of second) await b.query(statement);
        await b.query("COMMIT");
      })();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await a.query("COMMIT");
      await running;
    } finally {
      await a.end();
      await b.end();
    }
  }

  it("a membership made while the user's email changes", async () => {
    const user = await t.db.prisma.user.create({ data: { email: "race1@search.example", firstName: "Race" } });
    const id = "01900000-0000-7000-8000-0000000001a1";
    const insert = `INSERT INTO "Member" (id, "organizationId", "userId", "roleId", "updatedAt") VALUES ('${id}', '${org.id}', '${user.id}', '${SYSTEM_ROLES.member.id}', now())`;
    const rename = `UPDATE "User" SET email = 'race1.new@search.example', "firstName" = 'Raced' WHERE id = '${user.id}'`;
    await interleave([rename], [insert]);
    expect(await searchOf(id)).toBe("race1.new@search.example\u001fRaced");
    await t.db.prisma.member.delete({ where: { id } });
    await t.db.prisma.user.update({ where: { id: user.id }, data: { email: "race1@search.example", firstName: "Race" } });
    await interleave([insert], [rename]);
    expect(await searchOf(id)).toBe("race1.new@search.example\u001fRaced");
  });

  it("a membership accepted while the user's email changes", async () => {
    const user = await t.db.prisma.user.create({ data: { email: "race2@search.example", lastName: "Two" } });
    const member = await t.db.prisma.member.create({ data: { organizationId: org.id, userId: user.id, roleId: SYSTEM_ROLES.member.id, status: "PENDING", pendingEmail: "typed2@search.example" } });
    const accept = `UPDATE "Member" SET status = 'ACTIVE', "pendingEmail" = '' WHERE id = '${member.id}'`;
    const rename = `UPDATE "User" SET email = 'race2.new@search.example' WHERE id = '${user.id}'`;
    await interleave([accept], [rename]);
    expect(await searchOf(member.id)).toBe("race2.new@search.example\u001fTwo");
    await t.db.prisma.member.update({ where: { id: member.id }, data: { status: "PENDING", pendingEmail: "typed2@search.example" } });
    await t.db.prisma.user.update({ where: { id: user.id }, data: { email: "race2@search.example" } });
    await interleave([rename], [accept]);
    expect(await searchOf(member.id)).toBe("race2.new@search.example\u001fTwo");
  });

  it("a membership moved to a user whose email changes", async () => {
    const from = await t.db.prisma.user.create({ data: { email: "race3.from@search.example" } });
    const to = await t.db.prisma.user.create({ data: { email: "race3.to@search.example" } });
    const member = await t.db.prisma.member.create({ data: { organizationId: org.id, userId: from.id, roleId: SYSTEM_ROLES.member.id } });
    const move = `UPDATE "Member" SET "userId" = '${to.id}' WHERE id = '${member.id}'`;
    const rename = `UPDATE "User" SET email = 'race3.new@search.example' WHERE id = '${to.id}'`;
    await interleave([rename], [move]);
    expect(await searchOf(member.id)).toBe("race3.new@search.example");
    await t.db.prisma.member.update({ where: { id: member.id }, data: { userId: from.id } });
    await t.db.prisma.user.update({ where: { id: to.id }, data: { email: "race3.to@search.example" } });
    await interleave([move], [rename]);
    expect(await searchOf(member.id)).toBe("race3.new@search.example");
  });
});

describe("the migration", () => {
  it("fills the search text of the members that existed before it, then the triggers keep it", async () => {
    const test = await openTestDatabase({ migrate: false });
    const sql = await test.db.sqlRunner();
    try {
      const before = fs.mkdtempSync(path.join(os.tmpdir(), "mg-before-search-"));
      for (const entry of fs.readdirSync(MIGRATIONS_DIR)) {
        if (entry < SEARCH_MIGRATION) fs.cpSync(path.join(MIGRATIONS_DIR, entry), path.join(before, entry), { recursive: true });
      }
      await applyMigrations(sql, { dir: before });
      const u = (n: number) => `01900000-0000-7000-8000-0000000000${String(n).padStart(2, "0")}`;
      await sql.exec(`
        INSERT INTO "User" (id, email, "firstName", "lastName", "updatedAt") VALUES
          ('${u(1)}', 'old.owner@legacy.example', 'Olga', 'Old', now()),
          ('${u(2)}', 'nameless@legacy.example', NULL, NULL, now()),
          ('${u(3)}', 'account@legacy.example', 'Hidden', 'Name', now());
        INSERT INTO "Organization" (id, slug, name, "createdById", "ownerId", "updatedAt") VALUES ('${u(10)}', 'legacy', 'Legacy', '${u(1)}', '${u(1)}', now());
        INSERT INTO "Member" (id, "organizationId", "userId", "roleId", status, "pendingEmail", "updatedAt") VALUES
          ('${u(21)}', '${u(10)}', '${u(1)}', '${SYSTEM_ROLES.owner.id}', 'ACTIVE', '', now()),
          ('${u(22)}', '${u(10)}', '${u(2)}', '${SYSTEM_ROLES.member.id}', 'SUSPENDED', '', now()),
          ('${u(23)}', '${u(10)}', '${u(3)}', '${SYSTEM_ROLES.member.id}', 'PENDING', 'typed@legacy.example', now());`);
      await applyMigrations(sql);
      const texts = await sql.query<{ id: string; search: string }>(`SELECT id, search FROM "Member" ORDER BY id`);
      expect(texts).toEqual([
        { id: u(21), search: "old.owner@legacy.example\u001fOlga\u001fOld" },
        { id: u(22), search: "nameless@legacy.example" },
        { id: u(23), search: "typed@legacy.example" },
      ]);
      await sql.exec(`UPDATE "User" SET "lastName" = 'Older' WHERE id = '${u(1)}'; UPDATE "User" SET "firstName" = 'Seen' WHERE id = '${u(3)}'`);
      const after = await sql.query<{ search: string }>(`SELECT search FROM "Member" WHERE id IN ('${u(21)}', '${u(23)}') ORDER BY id`);
      expect(after.map((row) => row.search)).toEqual(["old.owner@legacy.example\u001fOlga\u001fOlder", "typed@legacy.example"]);
    } finally {
      sql.release();
      await test.close();
    }
  }, 60_000);
});
