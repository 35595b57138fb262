// Every environment variable the service reads, parsed and validated once. Nothing else in
// src/ reads process.env: a misspelt or out-of-range value stops the process at start with a
// message naming the variable, instead of surfacing later as odd behaviour.
import path from "node:path";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface Config {
  /** "production" turns off GraphiQL by default and the planner's unused-query check. */
  nodeEnv: string;
  host: string;
  port: number;
  /** PostgreSQL connection string; absent means the embedded database in dataDir. */
  databaseUrl: string | undefined;
  /** Folder of the embedded database (only used without databaseUrl). */
  dataDir: string;
  /** Most connections the PostgreSQL pool opens. */
  databasePoolSize: number;
  /** Apply pending migrations when the server starts (always true for the embedded database). */
  migrateOnStart: boolean;
  /** Seed the demo dataset when the embedded database is empty at start. */
  seedDemo: boolean;
  logLevel: LogLevel;
  graphiql: boolean;
  /** How long a graceful shutdown waits for in-flight requests before it closes them. */
  shutdownTimeoutMs: number;
  /** Largest `first`/`last` a connection accepts. */
  maxPageSize: number;
  /** Page size when a connection gets neither `first` nor `last`. */
  defaultPageSize: number;
  /** How long change-feed events are kept; older ones are pruned, and a cursor before them fails with CURSOR_EXPIRED. */
  eventRetentionDays: number;
  /** Subscriptions one user may hold open on one server process (SSE and WebSocket together). */
  subscriptionsPerUser: number;
  /** Events a subscription holds for a consumer that doesn't read them; one more ends it with SLOW_CONSUMER. */
  subscriptionBuffer: number;
  /** Most items any list argument (nodes(ids:), _entities, input lists) may hold; longer is refused. */
  maxNodes: number;
  /** Who may query __schema/__type: everyone, signed-in callers only, or nobody (and suggestions are hidden unless "true"). */
  introspection: "true" | "false" | "authenticated";
  /**
   * Add `x-sql-statements` to every response: the statements Prisma sent while the request ran
   * (exact when requests don't overlap). For the benchmark and debugging; off by default.
   */
  sqlStatementsHeader: boolean;
  /** REST_PROFILES: the REST compatibility profiles served under /compat/<name> (null: all of them). */
  restProfiles: string[] | null;
  /** TRACE_SQL=1: print every SQL statement to stderr, cut at TRACE_SQL_WIDTH characters; null: off. */
  traceSql: { width: number } | null;
  /** Sign-in with JWTs from an identity provider; null when not configured. */
  jwt: JwtConfig | null;
  /** Limits on every request, checked before anything runs (see README, Security). */
  limits: RequestLimits;
  rateLimits: RateLimitConfig;
  trustedDocuments: TrustedDocumentsConfig;
  /** Origins a browser app may call the API from (exact matches); empty: no cross-origin access. "*" allows any origin. */
  corsOrigins: string[];
  /** How long getting a database connection may take before the request fails with SERVICE_UNAVAILABLE. */
  databaseConnectTimeoutMs: number;
  metrics: MetricsConfig;
  tracing: TracingConfig;
  webhooks: WebhookConfig;
}

export interface WebhookConfig {
  /** Deliver from this process (WEBHOOK_WORKER); `npm run cli -- webhooks-worker` delivers alone. */
  worker: boolean;
  /** Hosts whose endpoints may use http:// (local receivers, tests); every other URL must be https://. */
  allowHttpHosts: string[];
  /** Hosts that may resolve to loopback, private, link-local or metadata addresses. */
  allowPrivateHosts: string[];
  /** The wait before each attempt at an event, first to last (ms); after the last failure it is given up. */
  retrySchedule: number[];
  /** An endpoint with no successful delivery for this long (ms) since its first failure is disabled. */
  disableAfterMs: number;
  /** How long an attempt may take, connection to the end of the response. */
  timeoutMs: number;
  /** Keys that encrypt signing secrets at rest: the first encrypts, all decrypt (empty: not configured). */
  secretKeys: Buffer[];
  /** Endpoints one process delivers to at once. */
  concurrency: number;
  /** How often the worker looks for due retries (new events wake it at once). */
  pollMs: number;
}

