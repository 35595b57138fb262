// What an operator sees: Prometheus metrics at /metrics (or on METRICS_PORT), one JSON log line
// per request with its id, operation, viewer and error codes, and no secret in any log line.
import { Writable } from "node:stream";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { createMetrics, metricsServer } from "../src/observability/metrics.js";
import { createApp } from "../src/server.js";
import { createTestApp, databaseKind, orgWithPeople, userWithToken, type OrgFixture, type TestApp } from "./helpers.js";

class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.text += chunk.toString();
    done();
  }
  lines(): Record<string, any>[] {
    return this.text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
  }
}

let t: TestApp;
let acme: OrgFixture;
const log = new Capture();

beforeAll(async () => {
  // trace: everything any part of the service would ever log.
  t = await createTestApp({ RATE_LIMIT_SENSITIVE_WRITES: "3" }, { logger: createLogger("trace", log) });
  acme = await orgWithPeople(t.db, "obs");
});
afterAll(() => t.close());

async function metricsText(app = t.app): Promise<string> {
  const response = await app.fetch("http://localhost/metrics");
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => present[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe("GET /metrics", () => {
  it("counts requests by operation and outcome, errors by code, and SQL statements", async () => {
    const before = await metricsText();
    const statementsBefore = sample(before, "db_statements_total") ?? 0;
    for (let i = 0; i < 3; i++) expect((await t.gql("query MetricsOverview { viewer { email } }", {}, acme.member.token)).errors).toBeUndefined();
    const refused = await t.gql("mutation MetricsRename($id: ID!) { updateOrganization(input: { organizationId: $id, name: \"x\" }) { organization { name } } }", { id: acme.orgGid }, acme.member.token);
    expect(refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await t.gql("{ viewer { email } }", {}, "pat_not_a_real_token")).status).toBe(401);

    const text = await metricsText();
    expect(sample(text, "graphql_requests_total", { operation: "MetricsOverview", type: "query", outcome: "success" })).toBe(3);
    expect(sample(text, "graphql_request_duration_seconds_count", { operation: "MetricsOverview", type: "query", outcome: "success" })).toBe(3);
    expect(sample(text, "graphql_requests_total", { operation: "MetricsRename", type: "mutation", outcome: "error" })).toBe(1);
    // refused before it ran (here: a bad token): no caller-chosen name becomes a label
    expect(sample(text, "graphql_requests_total", { operation: "not_executed", outcome: "error" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "graphql_errors_total", { code: "FORBIDDEN" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "graphql_errors_total", { code: "UNAUTHENTICATED" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "http_responses_total", { path: "/graphql", status: "401" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "db_statements_total")!).toBeGreaterThan(statementsBefore);
    expect(sample(text, "db_statement_duration_seconds_count")!).toBeGreaterThan(statementsBefore);
    // prom-client's process defaults
    expect(sample(text, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(sample(text, "nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);
    if (databaseKind === "postgresql") {
      expect(sample(text, "db_pool_connections", { state: "max" })).toBe(t.db.poolStats()!.max);
      expect(sample(text, "db_pool_connections", { state: "idle" })).toBeGreaterThanOrEqual(1);
      expect(sample(text, "db_pool_waiting_requests")).toBe(0);
    }
  });

  it("counts rate-limit refusals", async () => {
    const user = await userWithToken(t.db, "limited@obs.example");
    const create = `mutation { createApiToken(input: { name: "x" }) { apiToken { id } } }`;
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await t.gql(create, {}, user.token));
    expect(results.filter((result) => result.errors?.[0]?.extensions?.code === "RATE_LIMITED").length).toBe(2);
    const text = await metricsText();
    expect(sample(text, "rate_limit_refusals_total")).toBeGreaterThanOrEqual(2);
    expect(sample(text, "graphql_errors_total", { code: "RATE_LIMITED" })).toBeGreaterThanOrEqual(2);
  });

  it("keeps operation-name labels bounded: an anonymous flood of names becomes other and takes no label from signed-in callers", async () => {
    const anonymousQuery = (name: string) =>
      t.app.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: `query ${name} { __typename }` }) });
    for (let i = 0; i < 60; i++) await anonymousQuery(`Spam${i}`);
    for (let i = 0; i < 3; i++) expect((await t.gql(`query SignedInAfterSpam${i} { viewer { email } }`, {}, acme.member.token)).errors).toBeUndefined();
    const text = await metricsText();
    expect(sample(text, "graphql_requests_total", { operation: "other" })).toBeGreaterThanOrEqual(10);
    expect(sample(text, "graphql_requests_total", { operation: "Spam59" })).toBeUndefined();
    expect(sample(text, "graphql_requests_total", { operation: "SignedInAfterSpam2", outcome: "success" })).toBe(1);
    const names = new Set(text.split("\n").filter((line) => line.startsWith("graphql_requests_total{")).map((line) => /operation="([^"]*)"/.exec(line)![1]));
    expect(names.size).toBeLessThanOrEqual(200 + 50 + 3);
  });

  it("is served on METRICS_PORT instead when that is set", async () => {
    const config = loadConfig({ LOG_LEVEL: "silent", METRICS_PORT: "0" });
    const metrics = createMetrics(t.db);
    const app = createApp({ config, db: t.db, logger: createLogger("silent"), metrics });
    expect((await app.fetch("http://localhost/metrics")).status).toBe(404);
    await app.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "query OnItsOwnPort { __typename }" }) });
    const server = metricsServer(metrics).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const response = await fetch(`${base}/metrics`);
      expect(response.status).toBe(200);
      expect(sample(await response.text(), "graphql_requests_total", { operation: "OnItsOwnPort" })).toBe(1);
      expect((await fetch(`${base}/graphql`)).status).toBe(404);
    } finally {
      server.close();
      metrics.close();
    }
  });
});

