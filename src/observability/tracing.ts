// OpenTelemetry tracing, off unless OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is
// set: one trace per request, with spans for HTTP, GraphQL parse / validate / execute, the
// resolvers that can do I/O (Pothos tracing plugin) and Prisma's SQL (@prisma/instrumentation).
import { createRequire } from "node:module";
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from "@opentelemetry/api";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Plugin } from "graphql-yoga";
import type { TracingConfig } from "../config.js";
import { factsOf } from "./request-facts.js";

// The SDK, the OTLP exporter and Prisma's instrumentation load only when tracing starts; without
// a collector only @opentelemetry/api (no-op spans) is in memory. require, not import(), keeps
// startTracing synchronous, so it is on before the database opens (these packages are CommonJS).
const require = createRequire(import.meta.url);

const TRACER_NAME = "membership-graph";
export const tracer = trace.getTracer(TRACER_NAME);

let active = false;

/** Whether spans are recorded (resolver wrappers skip their work when not). */
export function tracingActive(): boolean {
  return active;
}

export interface Tracing {
  /** Sends the spans still buffered, then stops. */
  shutdown(): Promise<void>;
}

/**
 * Starts tracing for this process when configured (or with `exporter`, for tests); null when off.
 * The provider is global (OpenTelemetry's model): call once per process.
 */
export function startTracing(config: TracingConfig, options: { exporter?: SpanExporter } = {}): Tracing | null {
  if (!config.tracesUrl && !options.exporter) return null;
  const { BatchSpanProcessor, SimpleSpanProcessor } = require("@opentelemetry/sdk-trace-base") as typeof import("@opentelemetry/sdk-trace-base");
  const { NodeTracerProvider } = require("@opentelemetry/sdk-trace-node") as typeof import("@opentelemetry/sdk-trace-node");
  const { resourceFromAttributes } = require("@opentelemetry/resources") as typeof import("@opentelemetry/resources");
  const { PrismaInstrumentation, registerInstrumentations } = require("@prisma/instrumentation") as typeof import("@prisma/instrumentation");
  const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-http") as typeof import("@opentelemetry/exporter-trace-otlp-http");
  const processor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(new OTLPTraceExporter({ url: config.tracesUrl! }));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": config.serviceName }),
    spanProcessors: [processor],
  });
  // AsyncLocalStorage context (a span stays current across awaits) and W3C traceparent propagation.
  provider.register();
  const unregister = registerInstrumentations({ tracerProvider: provider, instrumentations: [new PrismaInstrumentation()] });
  active = true;
  return {
    async shutdown() {
      active = false;
      unregister();
      await provider.shutdown();
    },
  };
}

/** Runs `wrapped` inside a child span of the current one, ending it when `wrapped` settles. */
function inSpan<T>(name: string, attributes: Attributes, wrapped: () => T): T {
  const span = tracer.startSpan(name, { attributes });
  const end = (error?: unknown) => {
    // The error's kind only: a parse error's message quotes the document (and whatever secret
    // a caller typed into it).
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.name ?? "Error" });
    span.end();
  };
  return context.with(trace.setSpan(context.active(), span), () => {
    try {
      const result: unknown = wrapped();
      if (result instanceof Promise) {
        return result.then(
          (value) => (end(), value),
          (error: unknown) => {
            end(error);
            throw error;
          },
        ) as T;
      }
      end();
      return result as T;
    } catch (error) {
      end(error);
      throw error;
    }
  });
}

const headerGetter = {
  keys: (headers: Headers) => [...headers.keys()],
  get: (headers: Headers, key: string) => headers.get(key) ?? undefined,
};

/**
 * The Yoga side: a SERVER span per request (continuing the caller's traceparent), with the
 * GraphQL phases as children. Only what identifies the request goes on spans: never variables,
 * headers or results.
 */
export function tracingPlugin(): Plugin {
  const spans = new WeakMap<Request, Span>();
  return {
    instrumentation: {
      request({ request }, wrapped) {
        if (!active) return wrapped();
        const url = new URL(request.url);
        const parent = propagation.extract(context.active(), request.headers, headerGetter);
        const span = tracer.startSpan(
          `${request.method} ${url.pathname}`,
          { kind: SpanKind.SERVER, attributes: { "http.request.method": request.method, "url.path": url.pathname } },
          parent,
        );
        spans.set(request, span);
        return context.with(trace.setSpan(parent, span), async () => {
          try {
            await wrapped();
          } catch (error) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.name ?? "Error" });
            throw error;
          } finally {
            span.end();
          }
        });
      },
      parse: (_payload, wrapped) => (active ? inSpan("graphql.parse", {}, wrapped) : wrapped()),
      validate: (_payload, wrapped) => (active ? inSpan("graphql.validate", {}, wrapped) : wrapped()),
      context: (_payload, wrapped) => (active ? inSpan("graphql.context", {}, wrapped) : wrapped()),
      execute: ({ context: graphqlContext }, wrapped) => {
        if (!active) return wrapped();
        const request = (graphqlContext as { request?: Request }).request;
        const facts = request ? factsOf(request) : undefined;
        return inSpan("graphql.execute", { "graphql.operation.name": facts?.operationName ?? "unknown" }, wrapped);
      },
    },
    onExecute({ args }) {
      const request = (args.contextValue as { request?: Request }).request;
      const span = request && spans.get(request);
      if (!span) return;
      const facts = factsOf(request);
      span.updateName(`${request.method} /graphql ${facts.operationType ?? "operation"} ${facts.operationName ?? ""}`.trim());
      span.setAttributes({
        "graphql.operation.name": facts.operationName ?? "unknown",
        "graphql.operation.type": facts.operationType ?? "unknown",
        ...(facts.viewerId ? { "enduser.id": facts.viewerId } : {}),
      });
    },
    onResponse({ request, response }) {
      const span = spans.get(request);
      if (!span) return;
      const facts = factsOf(request);
      span.setAttribute("http.response.status_code", response.status);
      if (facts.requestId) span.setAttribute("request.id", facts.requestId);
      if (facts.errorCodes.length > 0) span.setAttribute("graphql.error.codes", facts.errorCodes);
      if (response.status >= 500 || facts.errorCodes.includes("INTERNAL_SERVER_ERROR")) span.setStatus({ code: SpanStatusCode.ERROR });
    },
  };
}
