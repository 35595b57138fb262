// The service as an operator meets it: `npm start` in a real process on a real socket, the
// demo token in its log, GraphiQL, health endpoints, graceful shutdown, the embedded
// database's single-owner lock, the CLI, and configuration errors.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gql, runCli, startServer, stopServer as stop, type ServerProcess as Server } from "./fixtures/server-process.js";
import { createThrowawayDatabase, TEST_DATABASE_URL } from "./helpers.js";

const cli = (args: string[], env: Record<string, string | undefined>) => runCli(args, env, 60_000);

const OVERVIEW = "{ viewer { email } organizations(first: 5) { totalCount edges { node { slug memberCount } } } }";

describe.runIf(!TEST_DATABASE_URL)("npm start on the embedded database", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mg-start-"));
  // The shutdown test needs a request that is still running when SIGTERM arrives: a document
  // far over the default alias and cost limits, allowed here on purpose.
  const env = { DATA_DIR: dataDir, DATABASE_URL: undefined, GRAPHQL_MAX_ALIASES: "100", GRAPHQL_MAX_COST: "1000000000" };
  let server: Server;
  let token: string;

  beforeAll(async () => {
    server = await startServer(env);
  }, 90_000);
  afterAll(async () => {
    if (server.child.exitCode === null) await stop(server);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("seeds the demo data and logs one working demo token", async () => {
    const tokens = server.log().match(/pat_[A-Za-z0-9_-]{43}/g) ?? [];
    expect(new Set(tokens).size).toBe(1);
    expect(server.log()).toContain('paste into GraphiQL');
    token = tokens[0]!;
    const result = await gql(server.url, OVERVIEW, token);
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data.viewer.email).toBe("demo@example.com");
    expect(result.body.data.organizations.totalCount).toBe(3);
    const acme = result.body.data.organizations.edges.find((edge: any) => edge.node.slug === "acme");
    expect(acme.node.memberCount).toBeGreaterThan(30);
  });

  it("serves GraphiQL to browsers and health checks as JSON", async () => {
    const page = await fetch(`${server.url}/graphql`, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/graphiql/i);
    const health = await fetch(`${server.url}/healthz`);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", database: "embedded" });
  });

  it("logs each request as JSON with its request id and echoes the id", async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "trace-abc-123" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(response.headers.get("x-request-id")).toBe("trace-abc-123");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const line = server.log().split("\n").find((l) => l.includes('"requestId":"trace-abc-123"'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ method: "POST", path: "/graphql", status: 200 });
  });

  it("refuses a CLI command on the DATA_DIR the server holds", () => {
    const result = cli(["create-token", "--email", "x@example.com"], env);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/in use by process \d+/);
    expect(result.stdout).toBe("");
  });

  it("finishes in-flight requests on SIGTERM, then releases the database", async () => {
    const aliases = Array.from({ length: 40 }, (_, i) => `o${i}: organizations(first: 50) { edges { node { members(first: 100) { edges { node { user { email } role { key memberCount } } } } } } }`).join("\n");
    const inFlight = gql(server.url, `{ ${aliases} }`, token);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const code = stop(server);
    const result = await inFlight;
    expect(result.status).toBe(200);
    expect(result.body.errors).toBeUndefined();
    expect(await code).toBe(0);
    expect(server.log()).toContain('"msg":"stopped"');
    expect(fs.existsSync(path.join(dataDir, "lock.pid"))).toBe(false);
  });

  it("CLI: create-token prints only the token; seed and migrate are idempotent", async () => {
    const created = cli(["create-token", "--email", "New.Person@Example.com", "--name", "ci", "--expires-in-days", "3"], env);
    expect(created.status, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^pat_[A-Za-z0-9_-]{43}\n$/);
    const seed = cli(["seed"], env);
    expect(seed.status, seed.stderr).toBe(0);
    expect(seed.stderr).toContain("already present");
    const migrate = cli(["migrate"], env);
    expect(migrate.status, migrate.stderr).toBe(0);
    expect(migrate.stderr).toContain("no pending migrations");
    const unknown = cli(["frobnicate"], env);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Usage:");
    const missing = cli(["create-token"], env);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("--email");
    const badEmail = cli(["create-token", "--email", "not-an-email"], env);
    expect(badEmail.status).toBe(1);
    expect(badEmail.stderr).toContain("not a valid email");
    const operator = cli(["grant-operator", "--email", "new.person@example.com"], env);
    expect(operator.status, operator.stderr).toBe(0);
    expect(operator.stderr).toContain("operator role granted");
    const verified = cli(["verify-phone", "--phone", "+14155550199", "--user", "new.person@example.com"], env);
    expect(verified.status, verified.stderr).toBe(0);
    const nobody = cli(["grant-operator", "--email", "nobody@example.com"], env);
    expect(nobody.status).toBe(1);
    expect(nobody.stderr).toContain("not found");

    // The data survived the restart, no second demo token is printed, and the CLI token works.
    server = await startServer(env);
    expect(server.log()).not.toMatch(/pat_[A-Za-z0-9_-]{43}/);
    const viewer = await gql(server.url, "{ viewer { email isOperator phones { phoneNumber isVerified } } organizations(first: 1) { totalCount } }", created.stdout.trim());
    expect(viewer.body.data).toEqual({
      viewer: { email: "new.person@example.com", isOperator: true, phones: [{ phoneNumber: "+14155550199", isVerified: true }] },
      organizations: { totalCount: 0 },
    });
  }, 120_000);
});

