// Hostile documents and requests meet a cheap, early, coded refusal: depth, aliases, tokens,
// directives, cost, body size, batching and time. No SQL runs for a refused document.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, orgWithPeople, TEST_DATABASE_URL, type OrgFixture, type TestApp } from "./helpers.js";

let t: TestApp;
let acme: OrgFixture;

beforeAll(async () => {
  t = await createTestApp();
  acme = await orgWithPeople(t.db, "acme");
});
afterAll(() => t.close());

async function refused(query: string, code: string, app: TestApp = t) {
  const before = app.db.statementCount();
  const result = await app.gql(query, {}, acme.owner.token);
  const after = app.db.statementCount();
  expect(result.errors?.[0]?.extensions?.code).toBe(code);
  expect(result.data ?? null).toBeNull();
  // Authentication reads the token (one statement); the document itself ran nothing.
  expect(after - before).toBeLessThanOrEqual(2);
  return result;
}

describe("document limits", () => {
  it("refuses a depth bomb", async () => {
    const nest = (depth: number): string => (depth === 0 ? "id" : `organization { members(first: 1) { edges { node { ${nest(depth - 1)} } } } }`);
    await refused(`{ viewer { memberships(first: 1) { edges { node { ${nest(5)} } } } } }`, "DEPTH_LIMIT_EXCEEDED");
  });

  it("refuses an alias flood", async () => {
    await refused(`{ ${Array.from({ length: 200 }, (_, i) => `a${i}: viewer { id }`).join(" ")} }`, "ALIAS_LIMIT_EXCEEDED");
  });

  it("refuses a token flood before parsing it all", async () => {
    await refused(`{ viewer { ${"id ".repeat(5000)} } }`, "TOKEN_LIMIT_EXCEEDED");
  });

  it("refuses a directive flood", async () => {
    await refused(`{ viewer { id ${"@include(if: true) ".repeat(100)} } }`, "DIRECTIVE_LIMIT_EXCEEDED");
  });

  it("refuses a document over the cost budget", async () => {
    const cheap = await createTestApp({ GRAPHQL_MAX_COST: "50" });
    try {
      await refused(`{ organizations(first: 100) { edges { node { id name slug members(first: 100) { edges { node { id status user { id email name } role { id key name } } } } } } } }`, "COST_LIMIT_EXCEEDED", cheap);
    } finally {
      await cheap.close();
    }
  });

  it("keeps ordinary queries working", async () => {
    const result = await t.gql(
      `query($id: ID!) { organization(id: $id) { name viewerCan { update addMember } members(first: 50, orderBy: { field: EMAIL }) { totalCount edges { node { id role { key } user { email name } viewerCan { updateRole remove } } } } roles(first: 20) { edges { node { key viewerCan { assign } } } } } }`,
      { id: acme.orgGid },
      acme.owner.token,
    );
    expect(result.errors).toBeUndefined();
  });
});

describe("request limits", () => {
  it("answers 413 to a body over MAX_BODY_BYTES, declared or chunked", async () => {
    const body = JSON.stringify({ query: "{ viewer { id } }", variables: { pad: "x".repeat(1_100_000) } });
    const declared = await t.app.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json", "content-length": String(body.length) }, body });
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as any).errors[0].extensions.code).toBe("PAYLOAD_TOO_LARGE");
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 12; i++) controller.enqueue(new TextEncoder().encode(body.slice(i * 100_000, (i + 1) * 100_000)));
        controller.close();
      },
    });
    const chunked = await t.app.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: stream, duplex: "half" } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it("refuses batched requests unless GRAPHQL_MAX_BATCH allows them, and then caps them", async () => {
    const batch = (n: number, app: TestApp) =>
      app.app.fetch("http://localhost/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${acme.owner.token}` },
        body: JSON.stringify(Array.from({ length: n }, () => ({ query: "{ viewer { email } }" }))),
      });
    expect((await batch(2, t)).status).toBeGreaterThanOrEqual(400);
    const batching = await createTestApp({ GRAPHQL_MAX_BATCH: "2" });
    try {
      const ok = await batch(2, batching);
      expect(ok.status).toBe(200);
      expect((await batch(3, batching)).status).toBeGreaterThanOrEqual(400);
    } finally {
      await batching.close();
    }
  });

  // The embedded database runs queries on the server's own thread, so a timer can't overtake
  // them there; on PostgreSQL every query yields, and the timeout answers.
  it.runIf(!!TEST_DATABASE_URL)("stops an execution that runs past REQUEST_TIMEOUT_MS with TIMEOUT", async () => {
    const slow = await createTestApp({ REQUEST_TIMEOUT_MS: "1" });
    try {
      const owner = await slow.db.prisma.user.create({ data: { email: "slow@acme.example" } });
      const { createApiToken } = await import("../src/domain/api-tokens.js");
      const { token } = await createApiToken(slow.db.prisma, owner.id, { name: "t" });
      const orgs = await slow.db.prisma.organization.createManyAndReturn({
        data: Array.from({ length: 30 }, (_, i) => ({ slug: `slow-${i}`, name: `Slow ${i}`, createdById: owner.id, ownerId: owner.id })),
      });
      await slow.db.prisma.member.createMany({ data: orgs.map((org) => ({ organizationId: org.id, userId: owner.id, roleId: "00000000-0000-7000-8000-000000000001" })) });
      const result = await slow.gql(`{ organizations(first: 50) { totalCount edges { node { members(first: 50) { totalCount } } } } a: organizations(first: 50) { totalCount } }`, {}, token);
      expect(result.errors?.[0]?.extensions?.code).toBe("TIMEOUT");
    } finally {
      await slow.close();
    }
  });
});

