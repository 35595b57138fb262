// The HTTP application: GraphQL (and GraphiQL) at /graphql, REST compatibility at /compat/<profile>, /healthz and /readyz. Exported
// without a listening socket so tests drive it through yoga.fetch; main.ts listens. This file is
// wiring: each plugin lives in a file named after what it does, and the list below is the order
// a request meets them (README, Architecture).
import { GraphQLError } from "graphql";
import { createYoga, type YogaServerInstance } from "graphql-yoga";
import { createAuthenticator } from "./auth/authenticate.js";
import type { Config } from "./config.js";
import { queryThroughPrisma, type Database } from "./db/client.js";
import { createDatabaseHealth, type DatabaseHealth } from "./db/health.js";
import { AppError } from "./core/errors.js";
import type { Context } from "./graphql/context.js";
import { argumentLimits } from "./graphql/argument-limits.js";
import { ConcurrencyGate } from "./graphql/heavy-documents.js";
import { createEventHub, type EventHub } from "./graphql/event-streams.js";
import { toGraphQLError } from "./graphql/errors.js";
import { DEFAULT_QUERY } from "./graphql/graphiql.js";
import { schemaDiscovery } from "./graphql/introspection.js";
import { checkPlannedQueries } from "./graphql/planner-checks.js";
import { bodySizeLimit, documentLimits, executionTimeout, rejectNulCharacters } from "./graphql/limits.js";
import { createRateLimiter, sensitiveFieldLimits } from "./graphql/rate-limit.js";
import { requestContext } from "./graphql/request-context.js";
import { sharedStreamResults } from "./graphql/stream-results.js";
import { trustedDocuments } from "./graphql/trusted-documents.js";
import { restDocuments, restRoutes } from "./rest/handler.js";
import { enabledProfiles } from "./rest/profiles.js";
import { getSchema } from "./graphql/schema.js";
import { corsOptions, varyOnOrigin } from "./http/cors.js";
import { failFastWhileUnavailable, healthRoutes, logHealthChange } from "./http/health.js";
import { requestIdOnInternalErrors, requestIds } from "./http/request-ids.js";
import { sqlStatementsHeader } from "./http/sql-statements-header.js";
import type { Logger } from "./logger.js";
import { webhookQueue, type WebhookWorker } from "./webhooks/worker.js";
import { createMetrics, metricsRoute, type Metrics } from "./observability/metrics.js";
import { requestFacts } from "./observability/request-facts.js";
import { requestLogging } from "./observability/request-log.js";
import { tracingPlugin } from "./observability/tracing.js";

export type App = YogaServerInstance<Record<string, unknown>, Context>;

export interface AppOptions {
  config: Config;
  db: Database;
  logger: Logger;
  isShuttingDown?: () => boolean;
  /** The app's metrics; by default its own when METRICS is on (main.ts passes them to serve on METRICS_PORT). */
  metrics?: Metrics | null;
  /** Whether the database may be used now (main.ts shares it with the migration check). */
  health?: DatabaseHealth;
  /**
   * The plain paths instead of the optimised ones (tests only: test/optimised-paths.test.ts
   * holds both to the same answers): lean reads through Prisma's raw query instead of the
   * driver, and every object's type check even in lists authorized as a whole.
   */
  plainPaths?: boolean;
  /** What subscriptions wait on; main.ts passes its own to end every stream first when it shuts down. */
  eventHub?: EventHub;
  /** This process's webhook deliveries (main.ts), for /metrics; null when it delivers none. */
  webhookWorker?: WebhookWorker | null;
}