describe.runIf(!!TEST_DATABASE_URL)("npm start on PostgreSQL", () => {
  let database: { url: string; drop: () => Promise<void> };
  beforeAll(async () => {
    database = await createThrowawayDatabase(TEST_DATABASE_URL!);
  });
  afterAll(() => database.drop());

  it("serves an unmigrated database as not ready, says why, and turns ready once migrated, without a restart", async () => {
    const server = await startServer({ DATABASE_URL: database.url });
    try {
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { status: string; message: string; pending: string[] };
      expect(body.status).toBe("migrations_pending");
      expect(body.message).toMatch(/db:migrate/);
      expect(body.pending).toContain("20261124120000_init");
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const refused = await gql(server.url, "{ __typename }");
      expect(refused.status).toBe(503);
      expect(refused.body.errors[0].extensions).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "MIGRATIONS_PENDING" });
      expect(server.log()).toMatch(/not ready: The database is behind/);

      const migrate = cli(["migrate"], { DATABASE_URL: database.url });
      expect(migrate.status, migrate.stderr).toBe(0);
      const deadline = Date.now() + 15_000;
      let status = 0;
      while (Date.now() < deadline && status !== 200) {
        status = (await fetch(`${server.url}/readyz`)).status;
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(status).toBe(200);
      expect((await gql(server.url, "{ __typename }")).body.data).toEqual({ __typename: "Query" });
    } finally {
      expect(await stop(server)).toBe(0);
    }
  }, 60_000);

  it("runs CLI commands and servers side by side", async () => {
    const migrate = cli(["migrate"], { DATABASE_URL: database.url });
    expect(migrate.status, migrate.stderr).toBe(0);
    const server = await startServer({ DATABASE_URL: database.url, SEED_DEMO: "1" });
    try {
      expect((await (await fetch(`${server.url}/readyz`)).json())).toEqual({ status: "ready", database: "postgresql" });
      const token = cli(["create-token", "--email", "demo@example.com"], { DATABASE_URL: database.url });
      expect(token.status, token.stderr).toBe(0);
      const result = await gql(server.url, OVERVIEW, token.stdout.trim());
      expect(result.body.data.organizations.totalCount).toBe(3);
      const second = await startServer({ DATABASE_URL: database.url });
      const again = await gql(second.url, OVERVIEW, token.stdout.trim());
      expect(again.body.data.organizations.totalCount).toBe(3);
      expect(await stop(second)).toBe(0);
    } finally {
      expect(await stop(server)).toBe(0);
    }
  });
});

describe("configuration errors", () => {
  it.each([
    [{ PORT: "abc" }, "PORT must be a whole number"],
    [{ DATABASE_URL: "mysql://x@y/z" }, "DATABASE_URL must start with postgresql://"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL must be one of"],
    [{ MIGRATE_ON_START: "maybe", DATABASE_URL: "postgresql://x@127.0.0.1/y" }, "MIGRATE_ON_START must be true or false"],
  ])("stops at start with a clear message for %j", async (env, message) => {
    const result = cli(["migrate"], env);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(message);
  });
});
