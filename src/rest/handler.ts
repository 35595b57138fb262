// The REST router: requests under /compat/<profile>/ are matched against the profile's route
// table, their path, query and JSON body validated against the route's schemas (unknown fields,
// wrong types, malformed JSON: 400; a body over MAX_BODY_BYTES: 413), and the route's GraphQL
// documents run through the same Yoga instance, with the caller's headers, as a request to
// /graphql would: authentication, rules, rate limits, limits, audit, metrics, tracing and logs
// all apply unchanged. GraphQL errors become HTTP statuses and { error: { code, message, field } }.
// /compat/<profile>/openapi.json is the profile's OpenAPI 3.1 document, /compat/<profile>/docs its reference page.
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { Plugin } from "graphql-yoga";
import { openApiDocument } from "./openapi.js";
import { ASSET_PATH, referenceAsset, referencePage, referenceScript } from "./reference-page.js";
import type { Logger } from "../logger.js";
import { RestError, type Document, type Json, type Profile, type Route, type Run, type Schema } from "./route.js";

/** Runs a GraphQL request (documentId or query) as Yoga would answer it at /graphql. */
type GraphQLFetch = (request: Request, serverContext: Record<string, unknown>) => Promise<Response>;

export interface RestOptions {
  profiles: Profile[];
  /** The Yoga instance's fetch (set once it exists: the plugin is one of its own). */
  fetch: () => GraphQLFetch;
  maxBodyBytes: number;
  /** Send documentId (trusted documents on) or the document itself (off). */
  byDocumentId: boolean;
  logger: Logger;
  /** Told of each GraphQL request a route makes (their documents are trusted on those alone). */
  sent?: (request: Request) => void;
}

/** Every document the profiles run, by its SHA-256: trusted documents the server always knows. */
export function restDocuments(profiles: Profile[]): Map<string, string> {
  return new Map(profiles.flatMap((profile) => profile.routes.flatMap((route) => route.documents.map((document) => [document.id, document.source] as const))));
}

/** GraphQL error codes as HTTP statuses. */
const STATUS_OF: Record<string, number> = {
  BAD_USER_INPUT: 400,
  BAD_REQUEST: 400,
  GRAPHQL_VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  LAST_OWNER: 409,
  INVITATION_EXPIRED: 409,
  STALE_VERSION: 412,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 503,
};

const HEADERS_PASSED_ON = ["authorization", "x-forwarded-for", "x-request-id", "traceparent", "tracestate", "user-agent"];

interface CompiledRoute {
  route: Route;
  pattern: RegExp;
  names: string[];
  params: ValidateFunction;
  query: ValidateFunction;
  body: ValidateFunction | null;
}

const json = (body: Json, status: number, headers: Record<string, string> = {}) =>
  new Response(body === null ? null : JSON.stringify(body), { status, headers: { ...(body === null ? {} : { "content-type": "application/json; charset=utf-8" }), ...headers } });

const errorResponse = (error: RestError, requestId: string | null) =>
  json({ error: { code: error.code, message: error.message, field: error.field } }, error.status, { ...error.headers, ...(requestId ? { "x-request-id": requestId } : {}) });

/** The first schema violation as a 400: the field it is about (body fields as the API spells them) and what is wrong. */
function violation(where: "path" | "query" | "body", errors: ErrorObject[] | null | undefined): RestError {
  const error = errors?.[0];
  if (!error) return new RestError(400, "BAD_USER_INPUT", `The ${where} is not valid`);
  const path = error.instancePath.split("/").filter(Boolean);
  if (error.keyword === "additionalProperties") {
    const field = [...path, String(error.params.additionalProperty)].join(".");
    return new RestError(400, "BAD_USER_INPUT", `Unknown field "${field}"`, field);
  }
  if (error.keyword === "required") {
    const field = [...path, String(error.params.missingProperty)].join(".");
    return new RestError(400, "BAD_USER_INPUT", `${field} is required`, field);
  }
  const field = path.join(".") || null;
  return new RestError(400, "BAD_USER_INPUT", `${field ?? `the ${where}`} ${error.message ?? "is not valid"}`, field);
}

/** How deep a body's arrays and objects may nest (the GraphQL API takes metadata 10 deep; this only keeps parsing and walking bounded). */
const MAX_BODY_DEPTH = 64;

