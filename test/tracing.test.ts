// OpenTelemetry: one trace per request (HTTP → parse / validate / execute → resolvers → SQL),
// continuing the caller's traceparent, with no secrets on any span; and a real OTLP/HTTP export
// from a server process started with OTEL_EXPORTER_OTLP_ENDPOINT.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { startTracing, type Tracing } from "../src/observability/tracing.js";
import { startServer, stopServer } from "./fixtures/server-process.js";
import { createTestApp, orgWithPeople, TEST_DATABASE_URL, type OrgFixture, type TestApp } from "./helpers.js";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let t: TestApp;
let acme: OrgFixture;

beforeAll(async () => {
  tracing = startTracing(loadConfig({}).tracing, { exporter })!;
  t = await createTestApp();
  acme = await orgWithPeople(t.db, "traced");
});
afterAll(async () => {
  await t.close();
  await tracing.shutdown();
});

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

function childrenOf(spans: ReadableSpan[], parent: ReadableSpan): ReadableSpan[] {
  return spans.filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId);
}

describe("tracing with an in-memory exporter", () => {
  it("gives a request one trace: HTTP, parse, validate, execute, resolvers and SQL, under the caller's traceparent", async () => {
    exporter.reset();
    const response = await t.app.fetch("http://localhost/graphql", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${acme.owner.token}`,
        traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`,
      },
      body: JSON.stringify({ query: `query TracedOverview($slug: String!) { viewer { email } organization(slug: $slug) { name members(first: 5) { totalCount edges { node { user { email } } } } } }`, variables: { slug: "traced" } }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { errors?: unknown }).errors).toBeUndefined();
    const spans = exporter.getFinishedSpans();
    expect(new Set(spans.map((span) => span.spanContext().traceId))).toEqual(new Set([TRACE_ID]));

    const root = spans.find((span) => span.parentSpanContext?.spanId === "00f067aa0ba902b7")!;
    expect(root.name).toBe("POST /graphql query TracedOverview");
    expect(root.kind).toBe(1); // SERVER
    expect(root.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.response.status_code": 200,
      "graphql.operation.name": "TracedOverview",
      "graphql.operation.type": "query",
      "enduser.id": acme.owner.user.id,
    });
    const phases = childrenOf(spans, root).map((span) => span.name);
    expect(phases).toEqual(expect.arrayContaining(["graphql.parse", "graphql.validate", "graphql.context", "graphql.execute"]));

    const execute = spans.find((span) => span.name === "graphql.execute")!;
    const resolvers = spans.filter((span) => span.name === "graphql.resolve");
    const paths = resolvers.map((span) => span.attributes["graphql.field.path"]);
    expect(paths).toEqual(expect.arrayContaining(["viewer", "organization", "organization.members"]));
    expect(paths).not.toContain("organization.name"); // exposed columns get no span
    const organizationSpan = resolvers.find((span) => span.attributes["graphql.field.path"] === "organization")!;
    expect(organizationSpan.parentSpanContext?.spanId).toBe(execute.spanContext().spanId);

    // SQL from Prisma's instrumentation, inside the request's trace, with the statement text.
    const queries = spans.filter((span) => span.name === "prisma:client:db_query" || span.name === "prisma:engine:db_query");
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.some((span) => /SELECT/i.test(String(span.attributes["db.query.text"] ?? span.attributes["db.statement"] ?? "")))).toBe(true);
    expect(spans.some((span) => span.name === "prisma:client:operation")).toBe(true);

    // Nothing secret on any span: not the token, not the variables.
    const everything = JSON.stringify(spans.map((span) => ({ name: span.name, attributes: span.attributes, events: span.events })));
    expect(everything).not.toContain(acme.owner.token);
    expect(everything).not.toContain("Bearer");
  });

  it("marks a request answered with an error on its span", async () => {
    exporter.reset();
    await t.app.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "query Nope { viewer { email } }" }) });
    const root = exporter.getFinishedSpans().find((span) => span.kind === 1)!;
    expect(root.attributes["graphql.error.codes"]).toEqual(["UNAUTHENTICATED"]);
    expect(root.attributes["http.response.status_code"]).toBe(401);
  });
});

describe.runIf(!TEST_DATABASE_URL)("OTEL_EXPORTER_OTLP_ENDPOINT and METRICS_PORT on a real process", () => {
  it("sends the spans to the collector over OTLP/HTTP, and serves /metrics on its own port only", async () => {
    const received: { path: string; body: string }[] = [];
    const collector = http.createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        received.push({ path: request.url ?? "", body });
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mg-otel-"));
    try {
      const server = await startServer({
        DATA_DIR: dataDir,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
        OTEL_SERVICE_NAME: "membership-graph-under-test",
        METRICS_PORT: "0",
      });
      expect(server.log()).toMatch(/tracing on/);
      const response = await fetch(`${server.url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "query ExportedOne { __typename }" }) });
      expect(response.status).toBe(200);
      for (let i = 0; i < 50 && !/"metricsPort":\d+/.test(server.log()); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      const metricsPort = /"metricsPort":(\d+)/.exec(server.log())![1];
      const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/graphql_requests_total\{operation="ExportedOne",type="query",outcome="success"\} 1/);
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
      expect(await stopServer(server)).toBe(0); // shutdown flushes the batch
      const traces = received.filter((entry) => entry.path === "/v1/traces");
      expect(traces.length).toBeGreaterThan(0);
      const all = traces.map((entry) => entry.body).join("\n");
      expect(all).toContain("membership-graph-under-test");
      expect(all).toContain("ExportedOne");
      expect(all).toContain("graphql.execute");
    } finally {
      collector.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