export function createApp({ config, db: database, logger, isShuttingDown = () => false, metrics = config.metrics.enabled ? createMetrics(database) : null, health = createDatabaseHealth(database, { onChange: logHealthChange(logger) }), plainPaths = false, eventHub = createEventHub(database, logger), webhookWorker = null }: AppOptions): App {
  checkPlannedQueries(config.nodeEnv !== "production");
  const db: Database = plainPaths ? { ...database, query: queryThroughPrisma(database.prisma) } : database;
  const authenticate = createAuthenticator(db, config.jwt);
  const limiter = createRateLimiter(config.rateLimits, (error) => logger.warn({ err: error }, "rate-limit store unavailable; limits not applied"));
  const { heavyQueryFields, heavyQueryConcurrency, requestTimeoutMs } = config.limits;
  const heavyGate = heavyQueryConcurrency > 0 ? new ConcurrencyGate(heavyQueryConcurrency) : null;
  if (heavyGate) metrics?.observeHeavyDocuments(heavyGate);
  const live = { db, hub: eventHub, maxPerUser: config.subscriptionsPerUser, buffer: config.subscriptionBuffer, logger };
  metrics?.observeSubscriptions(eventHub.stats);
  metrics?.observeWebhooks({ onAttempt: webhookWorker?.stats.onAttempt ?? null, queue: () => webhookQueue(db) });
  const profiles = enabledProfiles(config.restProfiles);
  // The GraphQL requests the REST routes make: only on these are the routes' documents trusted.
  const restRequests = new WeakSet<Request>();
  let yoga: App | null = null;
  yoga = createYoga<Record<string, unknown>, Context>({
    cors: corsOptions(config.corsOrigins),
    // Batched requests (a JSON array of operations) only when GRAPHQL_MAX_BATCH allows them.
    batching: config.limits.maxBatch > 0 ? { limit: config.limits.maxBatch } : false,
    // No file uploads: nothing here takes a file, and a multipart body could smuggle one into a JSON variable.
    multipart: false,
    schema: getSchema(),
    graphqlEndpoint: "/graphql",
    landingPage: false,
    graphiql: config.graphiql ? { title: "Membership Graph", defaultQuery: DEFAULT_QUERY } : false,
    // The self-contained GraphiQL page: no CDN, so it also works on machines without internet.
    // Loaded on the first page view: its inlined bundle (9 MB of source, ~35 MB of memory) is
    // nothing a production server (GraphiQL off) should carry.
    renderGraphiQL: async (options) => (await import("@graphql-yoga/render-graphiql")).renderGraphiQL(options),
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(" ")),
      info: (...args) => logger.info(args.map(String).join(" ")),
      warn: (...args) => logger.warn(args.map(String).join(" ")),
      // Yoga logs each error it masks, message included, and those messages may quote a
      // request's variables (secrets). toGraphQLError has already logged the unexpected ones
      // without the caller's input, so only errors that aren't GraphQL errors pass, by name.
      error: (...args) => {
        if (args.some((arg) => arg instanceof GraphQLError || arg instanceof AppError)) return;
        const unexpected = args.find((arg): arg is Error => arg instanceof Error);
        if (unexpected) logger.error({ errorName: unexpected.name }, "yoga reported an unexpected error (see the preceding entry)");
        else logger.error(args.map(String).join(" "));
      },
    },
    maskedErrors: { maskError: (error) => toGraphQLError(error, logger, (cause) => health.reportUnavailable(cause)) },
    plugins: [
      requestFacts(),
      tracingPlugin(),
      requestIds(),
      requestIdOnInternalErrors(logger),
      ...trustedDocuments(config.trustedDocuments, { documents: restDocuments(profiles), sentBy: (request) => restRequests.has(request) }),
      healthRoutes(db, health, isShuttingDown),
      // REST compatibility (/compat/<profile>/…): each route runs its documents through this same instance at /graphql.
      ...(profiles.length > 0
        ? [restRoutes({ profiles, fetch: () => (request, serverContext) => Promise.resolve(yoga!.fetch(request, serverContext)), maxBodyBytes: config.limits.maxBodyBytes, byDocumentId: config.trustedDocuments.mode !== "off", logger, sent: (request) => restRequests.add(request) })]
        : []),
      failFastWhileUnavailable(health),
      { onDispose: () => health.close() },
      { onDispose: () => eventHub.close() },
      ...(metrics ? [metrics.plugin, { onDispose: () => metrics.close() }] : []),
      ...(metrics && config.metrics.port === null ? [metricsRoute(metrics)] : []),
      requestLogging(logger),
      bodySizeLimit(config.limits.maxBodyBytes),
      ...documentLimits(config.limits),
      rejectNulCharacters(),
      // Before executionTimeout, which then counts a heavy document's wait for its slot.
      argumentLimits(
        { maxPageSize: config.maxPageSize, maxNodes: config.maxNodes, defaultPageSize: config.defaultPageSize },
        heavyGate ? { heavyFields: heavyQueryFields, gate: heavyGate, timeoutMs: requestTimeoutMs } : undefined,
      ),
      ...(requestTimeoutMs > 0 ? [executionTimeout(requestTimeoutMs)] : []),
      ...schemaDiscovery(config.introspection),
      sensitiveFieldLimits(limiter, (context) => (context.viewer ? `user:${context.viewer.user.id}` : `ip:${context.clientIp}`)),
      { onDispose: () => limiter.store.close() },
      ...(config.corsOrigins.length > 0 ? [varyOnOrigin()] : []),
      ...(config.sqlStatementsHeader ? [sqlStatementsHeader(db)] : []),
      ...(plainPaths ? [] : [sharedStreamResults(eventHub)]),
    ],
    context: requestContext({ config, db, authenticate, limiter, logger, plainPaths, live, onDatabaseUnavailable: (cause) => health.reportUnavailable(cause) }),
  });
  return yoga;
}
