// A deploy's SIGTERM in the middle of a stream of mutations, on a real process and PostgreSQL:
// not ready at once, no new connections, every accepted request answered, every acknowledged
// write stored, the pool closed, exit code 0.
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { Database } from "../src/db/client.js";
import { startServer, type ServerProcess } from "./fixtures/server-process.js";
import { openTestDatabase, TEST_DATABASE_URL, userWithToken, type TestDatabase } from "./helpers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(!!TEST_DATABASE_URL)("SIGTERM during a stream of mutations (PostgreSQL)", () => {
  let database: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    database = await openTestDatabase();
    db = database.db;
  });
  afterAll(() => database?.close());

  it("answers every accepted request, stores every acknowledged write, refuses new connections, exits 0", async () => {
    const { token } = await userWithToken(db, "deployer@shutdown.example");
    const server: ServerProcess = await startServer({ DATABASE_URL: database.url!, RATE_LIMITS: "0", SHUTDOWN_TIMEOUT_MS: "10000" });
    onTestFinished(() => {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL"); // a failed run leaves no server behind
    });
    const acknowledged: string[] = [];
    const unanswered: string[] = []; // the connection failed before any response
    const answeredOther: string[] = [];
    let signalled = false;
    let stop = false;
    let n = 0;

    const worker = async (w: number) => {
      while (!stop) {
        const slug = `deploy-${w}-${n++}`;
        try {
          const response = await fetch(`${server.url}/graphql`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
            body: JSON.stringify({ query: `mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { slug } } }`, variables: { input: { name: slug, slug } } }),
          });
          const body = (await response.json()) as { data?: { createOrganization?: { organization: { slug: string } } }; errors?: unknown[] };
          if (response.status === 200 && body.data?.createOrganization) acknowledged.push(slug);
          else answeredOther.push(`${slug}: ${response.status} ${JSON.stringify(body.errors)}`);
        } catch {
          unanswered.push(slug);
          if (signalled) return; // refused: the server no longer accepts
          await sleep(20);
        }
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => worker(w));
    for (const began = Date.now(); acknowledged.length < 10 && Date.now() - began < 30_000; ) await sleep(50);
    const beforeSignal = acknowledged.length;
    expect(beforeSignal, `${answeredOther.slice(0, 3).join("\n")} ${unanswered.length} unanswered`).toBeGreaterThan(5);

    signalled = true;
    server.child.kill("SIGTERM");
    while (!server.log().includes("shutting down:")) await sleep(5);
    // Once the signal is handled, readiness is never 200: 503 on a connection still open, else refused.
    const probes: string[] = [];
    // Probe until refused: a keep-alive probe connection is answered 503 until the in-flight
    // requests are done and it is closed (within SHUTDOWN_TIMEOUT_MS).
    for (let i = 0; i < 10 || (probes.at(-1) !== "refused" && i < 500); i++) {
      probes.push(await fetch(`${server.url}/readyz`).then((response) => String(response.status), () => "refused"));
      await sleep(20);
    }
    expect(probes.every((probe) => probe === "503" || probe === "refused"), probes.join(",")).toBe(true);
    expect(probes.at(-1)).toBe("refused");

    const code = await server.exited;
    stop = true;
    await Promise.all(workers);
    expect(code).toBe(0);
    expect(server.log()).toMatch(/"msg":"shutting down: no new connections, finishing in-flight requests"/);
    expect(server.log()).toMatch(/"msg":"stopped"/);
    expect(answeredOther).toEqual([]);

    // Acknowledged ⇒ stored (with its audit event); no answer ⇒ never accepted, so not stored.
    const stored = new Set((await db.prisma.organization.findMany({ where: { slug: { startsWith: "deploy-" } }, select: { slug: true } })).map((row) => row.slug));
    for (const slug of acknowledged) expect(stored.has(slug), `acknowledged ${slug} is stored`).toBe(true);
    for (const slug of unanswered) expect(stored.has(slug), `${slug} got no answer yet was applied`).toBe(false);
    expect(stored.size).toBe(acknowledged.length);
    expect(await db.prisma.auditEvent.count({ where: { action: "organization.created" } })).toBeGreaterThanOrEqual(acknowledged.length);
    // The service's pool is closed: no backend of it is left on the server.
    const left = await db.prisma.$queryRawUnsafe<{ count: bigint }[]>(
      "SELECT count(*) AS count FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    expect(Number(left[0]!.count)).toBeLessThanOrEqual(1); // this test's own second pool connection at most
  }, 90_000);
});