/** The bytes of the body, refused with 413 once past maxBytes however it is sent (a chunked body has no Content-Length). */
async function bodyText(request: Request, maxBytes: number): Promise<string> {
  const tooLarge = () => new RestError(413, "PAYLOAD_TOO_LARGE", `The body is over ${maxBytes} bytes (MAX_BODY_BYTES)`);
  if (Number(request.headers.get("content-length") ?? "0") > maxBytes) throw tooLarge();
  const reader = request.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Whether a JSON text nests arrays and objects deeper than `most` (counted outside strings, without parsing). */
function nestsDeeper(text: string, most: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") {
      if (++depth > most) return true;
    } else if (c === "}" || c === "]") depth--;
  }
  return false;
}

/** The JSON body: at most maxBytes, sent as application/json, nested at most MAX_BODY_DEPTH deep. */
async function readBody(request: Request, maxBytes: number): Promise<unknown> {
  const text = await bodyText(request, maxBytes);
  if (text.trim() === "") return undefined;
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) throw new RestError(415, "UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json");
  if (nestsDeeper(text, MAX_BODY_DEPTH)) throw new RestError(400, "BAD_USER_INPUT", `The body nests deeper than ${MAX_BODY_DEPTH} levels`);
  try {
    return JSON.parse(text);
  } catch {
    throw new RestError(400, "BAD_REQUEST", "The body is not valid JSON");
  }
}

