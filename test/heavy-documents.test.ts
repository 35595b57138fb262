// Heavy documents run a few at a time (src/graphql/heavy-documents.ts): the gate itself, the
// size estimate that decides which documents are heavy (src/graphql/argument-limits.ts), and an
// app whose every document is heavy answering concurrent requests exactly as an uncapped one.
import { getOperationAST, parse } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Q0, Q1, Q2, Q3, Q4, W1 } from "../bench/queries.js";
import { loadConfig } from "../src/config.js";
import { createApiToken } from "../src/domain/api-tokens.js";
import { seedDemo } from "../src/domain/seed.js";
import { estimatedFields } from "../src/graphql/argument-limits.js";
import { ConcurrencyGate, GateTimeout } from "../src/graphql/heavy-documents.js";
import { getSchema } from "../src/graphql/schema.js";
import { createLogger } from "../src/logger.js";
import { createApp, type App } from "../src/server.js";
import { openTestDatabase, type TestDatabase } from "./helpers.js";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("ConcurrencyGate", () => {
  it("runs at most `limit` tasks at once, the rest in arrival order", async () => {
    const gate = new ConcurrencyGate(2);
    const releases = Array.from({ length: 5 }, deferred);
    const started: number[] = [];
    let peak = 0;
    const runs = releases.map((release, i) =>
      gate.run(async () => {
        started.push(i);
        peak = Math.max(peak, gate.running);
        await release.promise;
        return i;
      }),
    );
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toEqual([0, 1]);
    expect([gate.running, gate.waiting]).toEqual([2, 3]);
    releases[1]!.resolve();
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toEqual([0, 1, 2]);
    for (const release of releases) release.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
    expect([gate.running, gate.waiting]).toEqual([0, 0]);
  });

  it("frees the slot when a task throws", async () => {
    const gate = new ConcurrencyGate(1);
    await expect(gate.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await gate.run(() => "next")).toBe("next");
    expect(gate.running).toBe(0);
  });

  it("drops a task whose request timed out while it waited, and hands its slot on", async () => {
    const gate = new ConcurrencyGate(1);
    const hold = deferred();
    const first = gate.run(() => hold.promise);
    let ranLate = false;
    const late = gate.run(() => {
      ranLate = true;
    }, performance.now() + 5);
    const third = gate.run(() => "third");
    await new Promise((r) => setTimeout(r, 20));
    hold.resolve();
    await first;
    await expect(late).rejects.toBeInstanceOf(GateTimeout);
    expect(ranLate).toBe(false);
    expect(await third).toBe("third");
    expect([gate.running, gate.waiting]).toEqual([0, 0]);
  });
});

describe("estimatedFields", () => {
  const estimate = (query: string, variables: Record<string, unknown> = {}) => {
    const document = parse(query);
    return estimatedFields(getSchema(), document, getOperationAST(document)!, variables, 20);
  };

  it("counts each field once per object it is asked of", () => {
    expect(estimate(Q0)).toBe(1);
    // organization, id, name, members, totalCount, edges + 50 × (node, its 5 fields, role's 2, user's 4)
    expect(estimate(Q1, { slug: "x" })).toBe(6 + 50 * 12);
    expect(estimate(Q2)).toBe(3 + 100 * (7 + 50 * 12));
    expect(estimate(Q2)).toBeGreaterThanOrEqual(10_000);
    expect(estimate(Q1, { slug: "x" })).toBeLessThan(10_000);
    for (const small of [Q3, Q4, W1]) expect(estimate(small, { slug: "x", search: "y", id: "z", input: {} })).toBeLessThan(10_000);
  });

  it("follows fragments and variables, and the default page size", () => {
    const withFragment = `query($n: Int) { organizations(first: 10) { edges { node { ...O } } } }
      fragment O on Organization { members(first: $n) { edges { node { id } } } }`;
    expect(estimate(withFragment, { n: 30 })).toBe(2 + 10 * (3 + 30 * 2));
    expect(estimate(withFragment, {})).toBe(2 + 10 * (3 + 20 * 2));
    expect(estimate(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: ["a", "b", "c"] })).toBe(1 + 3);
  });
});

describe("an app whose every document is heavy", () => {
  let test: TestDatabase;
  let capped: App;
  let uncapped: App;
  let token: string;

  beforeAll(async () => {
    test = await openTestDatabase();
    await seedDemo(test.db.prisma);
    const owner = await test.db.prisma.member.findFirstOrThrow({ where: { organization: { slug: "acme" }, roleId: "00000000-0000-7000-8000-000000000001" } });
    token = (await createApiToken(test.db.prisma, owner.userId, { name: "heavy" })).token;
    const logger = createLogger("silent");
    capped = createApp({ config: loadConfig({ LOG_LEVEL: "silent", RATE_LIMITS: "false", HEAVY_QUERY_FIELDS: "1", HEAVY_QUERY_CONCURRENCY: "1" }), db: test.db, logger });
    uncapped = createApp({ config: loadConfig({ LOG_LEVEL: "silent", RATE_LIMITS: "false", HEAVY_QUERY_CONCURRENCY: "0" }), db: test.db, logger });
  });
  afterAll(async () => {
    await test?.close();
  });

  const ask = async (app: App, query: string, variables: Record<string, unknown> = {}) => {
    const response = await app.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return response.text();
  };

  it("answers concurrent requests one at a time with the same JSON, and reports its slots", async () => {
    const requests = [...Array.from({ length: 4 }, () => [Q2, {}] as const), ...Array.from({ length: 4 }, () => [Q1, { slug: "acme" }] as const)];
    const answers = await Promise.all(requests.map(([query, variables]) => ask(capped, query, variables)));
    const expected = await Promise.all(requests.map(([query, variables]) => ask(uncapped, query, variables)));
    expect(answers).toEqual(expected);
    expect(JSON.parse(answers[0]!).data.organizations.edges.length).toBeGreaterThan(0);
    const metrics = await (await capped.fetch("http://localhost/metrics")).text();
    expect(metrics).toContain('graphql_heavy_documents{state="max"} 1');
    expect(metrics).toContain('graphql_heavy_documents{state="running"} 0');
    expect(metrics).toContain('graphql_heavy_documents{state="waiting"} 0');
  });
});
