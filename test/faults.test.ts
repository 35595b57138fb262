// The database faults of an ordinary week, caused for real against PostgreSQL: the link cut by
// a TCP proxy (an outage, a restart), the service's backends terminated, connections killed
// under load. The service must answer fast and clearly while it lasts, lose no acknowledged
// write, and recover by itself.
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { openDatabase, type Database } from "../src/db/client.js";
import { createLogger } from "../src/logger.js";
import { toGraphQLError } from "../src/graphql/errors.js";
import { createApp, type App } from "../src/server.js";
import { startTcpProxy, type TcpProxy } from "./fixtures/tcp-proxy.js";
import { openTestDatabase, TEST_DATABASE_URL, userWithToken, type TestDatabase, type TestUser } from "./helpers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(!!TEST_DATABASE_URL)("database faults (PostgreSQL behind a TCP proxy)", () => {
  let database: TestDatabase; // the test's own connections, not through the proxy
  let direct: Database;
  let proxy: TcpProxy;
  let served: Database; // the service's connections, through the proxy
  let app: App;
  let owner: TestUser;
  let admin: pg.Client;
  let databaseName: string;
  let proxiedUrl: string;

  beforeAll(async () => {
    database = await openTestDatabase();
    direct = database.db;
    databaseName = new URL(database.url!).pathname.slice(1);
    owner = await userWithToken(direct, "owner@faults.example");

    const target = new URL(database.url!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(database.url!);
    viaProxy.hostname = "127.0.0.1";
    viaProxy.port = String(proxy.port);
    proxiedUrl = viaProxy.toString();
    const config = loadConfig({ LOG_LEVEL: "silent", RATE_LIMITS: "0", DATABASE_URL: viaProxy.toString() });
    served = await openDatabase({
      databaseUrl: viaProxy.toString(),
      dataDir: "",
      poolSize: 5,
      statementTimeoutMs: config.limits.statementTimeoutMs,
      connectTimeoutMs: config.databaseConnectTimeoutMs,
    });
    app = createApp({ config, db: served, logger: createLogger((process.env.TEST_LOG_LEVEL as "warn" | undefined) ?? "silent", "stderr") });
    admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await app?.dispose();
    await served?.close();
    await proxy?.close();
    await database?.close();
  });

  async function gql(query: string, variables: Record<string, unknown> = {}, timeoutMs = 10_000) {
    const started = performance.now();
    const response = await app.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string; reason?: string } }[] };
    return { status: response.status, body, ms: performance.now() - started, code: body.errors?.[0]?.extensions?.code, retryAfter: response.headers.get("retry-after") };
  }

  async function readyz() {
    const started = performance.now();
    const response = await app.fetch("http://localhost/readyz");
    return { status: response.status, body: (await response.json()) as Record<string, unknown>, ms: performance.now() - started };
  }

  /** A ping answered within the last 250 ms is reused: probe like an orchestrator until the outage shows. */
  async function readyzUntil503(limitMs = 3_000) {
    const began = performance.now();
    for (;;) {
      const ready = await readyz();
      if (ready.status === 503 || performance.now() - began > limitMs) return ready;
      await sleep(100);
    }
  }

  async function untilServing(limitMs: number): Promise<number> {
    const began = performance.now();
    while (performance.now() - began < limitMs) {
      const result = await gql("{ viewer { email } }");
      if (result.status === 200 && !result.body.errors) return performance.now() - began;
      await sleep(100);
    }
    throw new Error(`not serving again within ${limitMs} ms`);
  }

  const terminateBackends = async () =>
    (await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [databaseName])).rowCount ?? 0;

  it("an outage: readyz 503 and GraphQL SERVICE_UNAVAILABLE within 2 s, healthz 200, and recovery within 5 s without a restart", async () => {
    expect((await gql("{ viewer { email } }")).body.data.viewer.email).toBe("owner@faults.example");
    expect((await readyz()).status).toBe(200);

    proxy.cut("reset");
    const outage = performance.now();
    const ready = await readyzUntil503();
    expect(ready.body).toEqual({ status: "unavailable", message: "The database can't be reached", database: "postgresql" }); // no host, address or user
    expect(performance.now() - outage).toBeLessThan(2_000);
    expect((await app.fetch("http://localhost/healthz")).status).toBe(200);

    for (const query of ["{ viewer { email } }", `mutation { createOrganization(input: { name: "During outage" }) { organization { id } } }`]) {
      for (let i = 0; i < 3; i++) {
        const result = await gql(query);
        expect(result.ms).toBeLessThan(2_000);
        expect(result.status).toBe(503);
        expect(result.code).toBe("SERVICE_UNAVAILABLE");
        expect(result.retryAfter).toBe("2");
      }
    }
    expect((await readyz()).status).toBe(503);

    proxy.restore();
    const recovered = await untilServing(5_000);
    expect(recovered).toBeLessThan(5_000);
    expect((await readyz()).status).toBe(200);
    expect(await direct.prisma.organization.count({ where: { name: "During outage" } })).toBe(0);
  });

  it("a database that stops answering (packets dropped): readyz 503 within 2 s, new requests fail fast, recovery", async () => {
    await untilServing(5_000);
    proxy.cut("blackhole");
    const began = performance.now();
    await readyzUntil503();
    expect(performance.now() - began).toBeLessThan(2_000);
    const result = await gql("{ viewer { email } }");
    expect(result.status).toBe(503);
    expect(result.ms).toBeLessThan(2_000);
    proxy.restore();
    // The pool's connections from before stay silent forever (nothing resets them); the
    // service drops them once a ping answers again, and serves on new ones.
    expect(await untilServing(5_000)).toBeLessThan(5_000);
  });

  it("a busy pool is not an outage: readyz stays 200 while every connection is in use", async () => {
    await untilServing(5_000);
    // (a Prisma query starts when awaited: then() starts it now)
    const busy = Array.from({ length: 6 }, () => served.prisma.$queryRawUnsafe("SELECT 1 AS slept FROM pg_sleep(1)").then(() => "done"));
    await sleep(200);
    expect(served.poolStats()!.waiting).toBeGreaterThan(0);
    const ready = await readyz();
    expect(ready.status).toBe(200);
    expect(ready.ms).toBeLessThan(1_000);
    await Promise.all(busy);
    expect((await gql("{ viewer { email } }")).status).toBe(200);
  });

  it("pg_terminate_backend on the service's connections: at most a retriable error, then serving again", async () => {
    await untilServing(5_000);
    await Promise.all(Array.from({ length: 5 }, () => gql("{ viewer { email } organizations(first: 5) { totalCount } }")));
    expect(await terminateBackends()).toBeGreaterThan(0);
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await gql("{ viewer { email } }"));
    for (const result of results) {
      if (result.status === 200 && !result.body.errors) continue;
      expect(result.code).toBe("SERVICE_UNAVAILABLE");
    }
    expect(await untilServing(5_000)).toBeLessThan(5_000);
  });

  it("a connection reset under a transaction's statement is SERVICE_UNAVAILABLE: the adapter's own error, which Prisma passes on unwrapped", async () => {
    // Prisma's transaction manager runs BEGIN/COMMIT/ROLLBACK through the adapter and lets its
    // DriverAdapterError through as is: no code, no message, only cause.kind.
    const pool = new pg.Pool({ connectionString: proxiedUrl, max: 1 });
    try {
      const adapter = await new PrismaPg(pool).connect();
      const transaction = await adapter.startTransaction();
      const statement = transaction.executeRaw({ sql: "SELECT pg_sleep(5)", args: [], argTypes: [] }).then(
        () => null,
        (error: unknown) => error,
      );
      await sleep(200);
      proxy.cut("reset");
      const error = (await statement) as { name?: string; cause?: { kind?: string } } | null;
      proxy.restore();
      await transaction.rollback(); // gives the dead connection back, so the pool can end
      expect(error?.name).toBe("DriverAdapterError");
      expect(error?.cause?.kind).toBe("ConnectionClosed");
      const answer = toGraphQLError(error, createLogger("silent", "stderr"));
      expect(answer.extensions).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "DATABASE_UNAVAILABLE", http: { status: 503 } });
    } finally {
      proxy.restore();
      await pool.end().catch(() => undefined);
    }
    expect(await untilServing(5_000)).toBeLessThan(5_000);
  }, 15_000);

  it("connections killed under load: each request succeeds or fails retriably; every acknowledged write is stored with its audit event, none half-applied", async () => {
    await untilServing(5_000);
    const acknowledged: string[] = [];
    const outcomes = new Map<string, number>();
    let stop = false;
    let n = 0;
    const worker = async (w: number) => {
      while (!stop) {
        const write = n++ % 2 === 0;
        const slug = `load-${w}-${n}`;
        const result = write
          ? await gql(`mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id slug } } }`, { input: { name: `Load ${slug}`, slug } })
          : await gql("{ viewer { email } organizations(first: 3) { totalCount edges { node { slug memberCount } } } }");
        const outcome = result.status === 200 && !result.body.errors ? "ok" : `${result.status}:${result.code}`;
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        if (write && outcome === "ok") acknowledged.push(result.body.data.createOrganization.organization.slug);
        if (outcome !== "ok") await sleep(50);
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    for (let round = 0; round < 6; round++) {
      await sleep(400);
      await terminateBackends();
      if (round === 3) {
        proxy.cut("reset");
        await sleep(300);
        proxy.restore();
      }
    }
    await sleep(1_000);
    stop = true;
    await Promise.all(workers);

    const kinds = [...outcomes.keys()];
    expect(kinds.every((kind) => kind === "ok" || kind === "503:SERVICE_UNAVAILABLE"), JSON.stringify(Object.fromEntries(outcomes))).toBe(true);
    expect(outcomes.get("ok")).toBeGreaterThan(10);
    expect(outcomes.get("503:SERVICE_UNAVAILABLE") ?? 0).toBeGreaterThan(0); // the faults did land
    expect(acknowledged.length).toBeGreaterThan(5);

    const stored = await direct.prisma.organization.findMany({ where: { slug: { startsWith: "load-" } }, select: { id: true, slug: true } });
    const storedSlugs = new Set(stored.map((organization) => organization.slug));
    for (const slug of acknowledged) expect(storedSlugs.has(slug), `acknowledged ${slug} is stored`).toBe(true);
    // Every stored organization (acknowledged or not) committed with its audit event and its owner.
    for (const organization of stored) {
      expect(await direct.prisma.auditEvent.count({ where: { organizationId: organization.id } }), organization.slug).toBeGreaterThanOrEqual(1);
      expect(await direct.prisma.member.count({ where: { organizationId: organization.id } }), organization.slug).toBe(1);
    }
    expect(await untilServing(5_000)).toBeLessThan(5_000);
  }, 60_000);
});
