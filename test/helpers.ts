// Test harness: each test file gets its own fresh database (in-memory embedded PostgreSQL, or a
// throwaway database on the server named by TEST_DATABASE_URL), migrated by the real applier
// (embedded: once, into a template every test database starts from),
// and talks to the real app through yoga.fetch.
import { loadConfig, type Config } from "../src/config.js";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createPGlite, openDatabase, type Database } from "../src/db/client.js";
import { applyMigrations, readMigrations } from "../src/db/migrate.js";
import { pgliteRunner } from "../src/db/sql.js";
import { createThrowawayDatabase } from "./fixtures/throwaway.js";
import { SYSTEM_ROLES, type SystemRoleKey } from "../src/core/permissions.js";
import { createApiToken } from "../src/domain/api-tokens.js";
import { createOrganization } from "../src/domain/organizations.js";
import { findOrCreateActiveUser } from "../src/domain/users.js";
import type { Organization, User } from "../src/generated/prisma/client.js";
import { createLogger, type Logger } from "../src/logger.js";
import { createApp, type App } from "../src/server.js";

// (the package's exports don't include package.json: read the file)
const PGLITE_VERSION = (JSON.parse(fs.readFileSync(new URL("../node_modules/@electric-sql/pglite/package.json", import.meta.url), "utf8")) as { version: string }).version;

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL?.trim() || undefined;
export const databaseKind = TEST_DATABASE_URL ? "postgresql" : "embedded";

export { createThrowawayDatabase };

export interface TestDatabase {
  db: Database;
  url: string | undefined;
  close(): Promise<void>;
}

/**
 * A new in-memory PGlite spends seconds in initdb; every embedded test database instead starts
 * from a tarball of a fresh cluster (migrated, or not), made once per set of migration files and
 * PGlite version and shared by the test processes through the temp folder.
 */
async function embeddedTemplate(migrated: boolean): Promise<Blob> {
  const hash = createHash("sha256").update(PGLITE_VERSION).update(String(migrated));
  for (const migration of readMigrations()) hash.update(migration.name).update(migration.sql);
  const file = path.join(os.tmpdir(), `membership-graph-test-template-${hash.digest("hex").slice(0, 16)}.tar`);
  if (fs.existsSync(file)) return new Blob([fs.readFileSync(file)]);
  const pglite = await createPGlite();
  try {
    if (migrated) await applyMigrations(pgliteRunner(pglite));
    await pglite.exec("CHECKPOINT");
    const dump = await pglite.dumpDataDir("none");
    const partial = `${file}.${process.pid}.partial`;
    fs.writeFileSync(partial, new Uint8Array(await dump.arrayBuffer()));
    fs.renameSync(partial, file); // another worker may win the race: same content either way
    return dump;
  } finally {
    await pglite.close();
  }
}

/** A fresh, migrated database for one test file. */
export async function openTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  let url: string | undefined;
  let drop = async () => {};
  if (TEST_DATABASE_URL) {
    ({ url, drop } = await createThrowawayDatabase(TEST_DATABASE_URL));
  }
  const migrate = options.migrate !== false;
  const template = url ? undefined : await embeddedTemplate(migrate);
  const db = await openDatabase({ databaseUrl: url, dataDir: "", inMemory: !url, poolSize: 5, template, traceSql: loadConfig().traceSql });
  if (migrate && !template) {
    const sql = await db.sqlRunner();
    try {
      await applyMigrations(sql);
    } finally {
      sql.release();
    }
  }
  return {
    db,
    url,
    async close() {
      await db.close();
      await drop();
    },
  };
}

export interface TestApp extends TestDatabase {
  app: App;
  config: Config;
  /** POSTs a GraphQL operation; returns the parsed body and the HTTP status. */
  gql<T = any>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<GqlResult<T>>;
}

export interface GqlResult<T> {
  status: number;
  data: T;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; [key: string]: unknown } }[];
}

