// Prometheus metrics (prom-client): one registry per app, served at GET /metrics on the API's
// port or, with METRICS_PORT, on a port of its own that need not be public.
import http from "node:http";
import type { Plugin } from "graphql-yoga";
import client from "prom-client";
import type { Database } from "../db/client.js";
import { factsOf } from "./request-facts.js";

/**
 * Operation names are the caller's words. A name becomes a label only once its operation ran;
 * past this many distinct names, new ones count as "other" — signed-in callers and anonymous
 * ones have separate budgets, so an anonymous flood of names can't take the labels of real clients.
 */
const MAX_OPERATION_NAMES = 200;
const MAX_ANONYMOUS_OPERATION_NAMES = 50;

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const SQL_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

/** Slots some work waits for: how many there are, in use and waited for. */
interface Slots {
  readonly limit: number;
  readonly running: number;
  readonly waiting: number;
}

/** The app's subscriptions (src/graphql/event-streams.ts EventHub.stats). */
interface Streams {
  readonly open: number;
  readonly onDelivered: Set<(lagMs: number) => void>;
  readonly onResult: Set<(shared: boolean) => void>;
}

/** Webhooks (src/webhooks/worker.ts): this process's attempts (when it delivers), and the queue every process shares. */
interface Webhooks {
  readonly onAttempt: Set<(outcome: "succeeded" | "retrying" | "failed", seconds: number) => void> | null;
  queue(): Promise<{ depth: number; oldestOwedSeconds: number | null }>;
}

export interface Metrics {
  registry: client.Registry;
  plugin: Plugin;
  /** The Prometheus text for GET /metrics. */
  render(): Promise<{ body: string; contentType: string }>;
  /** Reports the app's heavy-document slots (src/graphql/heavy-documents.ts) as graphql_heavy_documents. */
  observeHeavyDocuments(slots: Slots): void;
  /** Reports open subscriptions (graphql_subscriptions_open) and each event's commit-to-delivery lag (change_feed_delivery_lag_seconds). */
  observeSubscriptions(streams: Streams): void;
  /** Reports webhook attempts (webhook_deliveries_total, webhook_attempt_duration_seconds) and the queue (webhook_queue_depth, webhook_oldest_owed_event_age_seconds). */
  observeWebhooks(webhooks: Webhooks): void;
  /** Stops listening to the database (the app is disposed). */
  close(): void;
}

let processRegistry: client.Registry | null = null;

/** How long one reading of the webhook queue answers scrapes. */
const QUEUE_READ_MS = 5_000;