interface MetricsConfig {
  /** Serve GET /metrics at all. */
  enabled: boolean;
  /** A port of its own for /metrics (not served on the API's port then); null: the API's port. */
  port: number | null;
  /** The interface METRICS_PORT listens on (default: HOST). */
  host: string;
}

export interface TracingConfig {
  /**
   * Where spans are sent (OTLP over HTTP): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or
   * OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. null: tracing is off.
   */
  tracesUrl: string | null;
  serviceName: string;
}

export interface RequestLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  maxCost: number;
  /** Largest request body in bytes; larger is HTTP 413 before parsing. */
  maxBodyBytes: number;
  /** Operations per batched request (a JSON array); 0 turns batching off. */
  maxBatch: number;
  /** PostgreSQL statement_timeout for the service's own queries (0: none). */
  statementTimeoutMs: number;
  /** Longest a GraphQL execution may run before it is answered with TIMEOUT (0: none). */
  requestTimeoutMs: number;
  /** Estimated fields from which a document is heavy (src/graphql/heavy-documents.ts). */
  heavyQueryFields: number;
  /** Heavy documents executing at once per process; the rest wait (0: no cap). */
  heavyQueryConcurrency: number;
}

export interface TrustedDocumentsConfig {
  /** off: any document; allow: documentId or a document; require: documentId only. */
  mode: "off" | "allow" | "require";
  file: string | null;
}

export interface RateLimitConfig {
  enabled: boolean;
  /** Counters in Redis (shared by every instance) instead of this process's memory. */
  redisUrl: string | null;
  keyPrefix: string;
  windowMs: number;
  /** Requests per caller (user, or IP when anonymous) and window. */
  requests: number;
  /** Failed authentications per IP and window; beyond, the address gets 429 until the window ends. */
  authFailures: number;
  /** acceptInvitation / declineInvitation attempts per caller and window (token guessing). */
  invitationAttempts: number;
  /** addMember, createInvitation, resendInvitation, createApiToken per caller and window. */
  sensitiveWrites: number;
  /** Take the client address from X-Forwarded-For (only behind a proxy you trust). */
  trustProxy: boolean;
}

export interface JwtConfig {
  /** Where the provider publishes its signing keys (fetched, cached, refreshed on an unknown kid). */
  jwksUrl: string | null;
  /** A static PEM public key (SPKI), instead of a JWKS. */
  publicKey: string | null;
  issuer: string;
  audience: string[];
  algorithms: string[];
  clockToleranceSeconds: number;
  /** After a JWKS fetch, no refetch for this long even for unknown key ids (protects the provider). */
  jwksRefreshCooldownSeconds: number;
}

/** Asymmetric signatures only: HS* would need a shared secret, and "none" is never accepted. */
const JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