describe("statement_timeout", () => {
  // PGlite can't cancel a running statement, so this is a PostgreSQL guarantee only.
  it.runIf(!!TEST_DATABASE_URL)("ends a runaway statement with an error the API answers as TIMEOUT; migrations run without it", async () => {
    const { openDatabase } = await import("../src/db/client.js");
    const { createThrowawayDatabase } = await import("./helpers.js");
    const { toGraphQLError } = await import("../src/graphql/errors.js");
    const { createLogger } = await import("../src/logger.js");
    const throwaway = TEST_DATABASE_URL ? await createThrowawayDatabase(TEST_DATABASE_URL) : null;
    const db = await openDatabase({ databaseUrl: throwaway?.url, dataDir: "", inMemory: !throwaway, poolSize: 2, statementTimeoutMs: 100 });
    try {
      const sql = await db.sqlRunner();
      await sql.query("SELECT pg_sleep(0.3)"); // the migration/CLI runner has no timeout
      sql.release();
      const error = await db.prisma.$queryRaw`SELECT pg_sleep(2)`.then(() => null, (e: unknown) => e);
      expect(error).not.toBeNull();
      const answered = toGraphQLError(error, createLogger("silent"));
      expect(answered.extensions.code).toBe("TIMEOUT");
      expect(answered.message).not.toMatch(/pg_sleep|SELECT/);
    } finally {
      await db.close();
      await throwaway?.drop();
    }
  });
});

describe("a pool with no connection free", () => {
  it.runIf(!!TEST_DATABASE_URL)("answers what a busy pool can't serve in time (a transaction that can't start, a statement waiting for a connection: DATABASE_BUSY; a transaction past its timeout: TRANSACTION_TIMEOUT) as SERVICE_UNAVAILABLE, not as an internal error", async () => {
    const { openDatabase } = await import("../src/db/client.js");
    const { createThrowawayDatabase, holdConnection } = await import("./helpers.js");
    const { toGraphQLError } = await import("../src/graphql/errors.js");
    const { createLogger } = await import("../src/logger.js");
    const throwaway = await createThrowawayDatabase(TEST_DATABASE_URL!);
    const db = await openDatabase({ databaseUrl: throwaway.url, dataDir: "", poolSize: 1 });
    try {
      const release = await holdConnection(db);
      const error = await db.prisma.$transaction(async (tx) => tx.$queryRaw`SELECT 1`, { maxWait: 100 }).then(() => null, (e: unknown) => e);
      await release();
      expect(error).not.toBeNull();
      let reported = false;
      const answered = toGraphQLError(error, createLogger("silent"), () => (reported = true));
      expect(answered.extensions).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "DATABASE_BUSY" });
      expect(reported).toBe(false); // busy is no outage: the service doesn't fail fast for it
      // A plain statement waiting longer than DATABASE_CONNECT_TIMEOUT_MS for a connection: busy too.
      const short = await openDatabase({ databaseUrl: throwaway.url, dataDir: "", poolSize: 1, connectTimeoutMs: 200 });
      try {
        const releaseShort = await holdConnection(short);
        const waited = await short.prisma.user.count().then(() => null, (e: unknown) => e);
        await releaseShort();
        expect(waited).not.toBeNull();
        expect(toGraphQLError(waited, createLogger("silent"), () => (reported = true)).extensions).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "DATABASE_BUSY" });
        expect(reported).toBe(false);
      } finally {
        await short.close();
      }
      // A transaction that outlives its timeout (rolled back by Prisma): retriable, nothing stored.
      const expired = await db.prisma.$transaction(async (tx) => {
        await tx.$executeRaw`CREATE TABLE expired_probe (id int)`;
        await new Promise((resolve) => setTimeout(resolve, 300));
        await tx.$executeRaw`INSERT INTO expired_probe VALUES (1)`;
      }, { timeout: 100 }).then(() => null, (e: unknown) => e);
      expect(String(expired)).toMatch(/expired transaction/);
      expect(toGraphQLError(expired, createLogger("silent"), () => (reported = true)).extensions).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "TRANSACTION_TIMEOUT" });
      expect(await db.query<{ table: string | null }>(`SELECT to_regclass('expired_probe')::text AS "table"`)).toEqual([{ table: null }]);
    } finally {
      await db.close();
      await throwaway.drop();
    }
  });
});

describe("errors never leak internals", () => {
  it("an unexpected failure is INTERNAL_SERVER_ERROR with the request id, and nothing else", async () => {
    const broken = await createTestApp();
    const { token } = await (async () => {
      const { userWithToken } = await import("./helpers.js");
      return userWithToken(broken.db, "broken@example.com");
    })();
    await broken.db.prisma.$executeRawUnsafe(`ALTER TABLE "ApiToken" RENAME TO "ApiTokenGone"`);
    try {
      const response = await broken.app.fetch("http://localhost/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "x-request-id": "req-leak-test" },
        body: JSON.stringify({ query: "{ viewer { email } }" }),
      });
      const text = await response.text();
      expect(response.status).toBeLessThan(600);
      const body = JSON.parse(text) as { errors: { message: string; extensions: Record<string, unknown> }[] };
      expect(body.errors[0]!.extensions).toMatchObject({ code: "INTERNAL_SERVER_ERROR", requestId: "req-leak-test" });
      expect(body.errors[0]!.message).toBe("Unexpected error.");
      expect(text).not.toMatch(/ApiToken|prisma|SELECT|node_modules|\.ts:/i);
    } finally {
      await broken.db.prisma.$executeRawUnsafe(`ALTER TABLE "ApiTokenGone" RENAME TO "ApiToken"`);
      await broken.close();
    }
  });
});