/** prom-client's process metrics (CPU, memory, event loop, GC): one collector per process, not per app. */
function processMetrics(): client.Registry {
  if (!processRegistry) {
    processRegistry = new client.Registry();
    client.collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetrics(db: Database): Metrics {
  const registry = new client.Registry();

  const requests = new client.Counter({
    name: "graphql_requests_total",
    help: "GraphQL requests by operation name, operation type and outcome (success: no errors; error: at least one)",
    labelNames: ["operation", "type", "outcome"],
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: "graphql_request_duration_seconds",
    help: "Time from a GraphQL request's arrival to its response, by operation name, type and outcome",
    labelNames: ["operation", "type", "outcome"],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const httpResponses = new client.Counter({
    name: "http_responses_total",
    help: "HTTP responses by path and status code",
    labelNames: ["path", "status"],
    registers: [registry],
  });
  const errors = new client.Counter({
    name: "graphql_errors_total",
    help: "GraphQL errors in responses by extensions.code",
    labelNames: ["code"],
    registers: [registry],
  });
  const rateLimited = new client.Counter({
    name: "rate_limit_refusals_total",
    help: "Requests or fields refused with RATE_LIMITED",
    registers: [registry],
  });
  const statements = new client.Counter({
    name: "db_statements_total",
    help: "SQL statements sent to the database",
    registers: [registry],
  });
  const statementDuration = new client.Histogram({
    name: "db_statement_duration_seconds",
    help: "Duration of SQL statements as the database driver reports it",
    buckets: SQL_BUCKETS,
    registers: [registry],
  });
  new client.Gauge({
    name: "db_pool_connections",
    help: "Connections of the PostgreSQL pool by state (in_use, idle), and its maximum (max)",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const pool = db.poolStats();
      if (!pool) return;
      this.set({ state: "in_use" }, pool.total - pool.idle);
      this.set({ state: "idle" }, pool.idle);
      this.set({ state: "max" }, pool.max);
    },
  });
  new client.Gauge({
    name: "db_pool_waiting_requests",
    help: "Queries waiting for a free connection of the PostgreSQL pool",
    registers: [registry],
    collect() {
      this.set(db.poolStats()?.waiting ?? 0);
    },
  });

  const stopWatching = db.onStatement((durationMs) => {
    statements.inc();
    statementDuration.observe(durationMs / 1000);
  });

  const signedIn = new Set<string>();
  const anonymous = new Set<string>();
  const boundedName = (name: string, known: Set<string>, max: number) => {
    if (known.has(name)) return name;
    if (known.size >= max) return "other";
    known.add(name);
    return name;
  };
  const operationLabel = (facts: ReturnType<typeof factsOf>) => {
    if (!facts.operationType) return "not_executed"; // refused before it ran (parse, validation, auth, limits)
    const name = facts.operationName ?? "anonymous";
    return facts.viewerId ? boundedName(name, signedIn, MAX_OPERATION_NAMES) : boundedName(name, anonymous, MAX_ANONYMOUS_OPERATION_NAMES);
  };

  const plugin: Plugin = {
    onResponse({ request, response }) {
      const url = new URL(request.url);
      const known = url.pathname === "/graphql" || url.pathname === "/healthz" || url.pathname === "/readyz" || url.pathname === "/metrics";
      httpResponses.inc({ path: known ? url.pathname : "other", status: String(response.status) });
      if (url.pathname !== "/graphql" || request.method === "OPTIONS") return;
      const facts = factsOf(request);
      if (!facts.operationName && response.headers.get("content-type")?.includes("text/html")) return; // GraphiQL's page
      const labels = {
        operation: operationLabel(facts),
        type: facts.operationType ?? "unknown",
        outcome: facts.errorCodes.length === 0 && response.status < 400 ? "success" : "error",
      };
      requests.inc(labels);
      duration.observe(labels, (performance.now() - facts.startedAt) / 1000);
      for (const code of facts.errorCodes) {
        errors.inc({ code });
        if (code === "RATE_LIMITED") rateLimited.inc();
      }
    },
  };

  let heavyDocuments: Slots | null = null;
  new client.Gauge({
    name: "graphql_heavy_documents",
    help: "Heavy documents (HEAVY_QUERY_FIELDS) executing (running) and waiting for a slot (waiting), and the slots (max)",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      if (!heavyDocuments) return;
      this.set({ state: "running" }, heavyDocuments.running);
      this.set({ state: "waiting" }, heavyDocuments.waiting);
      this.set({ state: "max" }, heavyDocuments.limit);
    },
  });

  let streams: Streams | null = null;
  new client.Gauge({
    name: "graphql_subscriptions_open",
    help: "Open membershipEvents subscriptions on this process (SSE and WebSocket)",
    registers: [registry],
    collect() {
      if (streams) this.set(streams.open);
    },
  });
  const lag = new client.Histogram({
    name: "change_feed_delivery_lag_seconds",
    help: "From an event's commit to its hand-over to a subscriber's transport",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const observeLag = (lagMs: number) => lag.observe(Math.max(0, lagMs) / 1000);
  const results = new client.Counter({
    name: "graphql_subscription_results_total",
    help: "Subscription results handed to streams: computed for the stream, or shared from another stream of the same credential, standing and document",
    labelNames: ["source"],
    registers: [registry],
  });
  const countResult = (shared: boolean) => results.inc({ source: shared ? "shared" : "computed" });

  let webhooks: Webhooks | null = null;
  const attempts = new client.Counter({
    name: "webhook_deliveries_total",
    help: "Webhook delivery attempts by this process, by outcome: succeeded (2xx in time), retrying (failed, tried again later), failed (failed, given up)",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const attemptDuration = new client.Histogram({
    name: "webhook_attempt_duration_seconds",
    help: "Time from the start of a webhook attempt (address check included) to its outcome",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const countAttempt = (outcome: "succeeded" | "retrying" | "failed", seconds: number) => {
    attempts.inc({ outcome });
    attemptDuration.observe(seconds);
  };
  // The queue is the database's: one statement reads both figures, at most every QUEUE_READ_MS
  // however often /metrics is scraped (it counts every owed event).
  let queueRead: Promise<{ depth: number; oldestOwedSeconds: number | null }> | null = null;
  const readQueue = () => {
    if (!webhooks) return null;
    queueRead ??= webhooks.queue().finally(() => setTimeout(() => (queueRead = null), QUEUE_READ_MS).unref());
    return queueRead;
  };
  new client.Gauge({
    name: "webhook_queue_depth",
    help: "Events owed to enabled webhook endpoints (all processes), not yet delivered or given up",
    registers: [registry],
    async collect() {
      const queue = await readQueue()?.catch(() => null);
      if (queue) this.set(queue.depth);
    },
  });
  new client.Gauge({
    name: "webhook_oldest_owed_event_age_seconds",
    help: "How long ago the oldest event owed to an enabled webhook endpoint was committed (0 when none is owed)",
    registers: [registry],
    async collect() {
      const queue = await readQueue()?.catch(() => null);
      if (queue) this.set(queue.oldestOwedSeconds ?? 0);
    },
  });

  return {
    registry,
    plugin,
    observeWebhooks(observed) {
      webhooks?.onAttempt?.delete(countAttempt);
      webhooks = observed;
      observed.onAttempt?.add(countAttempt);
    },
    observeHeavyDocuments(slots) {
      heavyDocuments = slots;
    },
    observeSubscriptions(observed) {
      streams?.onDelivered.delete(observeLag);
      streams?.onResult.delete(countResult);
      streams = observed;
      observed.onDelivered.add(observeLag);
      observed.onResult.add(countResult);
    },
    async render() {
      const both = client.Registry.merge([registry, processMetrics()]);
      return { body: await both.metrics(), contentType: registry.contentType };
    },
    close() {
      stopWatching();
      webhooks?.onAttempt?.delete(countAttempt);
      streams?.onDelivered.delete(observeLag);
      streams?.onResult.delete(countResult);
    },
  };
}

/** GET /metrics on the API's own port (when METRICS_PORT is not set). */
export function metricsRoute(metrics: Metrics): Plugin {
  return {
    async onRequest({ url, request, endResponse }) {
      if (url.pathname !== "/metrics") return;
      if (request.method !== "GET") return endResponse(new Response("Method Not Allowed", { status: 405, headers: { allow: "GET" } }));
      const { body, contentType } = await metrics.render();
      endResponse(new Response(body, { headers: { "content-type": contentType } }));
    },
  };
}

/** A separate HTTP server answering only GET /metrics (METRICS_PORT). */
export function metricsServer(metrics: Metrics): http.Server {
  return http.createServer((request, response) => {
    if (request.url?.split("?")[0] !== "/metrics" || request.method !== "GET") {
      response.writeHead(404, { "content-type": "text/plain" }).end("Not Found: metrics are at GET /metrics\n");
      return;
    }
    metrics.render().then(
      ({ body, contentType }) => response.writeHead(200, { "content-type": contentType }).end(body),
      (error: Error) => response.writeHead(500, { "content-type": "text/plain" }).end(`${error.message}\n`),
    );
  });
}