function jwtConfig(env: Env): JwtConfig | null {
  const jwksUrl = env.AUTH_JWKS_URL?.trim() || null;
  const publicKey = env.AUTH_JWT_PUBLIC_KEY?.trim().replace(/\\n/g, "\n") || null;
  if (!jwksUrl && !publicKey) {
    for (const name of ["AUTH_JWT_ISSUER", "AUTH_JWT_AUDIENCE"]) {
      if (env[name]?.trim()) throw new ConfigError(`${name} is set but neither AUTH_JWKS_URL nor AUTH_JWT_PUBLIC_KEY is: JWT sign-in needs one of them`);
    }
    return null;
  }
  if (jwksUrl && publicKey) throw new ConfigError("Set AUTH_JWKS_URL or AUTH_JWT_PUBLIC_KEY, not both");
  if (jwksUrl) {
    const url = parseUrl(jwksUrl, `AUTH_JWKS_URL is not a valid URL: "${jwksUrl}"`);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new ConfigError("AUTH_JWKS_URL must be an https:// URL");
  }
  if (publicKey && !publicKey.includes("-----BEGIN PUBLIC KEY-----")) {
    throw new ConfigError("AUTH_JWT_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----)");
  }
  const issuer = env.AUTH_JWT_ISSUER?.trim();
  if (!issuer) throw new ConfigError("AUTH_JWT_ISSUER is required with JWT sign-in: tokens from any other issuer are refused");
  const audience = (env.AUTH_JWT_AUDIENCE ?? "").split(",").map((value) => value.trim()).filter(Boolean);
  if (audience.length === 0) {
    throw new ConfigError("AUTH_JWT_AUDIENCE is required with JWT sign-in: tokens minted for other applications are refused");
  }
  const algorithms = (env.AUTH_JWT_ALGORITHMS ?? "").split(",").map((value) => value.trim()).filter(Boolean);
  for (const algorithm of algorithms) {
    if (!JWT_ALGORITHMS.includes(algorithm)) {
      throw new ConfigError(`AUTH_JWT_ALGORITHMS: "${algorithm}" is not allowed; use some of ${JWT_ALGORITHMS.join(", ")}`);
    }
  }
  return {
    jwksUrl,
    publicKey,
    issuer,
    audience,
    algorithms: algorithms.length > 0 ? algorithms : JWT_ALGORITHMS,
    clockToleranceSeconds: intVar(env, "AUTH_JWT_CLOCK_TOLERANCE_SECONDS", 30, 0, 300),
    jwksRefreshCooldownSeconds: intVar(env, "AUTH_JWKS_REFRESH_COOLDOWN_SECONDS", 30, 0, 3600),
  };
}

function trustedDocumentsConfig(env: Env): TrustedDocumentsConfig {
  const mode = (env.TRUSTED_DOCUMENTS?.trim().toLowerCase() || "off") as TrustedDocumentsConfig["mode"];
  if (!["off", "allow", "require"].includes(mode)) throw new ConfigError(`TRUSTED_DOCUMENTS must be off, allow or require (got "${env.TRUSTED_DOCUMENTS}")`);
  const file = env.TRUSTED_DOCUMENTS_FILE?.trim() || null;
  if (mode !== "off" && !file) throw new ConfigError(`TRUSTED_DOCUMENTS=${mode} needs TRUSTED_DOCUMENTS_FILE (the manifest your client build writes)`);
  return { mode, file: file ? path.resolve(file) : null };
}

function rateLimitConfig(env: Env): RateLimitConfig {
  const redisUrl = env.REDIS_URL?.trim() || null;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) throw new ConfigError(`REDIS_URL must start with redis:// or rediss:// (got "${redisUrl}")`);
  return {
    enabled: boolVar(env, "RATE_LIMITS", true),
    redisUrl,
    keyPrefix: env.RATE_LIMIT_KEY_PREFIX?.trim() || "membership-graph:rl:",
    windowMs: intVar(env, "RATE_LIMIT_WINDOW_SECONDS", 60, 1, 86_400) * 1000,
    requests: intVar(env, "RATE_LIMIT_REQUESTS", 600, 1, 10_000_000),
    authFailures: intVar(env, "RATE_LIMIT_AUTH_FAILURES", 30, 1, 1_000_000),
    invitationAttempts: intVar(env, "RATE_LIMIT_INVITATION_ATTEMPTS", 20, 1, 1_000_000),
    sensitiveWrites: intVar(env, "RATE_LIMIT_SENSITIVE_WRITES", 60, 1, 1_000_000),
    trustProxy: boolVar(env, "TRUST_PROXY", false),
  };
}