describe("health endpoints", () => {
  it("/healthz is 200 whatever the database does; /readyz is 503 from the moment shutdown begins", async () => {
    let shuttingDown = false;
    const app = createApp({ config: t.config, db: t.db, logger: createLogger("silent"), isShuttingDown: () => shuttingDown, metrics: null });
    expect(await (await app.fetch("http://localhost/readyz")).json()).toEqual({ status: "ready", database: databaseKind });
    shuttingDown = true;
    const ready = await app.fetch("http://localhost/readyz");
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "shutting_down", database: databaseKind });
    expect((await app.fetch("http://localhost/healthz")).status).toBe(200);
  });
});

describe("request logs", () => {
  it("log one JSON line per request with its id, operation, viewer, status, duration and error codes", async () => {
    const response = await t.app.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${acme.admin.token}`, "x-request-id": "req-obs-1" },
      body: JSON.stringify({ query: "query LoggedOne($id: ID!) { viewer { email } node(id: $id) { id } }", variables: { id: "not-a-global-id" } }),
    });
    expect(response.headers.get("x-request-id")).toBe("req-obs-1");
    const line = log.lines().find((entry) => entry.msg === "request" && entry.requestId === "req-obs-1");
    expect(line).toMatchObject({
      level: 30,
      service: "membership-graph",
      method: "POST",
      path: "/graphql",
      operationName: "LoggedOne",
      operationType: "query",
      viewerId: acme.admin.user.id,
      status: 200,
      errorCodes: ["BAD_USER_INPUT"],
    });
    expect(line!.durationMs).toBeGreaterThanOrEqual(0);
    expect(typeof line!.time).toBe("string");

    const generated = await t.app.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ __typename }" }) });
    const id = generated.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(log.lines().find((entry) => entry.msg === "request" && entry.requestId === id)).toMatchObject({ operationName: "anonymous", status: 200 });
  });
});

describe("secrets never reach the log", () => {
  it("not access tokens, invitation tokens, Authorization headers or private metadata, at log level trace", async () => {
    const secrets: string[] = [acme.owner.token, acme.admin.token, acme.member.token];
    const call = (query: string, variables: Record<string, unknown>, token?: string) => t.gql(query, variables, token);

    const created = await call(`mutation { createApiToken(input: { name: "ci" }) { token } }`, {}, acme.owner.token);
    secrets.push(created.data.createApiToken.token);
    await call("{ viewer { email } }", {}, created.data.createApiToken.token);

    const invitee = await userWithToken(t.db, "invitee@obs.example");
    secrets.push(invitee.token);
    const invitation = await call(
      "mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { token } }",
      { input: { organizationId: acme.orgGid, email: "invitee@obs.example" } },
      acme.owner.token,
    );
    const invitationToken = invitation.data.createInvitation.token as string;
    secrets.push(invitationToken);
    expect((await call("mutation($token: String!) { acceptInvitation(input: { token: $token }) { member { id } } }", { token: invitationToken }, invitee.token)).errors).toBeUndefined();
    // a wrong invitation token and wrong bearer tokens, which are logged as failures
    const guessed = "inv_" + "G".repeat(43);
    secrets.push(guessed);
    await call("mutation($token: String!) { acceptInvitation(input: { token: $token }) { member { id } } }", { token: guessed }, invitee.token);
    const forged = "pat_" + "F".repeat(40);
    secrets.push(forged, "Bearer garbage-secret-value");
    await call("{ viewer { email } }", {}, forged);
    await t.app.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer garbage-secret-value" }, body: "{}" });

    const marker = "PRIVATE-MARKER-7f3a9c";
    secrets.push(marker);
    const updated = await call(
      "mutation($input: UpdateMemberInput!) { updateMember(input: $input) { member { privateMetadata } } }",
      { input: { memberId: acme.member.memberGid, privateMetadata: { note: marker } } },
      acme.owner.token,
    );
    expect(updated.errors).toBeUndefined();
    // an invalid variable echoes the value in the response, never in the log
    await call("mutation($input: UpdateMemberInput!) { updateMember(input: $input) { member { id } } }", { input: { memberId: acme.member.memberGid, privateMetadata: marker } }, acme.owner.token);
    await call(`{ organization(slug: "obs") { members(first: 5) { edges { node { privateMetadata auditEvents: user { email } } } } auditEvents(first: 20) { edges { node { action before after } } } } }`, {}, acme.owner.token);

    const text = log.text;
    expect(text.length).toBeGreaterThan(1000);
    for (const secret of secrets) expect(text, `log contains ${secret.slice(0, 12)}…`).not.toContain(secret);
    for (const secret of secrets.filter((value) => value.startsWith("pat_") || value.startsWith("inv_"))) {
      expect(text).not.toContain(secret.slice(4, 20)); // not even a fragment of the random part
    }
    expect(text.toLowerCase()).not.toContain("authorization");
    expect(text).not.toContain("Bearer ");
  });
});