export function restRoutes({ profiles, fetch, maxBodyBytes, byDocumentId, logger, sent = () => {} }: RestOptions): Plugin {
  const ajv = new Ajv2020({ allErrors: false, strict: false, coerceTypes: false });
  addFormats.default(ajv);
  const compiled = new Map<string, { profile: Profile; routes: CompiledRoute[]; openapi: string }>();
  for (const profile of profiles) {
    ajv.addSchema({ $id: `rest:${profile.name}`, $defs: profile.schemas });
    const local = (schema: Schema): Schema => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"rest:${profile.name}#/$defs/`));
    const routes = profile.routes.map((route): CompiledRoute => {
      const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);
      const pattern = new RegExp(`^${route.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{(\w+)\\?\}/g, "([^/]+)")}$`);
      const object = (properties: Record<string, Schema>, required: string[]): Schema => ({ type: "object", properties, required, additionalProperties: false });
      return {
        route,
        pattern,
        names,
        params: ajv.compile(local(object(route.params, Object.keys(route.params)))),
        query: ajv.compile(local(object(route.query ?? {}, route.requiredQuery ?? []))),
        body: route.body ? ajv.compile(local(route.body)) : null,
      };
    });
    compiled.set(profile.name, { profile, routes, openapi: JSON.stringify(openApiDocument(profile)) });
  }

  /** Runs one document through Yoga at /graphql with the caller's headers. */
  /** What the route's GraphQL requests tell the REST answer: their request id, and their SQL statements (SQL_STATEMENTS_HEADER). */
  interface Passed {
    value: string | null;
    statements: number | null;
  }
  const runner = (request: Request, serverContext: Record<string, unknown>, route: Route, passed: Passed): Run => async (document: Document, variables) => {
    if (!route.documents.includes(document)) throw new Error(`${route.operationId} runs a document it does not declare`);
    const headers = new Headers({ "content-type": "application/json", accept: "application/json" });
    for (const name of HEADERS_PASSED_ON) {
      const value = request.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    if (passed.value) headers.set("x-request-id", passed.value);
    const body = byDocumentId ? { documentId: `sha256:${document.id}`, variables } : { query: document.source, variables };
    const inner = new Request(new URL("/graphql", request.url), { method: "POST", headers, body: JSON.stringify(body) });
    sent(inner);
    const response = await fetch()(inner, serverContext);
    passed.value ??= response.headers.get("x-request-id");
    const statements = response.headers.get("x-sql-statements");
    if (statements !== null) passed.statements = (passed.statements ?? 0) + Number(statements);
    const result = (await response.json().catch(() => null)) as { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, any> }[] } | null;
    const error = result?.errors?.[0];
    if (error || !result?.data) {
      const code = String(error?.extensions?.code ?? "INTERNAL_SERVER_ERROR");
      const status = STATUS_OF[code] ?? (response.status >= 400 && response.status < 500 ? response.status : 500);
      if (status === 500 && code !== "INTERNAL_SERVER_ERROR") {
        // A code the routes don't expect (a limit their own documents exceed, with the limits set low): say which, in the log.
        logger.error({ route: route.operationId, code, requestId: passed.value }, "a REST route's GraphQL request failed with a code it has no status for");
      }
      const field = typeof error?.extensions?.field === "string" ? error.extensions.field.replace(/^input\./, "") : null;
      const retryAfter = error?.extensions?.retryAfterSeconds ?? response.headers.get("retry-after");
      const message = status === 500 ? "Internal server error" : (error?.message ?? "The request failed");
      // The input field as this API spells it: the whole path if the route names it, else each segment (locations.0.roleIds → locations.0.role).
      const spelled = field === null ? null : (route.fields?.[field] ?? field.split(".").map((segment) => route.fields?.[segment] ?? segment).join("."));
      throw new RestError(status, status === 500 ? "INTERNAL_SERVER_ERROR" : code, message, spelled, {
        ...(retryAfter !== null && retryAfter !== undefined ? { "retry-after": String(retryAfter) } : {}),
        ...(code === "UNAUTHENTICATED" ? { "www-authenticate": "Bearer" } : {}),
      });
    }
    return result.data;
  };

  return {
    async onRequest({ request, url, serverContext, endResponse }) {
      if (url.pathname.startsWith(ASSET_PATH) && request.method === "GET") {
        const asset = referenceAsset(url.pathname.slice(ASSET_PATH.length));
        if (asset) return endResponse(asset);
      }
      const match = /^\/compat\/([\w-]+)(\/.*)?$/.exec(url.pathname);
      if (!match) return;
      const entry = compiled.get(match[1]!);
      if (!entry) return;
      const rest = match[2] ?? "/";
      // The id the requestIds plugin gave this request (checked, or made): the inner requests carry it, so the log lines of all of them share it.
      const passed: Passed = { value: (serverContext as { requestId?: string }).requestId ?? null, statements: null };
      if (request.method === "GET") {
        if (rest === "/openapi.json") return endResponse(new Response(entry.openapi, { status: 200, headers: { "content-type": "application/json; charset=utf-8" } }));
        if (rest === "/docs") return endResponse(referencePage(entry.profile));
        if (rest === "/docs/init.js") return endResponse(referenceScript(entry.profile));
      }
      const candidates = entry.routes.map((compiledRoute) => ({ compiledRoute, found: compiledRoute.pattern.exec(rest) })).filter(({ found }) => found);
      const chosen = candidates.find(({ compiledRoute }) => compiledRoute.route.method === request.method);
      if (!chosen) {
        if (candidates.length === 0) return endResponse(errorResponse(new RestError(404, "ROUTE_NOT_FOUND", `No route ${request.method} ${url.pathname} (see /compat/${entry.profile.name}/openapi.json)`), passed.value));
        const allow = [...new Set(candidates.map(({ compiledRoute }) => compiledRoute.route.method))].join(", ");
        return endResponse(errorResponse(new RestError(405, "METHOD_NOT_ALLOWED", `${request.method} is not allowed on ${url.pathname}; allowed: ${allow}`, null, { allow }), passed.value));
      }
      const { compiledRoute, found } = chosen;
      const { route } = compiledRoute;
      try {
        const path = Object.fromEntries(
          compiledRoute.names.map((name, i) => {
            try {
              const value = decodeURIComponent(found![i + 1]!);
              // UUIDs in any case name the same row (the API's global IDs carry them lower case).
              return [name, route.params[name]?.format === "uuid" ? value.toLowerCase() : value];
            } catch {
              throw new RestError(400, "BAD_USER_INPUT", `${name} is not a valid path segment`, name);
            }
          }),
        );
        if (!compiledRoute.params(path)) throw violation("path", compiledRoute.params.errors);
        const query: Record<string, string | number> = {};
        for (const [name, value] of url.searchParams) {
          const schema = route.query?.[name];
          query[name] = schema && (schema.type === "integer" || schema.type === "number") && /^-?\d+$/.test(value) ? Number(value) : value;
        }
        if (!compiledRoute.query(query)) throw violation("query", compiledRoute.query.errors);
        let body: Record<string, unknown> = {};
        if (compiledRoute.body) {
          const parsed = await readBody(request, maxBodyBytes);
          if (parsed === undefined) throw new RestError(400, "BAD_REQUEST", "This route takes a JSON body");
          if (!compiledRoute.body(parsed)) throw violation("body", compiledRoute.body.errors);
          body = parsed as Record<string, unknown>;
        }
        const result = await route.handle({ path, query, body, headers: request.headers }, runner(request, serverContext, route, passed));
        const headers = {
          ...(result?.headers ?? {}),
          ...(passed.value ? { "x-request-id": passed.value } : {}),
          ...(passed.statements !== null ? { "x-sql-statements": String(passed.statements) } : {}),
        };
        return endResponse(json(route.status === 204 ? null : result.body, route.status, headers));
      } catch (error) {
        if (error instanceof RestError) return endResponse(errorResponse(error, passed.value));
        logger.error({ err: error, route: route.operationId, requestId: passed.value }, "a REST route failed unexpectedly");
        return endResponse(errorResponse(new RestError(500, "INTERNAL_SERVER_ERROR", "Internal server error"), passed.value));
      }
    },
  };
}