function corsOrigins(env: Env): string[] {
  const origins = (env.CORS_ORIGINS ?? "").split(",").map((value) => value.trim()).filter(Boolean);
  for (const origin of origins) {
    if (origin === "*") continue;
    const url = parseUrl(origin, `CORS_ORIGINS: "${origin}" is not an origin like https://app.example.com`);
    if (url.origin !== origin) throw new ConfigError(`CORS_ORIGINS: "${origin}" must be a bare origin (scheme://host[:port], no path or trailing slash), e.g. ${url.origin}`);
  }
  if (origins.includes("*") && origins.length > 1) throw new ConfigError('CORS_ORIGINS: "*" can\'t be combined with other origins');
  return origins;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function intVar(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function boolVar(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if (["1", "true", "yes", "on"].includes(raw)) return true;
  if (["0", "false", "no", "off"].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false (1/0, yes/no), got "${env[name]}"`);
}

function introspectionVar(env: Env, production: boolean): Config["introspection"] {
  const raw = env.INTROSPECTION?.trim().toLowerCase() || (production ? "authenticated" : "true");
  if (raw !== "true" && raw !== "false" && raw !== "authenticated") {
    throw new ConfigError(`INTROSPECTION must be true, false or authenticated, got "${env.INTROSPECTION}"`);
  }
  return raw;
}

/** Settings that are valid but probably not meant, for main.ts to log at start. */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.nodeEnv === "production" && config.metrics.enabled && config.metrics.port === null) {
    warnings.push("/metrics is served publicly on the API port: set METRICS_PORT (and METRICS_HOST) to serve it privately, or METRICS=false");
  }
  return warnings;
}

const LOG_LEVELS: LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = env.NODE_ENV?.trim() || "development";
  const production = nodeEnv === "production";

  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl !== undefined) {
    const url = parseUrl(databaseUrl, "DATABASE_URL is not a valid URL (expected postgresql://user:password@host:5432/database)");
    if (url.protocol !== "postgresql:" && url.protocol !== "postgres:") {
      throw new ConfigError(`DATABASE_URL must start with postgresql:// (got ${url.protocol}//)`);
    }
  }

  const logLevel = (env.LOG_LEVEL?.trim().toLowerCase() || (env.VITEST ? "silent" : "info")) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got "${env.LOG_LEVEL}"`);
  }

  const maxPageSize = intVar(env, "MAX_PAGE_SIZE", 100, 1, 10_000);
  const defaultPageSize = intVar(env, "DEFAULT_PAGE_SIZE", 20, 1, 10_000);
  if (defaultPageSize > maxPageSize) {
    throw new ConfigError(`DEFAULT_PAGE_SIZE (${defaultPageSize}) can't be larger than MAX_PAGE_SIZE (${maxPageSize})`);
  }

  return {
    nodeEnv,
    host: env.HOST?.trim() || "0.0.0.0",
    port: intVar(env, "PORT", 4000, 0, 65_535),
    databaseUrl,
    dataDir: path.resolve(env.DATA_DIR?.trim() || ".data"),
    databasePoolSize: intVar(env, "DATABASE_POOL_SIZE", 10, 1, 1_000),
    migrateOnStart: databaseUrl === undefined ? true : boolVar(env, "MIGRATE_ON_START", false),
    seedDemo: boolVar(env, "SEED_DEMO", databaseUrl === undefined),
    logLevel,
    graphiql: boolVar(env, "GRAPHIQL", !production),
    shutdownTimeoutMs: intVar(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    maxPageSize,
    defaultPageSize,
    maxNodes: intVar(env, "MAX_NODES", 100, 1, 10_000),
    eventRetentionDays: intVar(env, "EVENT_RETENTION_DAYS", 30, 1, 36_500),
    subscriptionsPerUser: intVar(env, "SUBSCRIPTIONS_PER_USER", 20, 1, 10_000),
    subscriptionBuffer: intVar(env, "SUBSCRIPTION_BUFFER", 1_000, 1, 1_000_000),
    introspection: introspectionVar(env, production),
    sqlStatementsHeader: boolVar(env, "SQL_STATEMENTS_HEADER", false),
    restProfiles: restProfilesVar(env),
    traceSql: boolVar(env, "TRACE_SQL", false) ? { width: intVar(env, "TRACE_SQL_WIDTH", 400, 40, 100_000) } : null,
    jwt: jwtConfig(env),
    rateLimits: rateLimitConfig(env),
    trustedDocuments: trustedDocumentsConfig(env),
    limits: {
      maxDepth: intVar(env, "GRAPHQL_MAX_DEPTH", 12, 1, 1000),
      maxAliases: intVar(env, "GRAPHQL_MAX_ALIASES", 30, 0, 10_000),
      maxTokens: intVar(env, "GRAPHQL_MAX_TOKENS", 4000, 10, 1_000_000),
      maxDirectives: intVar(env, "GRAPHQL_MAX_DIRECTIVES", 20, 0, 10_000),
      maxCost: intVar(env, "GRAPHQL_MAX_COST", 300_000, 1, 1_000_000_000),
      maxBodyBytes: intVar(env, "MAX_BODY_BYTES", 1_000_000, 1_000, 100_000_000),
      maxBatch: intVar(env, "GRAPHQL_MAX_BATCH", 0, 0, 100),
      statementTimeoutMs: intVar(env, "STATEMENT_TIMEOUT_MS", 5_000, 0, 3_600_000),
      requestTimeoutMs: intVar(env, "REQUEST_TIMEOUT_MS", 15_000, 0, 3_600_000),
      heavyQueryFields: intVar(env, "HEAVY_QUERY_FIELDS", 10_000, 1, 1_000_000_000),
      heavyQueryConcurrency: intVar(env, "HEAVY_QUERY_CONCURRENCY", 2, 0, 1_000),
    },
    corsOrigins: corsOrigins(env),
    databaseConnectTimeoutMs: intVar(env, "DATABASE_CONNECT_TIMEOUT_MS", 1_500, 100, 600_000),
    metrics: {
      enabled: boolVar(env, "METRICS", true),
      port: env.METRICS_PORT?.trim() ? intVar(env, "METRICS_PORT", 0, 0, 65_535) : null,
      host: env.METRICS_HOST?.trim() || env.HOST?.trim() || "0.0.0.0",
    },
    tracing: tracingConfig(env),
    webhooks: webhookConfig(env),
  };
}

/** REST_PROFILES: unset or "all" for every profile, "none" for none, else names (checked against the profiles at start). */
function restProfilesVar(env: Env): string[] | null {
  const raw = env.REST_PROFILES?.trim().toLowerCase();
  if (!raw || raw === "all") return null;
  if (raw === "none") return [];
  return raw.split(",").map((name) => name.trim()).filter(Boolean);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "0", "500ms", "5s", "5m", "2h", "5d" in milliseconds. */
function duration(name: string, raw: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!match) throw new ConfigError(`${name}: "${raw}" is not a duration like 500ms, 5s, 5m, 2h or 5d`);
  const value = Number(match[1]) * DURATION_UNITS[match[2] ?? "ms"]!;
  if (value > 30 * 86_400_000) throw new ConfigError(`${name}: "${raw}" is longer than 30 days`);
  return value;
}

/**
 * A list of hosts, each "host" (any port) or "host:port", spelled as URLs spell them (lower case,
 * an IDN in punycode, an IPv6 address in brackets, no trailing dot), so they compare with a URL's.
 */
const hostList = (env: Env, name: string) =>
  (env[name] ?? "")
    .split(",")
    .map((value) => value.trim())
    .filter(Boolean)
    .map((raw) => {
      if (raw.includes("*")) throw new ConfigError(`${name}: "${raw}" — wildcards are not supported: list each host`);
      // A bare IPv6 address (two or more colons) is a host without a port.
      const entry = /^[0-9a-f]*:[0-9a-f]*:[0-9a-f:.]*$/i.test(raw) ? `[${raw}]` : raw;
      const match = /^(\[[0-9a-f:.]+\]|[^:/?#@\s]+)(?::(\d{1,5}))?$/i.exec(entry);
      let host: string | null = null;
      try {
        host = match ? new URL(`http://${match[1]}/`).hostname.replace(/\.$/, "") : null;
      } catch {
        host = null;
      }
      const port = match?.[2] === undefined ? null : Number(match[2]);
      if (!host || (port !== null && (port < 1 || port > 65_535))) throw new ConfigError(`${name}: "${raw}" is not a host or host:port`);
      return port === null ? host : `${host}:${port}`;
    });

/** Standard Webhooks' schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
const DEFAULT_RETRY_SCHEDULE = "0,5s,5m,30m,2h,5h,10h,10h";

function webhookConfig(env: Env): WebhookConfig {
  const schedule = (env.WEBHOOK_RETRY_SCHEDULE?.trim() || DEFAULT_RETRY_SCHEDULE).split(",").map((item) => duration("WEBHOOK_RETRY_SCHEDULE", item));
  if (schedule.length > 20) throw new ConfigError("WEBHOOK_RETRY_SCHEDULE: at most 20 attempts");
  if (schedule[0] !== 0) throw new ConfigError("WEBHOOK_RETRY_SCHEDULE: the first attempt is made at once, so the schedule starts with 0 (e.g. 0,5s,5m)");
  const secretKeys = (env.WEBHOOK_SECRET_KEY ?? "").split(",").map((value) => value.trim()).filter(Boolean).map((value) => {
    const key = Buffer.from(value, "base64");
    if (key.length !== 32 || key.toString("base64") !== value) {
      throw new ConfigError("WEBHOOK_SECRET_KEY must be the base64 of 32 random bytes (e.g. `openssl rand -base64 32`); several, comma-separated, when rotating (the first encrypts)");
    }
    return key;
  });
  return {
    worker: boolVar(env, "WEBHOOK_WORKER", true),
    allowHttpHosts: hostList(env, "WEBHOOK_ALLOW_HTTP_HOSTS"),
    allowPrivateHosts: hostList(env, "WEBHOOK_ALLOW_PRIVATE_HOSTS"),
    retrySchedule: schedule,
    disableAfterMs: duration("WEBHOOK_DISABLE_AFTER", env.WEBHOOK_DISABLE_AFTER?.trim() || "5d"),
    timeoutMs: intVar(env, "WEBHOOK_TIMEOUT_MS", 10_000, 100, 60_000),
    secretKeys,
    concurrency: intVar(env, "WEBHOOK_CONCURRENCY", 4, 1, 100),
    pollMs: intVar(env, "WEBHOOK_POLL_MS", 1_000, 50, 60_000),
  };
}

/** The URL, or a ConfigError with `message` when it isn't one. */
function parseUrl(raw: string, message: string): URL {
  try {
    return new URL(raw);
  } catch {
    throw new ConfigError(message);
  }
}

function urlVar(env: Env, name: string): string | null {
  const raw = env[name]?.trim();
  if (!raw) return null;
  const url = parseUrl(raw, `${name} is not a valid URL: "${raw}" (expected e.g. http://otel-collector:4318)`);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError(`${name} must be an http:// or https:// URL (OTLP over HTTP)`);
  return raw;
}

function tracingConfig(env: Env): TracingConfig {
  const endpoint = urlVar(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  const tracesUrl = urlVar(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const disabled = boolVar(env, "OTEL_SDK_DISABLED", false);
  return {
    tracesUrl: disabled ? null : (tracesUrl ?? (endpoint ? `${endpoint.replace(/\/+$/, "")}/v1/traces` : null)),
    serviceName: env.OTEL_SERVICE_NAME?.trim() || "membership-graph",
  };
}