export async function createTestApp(env: Record<string, string> = {}, options: { logger?: Logger } = {}): Promise<TestApp> {
  const test = await openTestDatabase();
  const config = loadConfig({ LOG_LEVEL: "silent", ...env });
  // TEST_LOG_LEVEL=error shows what the masked errors were.
  const logger = options.logger ?? createLogger((process.env.TEST_LOG_LEVEL as "error" | undefined) ?? "silent", "stderr");
  const app = createApp({ config, db: test.db, logger });
  return {
    ...test,
    app,
    config,
    async gql(query, variables, token) {
      const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
      if (token) headers.authorization = `Bearer ${token}`;
      const response = await app.fetch("http://localhost/graphql", {
        method: "POST",
        headers,
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data: any; errors?: GqlResult<unknown>["errors"] };
      return { status: response.status, data: body.data, errors: body.errors };
    },
  };
}

export interface TestUser {
  user: User;
  token: string;
}

/** Takes one of the pool's connections in an open transaction until the returned release is called (and has finished). */
export async function holdConnection(db: Database): Promise<() => Promise<void>> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const holding = new Promise<void>((resolve) => (started = resolve));
  const transaction = db.prisma.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT 1`;
    started();
    await held;
  }, { timeout: 30_000 });
  await Promise.race([holding, transaction]);
  return async () => {
    release();
    await transaction;
  };
}

/** A user with a fresh access token. */
export async function userWithToken(db: Database, email: string): Promise<TestUser> {
  const user = await findOrCreateActiveUser(db.prisma, email);
  const { token } = await createApiToken(db.prisma, user.id, { name: "test" });
  return { user, token };
}

/** An organization owned by `owner`, created through the domain function. */
export async function organizationOf(db: Database, owner: User, name: string, slug?: string): Promise<Organization> {
  return createOrganization(db.prisma, { userId: owner.id, tokenId: null, requestId: null }, { name, slug });
}

/** Adds a membership directly (fixture setup; the addMember mutation comes with its own tests). */
export async function addMembership(
  db: Database,
  organization: Organization,
  user: User,
  role: SystemRoleKey | { id: string },
  status: "ACTIVE" | "SUSPENDED" = "ACTIVE",
) {
  const roleId = typeof role === "string" ? SYSTEM_ROLES[role].id : role.id;
  return db.prisma.member.create({ data: { organizationId: organization.id, userId: user.id, roleId, status } });
}

export function globalId(typename: string, id: string): string {
  return Buffer.from(`${typename}:${id}`).toString("base64");
}

export function codes(result: GqlResult<unknown>): (string | undefined)[] {
  return (result.errors ?? []).map((error) => error.extensions?.code);
}

/** The `extensions.reason` of each error (the rule that refused, as viewerCan and the checks report it). */
export function reasons(result: GqlResult<unknown>): (string | undefined)[] {
  return (result.errors ?? []).map((error) => error.extensions?.reason as string | undefined);
}

interface Person extends TestUser {
  memberId: string;
  /** The member's global ID. */
  memberGid: string;
}

export interface OrgFixture {
  organization: Organization;
  /** The organization's global ID. */
  orgGid: string;
  owner: Person;
  admin: Person;
  member: Person;
}

/** An organization with an owner, an admin and a plain member, each with a token. */
export async function orgWithPeople(db: Database, slug: string): Promise<OrgFixture> {
  const ownerUser = await userWithToken(db, `owner@${slug}.example`);
  const organization = await organizationOf(db, ownerUser.user, slug.toUpperCase(), slug);
  const ownerMember = await db.prisma.member.findFirstOrThrow({ where: { organizationId: organization.id, userId: ownerUser.user.id } });
  const person = async (key: "admin" | "member"): Promise<Person> => {
    const user = await userWithToken(db, `${key}@${slug}.example`);
    const member = await addMembership(db, organization, user.user, key);
    return { ...user, memberId: member.id, memberGid: globalId("Member", member.id) };
  };
  return {
    organization,
    orgGid: globalId("Organization", organization.id),
    owner: { ...ownerUser, memberId: ownerMember.id, memberGid: globalId("Member", ownerMember.id) },
    admin: await person("admin"),
    member: await person("member"),
  };
}

export const roleGid = (key: SystemRoleKey) => globalId("Role", SYSTEM_ROLES[key].id);
